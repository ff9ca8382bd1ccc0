"""Sticky notes resize from a corner grip: live preview, one undo step, saved, minimum size."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from nopflow.model import load_workflow
from nopflow.ui.items.note_item import MIN_NOTE_H, MIN_NOTE_W

from .conftest import scene_to_view
from .test_canvas import drag


def _note(win) -> str:
    win.view.resetTransform()
    win.view.centerOn(200, 150)
    nid = win.editor.add_note(QPointF(0, 0), "resize me")
    win.scene.select_only([])
    return nid


def _grip(win, nid: str) -> QPoint:
    w, h = win.doc.notes[nid].size
    x, y = win.doc.notes[nid].position
    return scene_to_view(win, x + w - 5, y + h - 5)


def test_drag_grip_resizes_note_in_one_undo_step_and_saves(window, tmp_path, dialog_log):
    window.scene.snap_to_grid = False
    nid = _note(window)
    assert tuple(window.doc.notes[nid].size) == (200.0, 120.0)
    pos_before = window.doc.notes[nid].position
    count = window.undo.count()
    a = _grip(window, nid)
    drag(window, a, a + QPoint(100, 60))
    assert tuple(window.doc.notes[nid].size) == (300.0, 180.0)
    assert window.doc.notes[nid].position == pos_before  # resized, not moved
    assert window.undo.count() == count + 1 and window.undo.undoText() == "Resize note"
    assert window.scene.notes[nid].size().width() == 300
    # a second resize is its own undo step
    a = _grip(window, nid)
    drag(window, a, a + QPoint(-50, 0))
    assert tuple(window.doc.notes[nid].size) == (250.0, 180.0)
    window.undo.undo()
    assert tuple(window.doc.notes[nid].size) == (300.0, 180.0)
    assert window.scene.notes[nid].size().width() == 300
    path = tmp_path / "n.nopflow.json"
    dialog_log.save_to = str(path)
    assert window.save_as()
    assert [tuple(n.size) for n in load_workflow(path).notes] == [(300.0, 180.0)]


def test_resize_is_clamped_to_a_minimum_and_esc_cancels(window):
    nid = _note(window)
    a = _grip(window, nid)
    drag(window, a, a - QPoint(400, 400))
    assert tuple(window.doc.notes[nid].size) == (MIN_NOTE_W, MIN_NOTE_H)
    window.undo.undo()
    vp = window.view.viewport()
    a = _grip(window, nid)
    window.view.setFocus()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    QTest.mouseMove(vp, a + QPoint(150, 150))
    assert window.scene.notes[nid].size().width() > 300  # live preview
    QTest.keyClick(window.view, Qt.Key.Key_Escape)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       a + QPoint(150, 150))
    assert tuple(window.doc.notes[nid].size) == (200.0, 120.0)
    assert window.scene.notes[nid].size().width() == 200


def test_dragging_the_note_body_still_moves_it(window):
    nid = _note(window)
    a = scene_to_view(window, 40, 40)
    drag(window, a, a + QPoint(100, 0))
    assert window.doc.notes[nid].position[0] > 50
    assert tuple(window.doc.notes[nid].size) == (200.0, 120.0)
