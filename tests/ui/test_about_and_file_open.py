"""Help → About shows the facts a bug report needs; files handed over by the OS open."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QLabel

from nopflow import __version__
from nopflow.model import Node, Workflow, save_workflow
from nopflow.storage.locations import data_dir
from nopflow.ui.about_dialog import AboutDialog
from nopflow.ui.app import FileOpenHandler, make_app


def test_about_lists_versions_data_dir_and_licences(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    window.act_about.trigger()
    dialog = window.about_dialog
    assert isinstance(dialog, AboutDialog) and dialog.isVisible()
    labels = " ".join(w.text() for w in dialog.findChildren(QLabel))
    assert f"nopflow {__version__}" in labels and "PySide6" in labels
    assert "Data folder" in labels and str(data_dir()) in labels
    qtbot.waitUntil(lambda: dialog.loaded, timeout=10_000)  # read on a worker thread
    names = {dialog.components.topLevelItem(i).text(0).lower()
             for i in range(dialog.components.topLevelItemCount())}
    assert {"python", "pydantic", "networkx"} <= names
    assert any(n.startswith("pyside6") for n in names)
    dialog.components.setCurrentItem(dialog.components.topLevelItem(0))
    assert dialog.licence.toPlainText()
    dialog.reject()


def test_os_file_open_event_opens_the_workflow(window, qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    assert app.findChild(FileOpenHandler) is not None
    path = tmp_path / "double-clicked.nopflow.json"
    save_workflow(Workflow(name="From Finder", nodes=[Node(id="s", type="start")]), path)
    QCoreApplication.sendEvent(app, QFileOpenEvent(str(path)))
    qtbot.waitUntil(lambda: window.doc.header.name == "From Finder", timeout=5000)
    assert window.path == str(path)
