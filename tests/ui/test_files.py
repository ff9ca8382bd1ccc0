"""Files: save/open round trip, Save As suffix, unsaved prompt, bad files, autosave recovery."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from PySide6.QtCore import QPointF

from nopflow.model import dump_workflow, load_workflow
from nopflow.ui.autosave import autosave_path, find_recovery
from nopflow.ui.main_window import MainWindow

from .conftest import small_workflow


def test_save_then_open_gives_identical_workflow(window, tmp_path, dialog_log):
    window.set_workflow(small_workflow(), None)
    window.editor.add_block("delay", QPointF(100, 300))
    window.editor.add_note(QPointF(0, -200), "note")
    dialog_log.save_to = str(tmp_path / "flow")  # no suffix: Save As must add it
    # save_path in dialogs appends the suffix; the patched one returns it raw, so mimic:
    dialog_log.save_to += ".nopflow.json"
    assert window.save()
    path = tmp_path / "flow.nopflow.json"
    assert path.is_file() and window.path == str(path)
    assert not window.isWindowModified() and "flow.nopflow.json" in window.windowTitle()
    text = dump_workflow(window.doc.snapshot())
    assert path.read_text(encoding="utf-8") == text
    window.set_workflow(small_workflow(), None)
    assert window.open_file(str(path))
    assert dump_workflow(window.doc.snapshot()) == text
    assert window.recent_files()[0] == str(path)


def test_save_path_appends_suffix(monkeypatch, tmp_path):
    from PySide6.QtWidgets import QFileDialog

    from nopflow.ui import dialogs

    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(tmp_path / "report"), "")))
    assert dialogs.save_path(None, "x") == str(tmp_path / "report.nopflow.json")


def test_close_with_unsaved_changes_asks(window, dialog_log):
    window.editor.add_block("start", QPointF(0, 0))
    dialog_log.unsaved = "cancel"
    assert not window.close()
    assert dialog_log.kinds() == ["unsaved"] and window.isVisible()
    dialog_log.unsaved = "discard"
    assert window.close()
    assert dialog_log.kinds() == ["unsaved", "unsaved"]


def test_unsaved_save_answer_saves(window, dialog_log, tmp_path):
    window.editor.add_block("start", QPointF(0, 0))
    dialog_log.unsaved = "save"
    dialog_log.save_to = str(tmp_path / "a.nopflow.json")
    assert window.close()
    assert load_workflow(tmp_path / "a.nopflow.json").nodes[0].type == "start"


def test_bad_file_shows_error_and_keeps_running(window, dialog_log, tmp_path):
    bad = tmp_path / "bad.nopflow.json"
    bad.write_text('{"format": "nopflow/workflow", "version": 1, "nodes": [{"id": 5}]}')
    assert not window.open_file(str(bad))
    kinds = dialog_log.kinds()
    assert kinds == ["error"]
    _title, text = dialog_log.asked[0][1]
    assert "bad.nopflow.json" in text and "nodes" in text
    assert window.isVisible() and window.path is None


def test_autosave_recovery_after_crash(qtbot, dialog_log, tmp_workflow):
    win = MainWindow()
    qtbot.addWidget(win)
    assert win.open_file(str(tmp_workflow))
    win.editor.add_block("delay", QPointF(0, 300))
    copy = win.autosaver.save_now()
    win.autosaver.pool.waitForDone(5000)
    assert copy.is_file()
    edited = dump_workflow(win.doc.snapshot())
    os.utime(tmp_workflow, (time.time() - 60, time.time() - 60))
    # crash: the window goes away without a clean close (no shutdown, copy stays)
    win.undo.setClean()
    win.hide()
    assert find_recovery(str(tmp_workflow))[0] is not None

    dialog_log.recover = True
    win2 = MainWindow()
    qtbot.addWidget(win2)
    assert win2.open_file(str(tmp_workflow))
    assert dialog_log.kinds() == ["recover"]
    assert dump_workflow(win2.doc.snapshot()) == edited
    assert win2.isWindowModified()
    # a clean save removes the copy
    assert win2.save()
    assert not copy.exists()
    assert win2.close()


def test_declining_recovery_removes_copy(qtbot, dialog_log, tmp_workflow):
    win = MainWindow()
    qtbot.addWidget(win)
    win.open_file(str(tmp_workflow))
    win.editor.add_block("delay", QPointF(0, 300))
    copy = win.autosaver.save_now()
    win.autosaver.pool.waitForDone(5000)
    os.utime(tmp_workflow, (time.time() - 60, time.time() - 60))
    win.undo.setClean()
    dialog_log.recover = False
    win2 = MainWindow()
    qtbot.addWidget(win2)
    assert win2.open_file(str(tmp_workflow))
    assert dialog_log.kinds() == ["recover"]
    assert not copy.exists()
    assert [n.id for n in win2.doc.nodes.values()] == ["start", "calc", "out"]


def test_untitled_work_is_recovered_at_start(qtbot, dialog_log):
    from nopflow.ui.app import open_window

    win = MainWindow()
    qtbot.addWidget(win)
    win.editor.add_block("python", QPointF(0, 0))
    win.autosaver.save_now()
    win.autosaver.pool.waitForDone(5000)
    win.undo.setClean()
    dialog_log.recover = True
    win2 = open_window(None)
    qtbot.addWidget(win2)
    assert [n.type for n in win2.doc.nodes.values()] == ["python"]
    win2._recovered = False


def test_clean_close_removes_autosave(window, dialog_log, tmp_path):
    window.editor.add_block("start", QPointF(0, 0))
    path = window.autosaver.save_now()
    window.autosaver.pool.waitForDone(5000)
    assert path.is_file()
    data = json.loads(path.read_text())
    assert data["format"] == "nopflow/autosave" and data["workflow"]["nodes"]
    assert path == autosave_path(None, window.doc.header.id)
    dialog_log.unsaved = "discard"
    assert window.close()
    assert not path.exists()


def test_autosave_is_debounced_after_a_change(window, qtbot):
    window.autosaver._timer.setInterval(50)
    window.editor.add_block("start", QPointF(0, 0))
    qtbot.waitUntil(lambda: window.autosaver.path is not None and window.autosaver.path.exists(),
                    timeout=3000)


def test_window_layout_is_remembered(qtbot, dialog_log):
    from nopflow.storage.locations import config_dir

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    win.resize(760, 520)  # fits the offscreen screen (800x600)
    win.log_dock.hide()
    assert win.close()
    assert (config_dir() / "nopflow.ini").is_file()
    assert str(config_dir()).startswith(os.environ["NOPFLOW_CONFIG_DIR"])
    win2 = MainWindow()
    qtbot.addWidget(win2)
    assert win2.size().width() == 760 and not win2.log_dock.isVisibleTo(win2)


def test_open_window_with_file_argument(qtbot, dialog_log, tmp_workflow):
    from nopflow.ui.app import open_window

    win = open_window(str(tmp_workflow))
    qtbot.addWidget(win)
    assert win.path == str(Path(tmp_workflow).resolve())
    assert set(win.scene.nodes) == {"start", "calc", "out"}


def test_save_as_gives_the_copy_its_own_workflow_id(window, dialog_log, tmp_workflow):
    from nopflow.model import load_workflow

    assert window.open_file(str(tmp_workflow))
    original = window.doc.header.id
    assert window.save()  # plain Save keeps the id
    assert load_workflow(tmp_workflow).id == original
    copy = tmp_workflow.with_name("copy.nopflow.json")
    dialog_log.save_to = str(copy)
    assert window.save_as()
    assert window.path == str(copy) and not window.isWindowModified()
    new = load_workflow(copy).id
    assert new != original and window.doc.header.id == new
    assert load_workflow(tmp_workflow).id == original  # the original file is untouched
    window.undo.undo()  # nothing to undo: the new id is not an edit
    assert window.doc.header.id == new and window.undo.count() == 0
    dialog_log.save_to = str(copy)  # Save As onto itself is not a copy
    assert window.save_as()
    assert load_workflow(copy).id == new
