"""Copy/cut/paste/duplicate through the system clipboard as JSON."""

from __future__ import annotations

import json

from PySide6.QtGui import QGuiApplication

from nopflow.ui import clipboard

from .conftest import small_workflow


def select(win, *ids: str) -> None:
    win.scene.select_only([win.scene.nodes[i] for i in ids])


def test_copy_paste_gives_new_ids_and_keeps_inner_edges(window):
    window.set_workflow(small_workflow(), None)
    select(window, "start", "calc")
    assert clipboard.copy_selection(window.editor) == 2
    data = json.loads(QGuiApplication.clipboard().text())
    assert data["format"] == "nopflow/fragment" and len(data["edges"]) == 1
    new = clipboard.paste(window.editor)
    assert len(new) == 2 and not set(new) & {"start", "calc", "out"}
    inner = [e for e in window.doc.edges.values() if e.source in new]
    assert len(inner) == 1 and inner[0].target in new
    assert len(window.doc.edges) == 3  # the edge to 'out' was not copied
    assert window.scene.selected_ids()[0] == new
    orig = window.doc.nodes["calc"]
    copy = window.doc.nodes[inner[0].target]
    assert copy.config == orig.config and copy.position != orig.position
    window.undo.undo()
    assert set(window.doc.nodes) == {"start", "calc", "out"}


def test_paste_works_across_windows(window, qtbot):
    from nopflow.ui.main_window import MainWindow

    window.set_workflow(small_workflow(), None)
    select(window, "calc")
    clipboard.copy_selection(window.editor)
    other = MainWindow()
    qtbot.addWidget(other)
    assert clipboard.paste(other.editor) == ["calc"]  # free id there, kept
    other.undo.setClean()


def test_cut_and_duplicate(window):
    window.set_workflow(small_workflow(), None)
    select(window, "out")
    assert clipboard.cut_selection(window.editor) == 1
    assert "out" not in window.doc.nodes
    select(window, "calc")
    dup = clipboard.duplicate_selection(window.editor)
    assert len(dup) == 1 and window.doc.nodes[dup[0]].type == "python"


def test_paste_of_foreign_text_is_harmless(window):
    QGuiApplication.clipboard().setText("not json at all")
    assert clipboard.paste(window.editor) == []
    assert window.undo.count() == 0
