"""Frames (`Workflow.groups`): made around a selection, dragged with their nodes, saved."""

from __future__ import annotations

import json

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from nopflow.model import load_workflow
from nopflow.model.workflow import Group

from .conftest import small_workflow
from .test_canvas import drag


def framed(window):  # type: ignore[no-untyped-def]
    """small_workflow with a frame around calc and out (start stays outside)."""
    window.set_workflow(small_workflow(), None)
    window.view.resetTransform()
    window.view.centerOn(400, 100)
    scene = window.scene
    scene.select_only([scene.nodes["calc"], scene.nodes["out"]])
    window.act_frame.trigger()
    (gid,) = window.doc.groups
    return gid


def title_pos(window, gid: str) -> QPoint:
    r = window.scene.groups[gid].frame_rect()
    return window.view.mapFromScene(QPointF(r.left() + 60, r.top() + 12))


def test_frame_selection_surrounds_the_nodes_and_is_saved(window, tmp_path):
    gid = framed(window)
    frame = window.scene.groups[gid].frame_rect()
    for nid in ("calc", "out"):
        assert frame.contains(window.scene.nodes[nid].sceneBoundingRect())
    assert not frame.intersects(window.scene.nodes["start"].sceneBoundingRect())
    assert window.undo.undoText() == "Add frame"
    path = tmp_path / "f.nopflow.json"
    window.path = str(path)
    assert window.save()
    data = json.loads(path.read_text())
    assert [g["title"] for g in data["groups"]] == ["Frame"]
    assert load_workflow(path).groups[0].rect == window.doc.groups[gid].rect
    window.undo.undo()
    assert not window.doc.groups and not window.scene.groups


def test_dragging_the_title_moves_the_frame_and_its_nodes(window):
    gid = framed(window)
    before = {n: window.doc.nodes[n].position for n in window.doc.nodes}
    rect0 = window.doc.groups[gid].rect
    window.scene.clearSelection()
    a = title_pos(window, gid)
    drag(window, a, a + QPoint(0, 150))
    dy = 150 / window.view.zoom()
    g = window.doc.groups[gid].rect
    assert abs(g[1] - (rect0[1] + dy)) < 1 and g[0] == rect0[0]
    for nid in ("calc", "out"):
        assert abs(window.doc.nodes[nid].position[1] - (before[nid][1] + dy)) < 1
    assert window.doc.nodes["start"].position == before["start"]  # outside: stays
    assert window.undo.undoText() == "Move 3 items"  # one step
    window.undo.undo()
    assert window.doc.groups[gid].rect == rect0
    assert {n: window.doc.nodes[n].position for n in window.doc.nodes} == before
    assert window.scene.groups[gid].pos() == QPointF(rect0[0], rect0[1])


def test_inside_a_frame_is_still_canvas(window):
    gid = framed(window)
    rect0 = window.doc.groups[gid].rect
    frame = window.scene.groups[gid].frame_rect()
    # empty area inside the frame, below the nodes: a rubber band, not a frame drag
    inner = window.view.mapFromScene(QPointF(frame.left() + 10, frame.bottom() - 8))
    drag(window, inner, inner + QPoint(40, -20))
    assert window.doc.groups[gid].rect == rect0


def test_rename_colour_and_delete_a_frame(window, qtbot):
    gid = framed(window)
    vp = window.view.viewport()
    QTest.mouseDClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      title_pos(window, gid))
    dlg = window.view.rename_dialog
    assert dlg is not None and dlg.isVisible() and dlg.textValue() == "Frame"
    dlg.setTextValue("Load and report")
    dlg.accept()
    assert window.doc.groups[gid].title == "Load and report"
    assert window.scene.groups[gid].title == "Load and report"
    menu = window.view.frame_menu(gid)
    colour = next(a for a in menu.actions() if a.text() == "Colour").menu()
    next(a for a in colour.actions() if a.text() == "Green").trigger()
    assert window.doc.groups[gid].color == "#3FA96B"
    next(a for a in menu.actions() if a.text() == "Delete Frame").trigger()
    assert not window.doc.groups and set(window.doc.nodes) == {"start", "calc", "out"}
    window.undo.undo()
    assert window.doc.groups[gid].color == "#3FA96B"


def test_selected_frame_deletes_with_the_delete_key_and_nodes_stay(window):
    gid = framed(window)
    window.scene.select_only([window.scene.groups[gid]])
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_Delete)
    assert not window.doc.groups and len(window.doc.nodes) == 3


def test_frames_in_an_opened_file_are_drawn(window, tmp_path):
    from nopflow.model import save_workflow

    wf = small_workflow().model_copy(update={"groups": [
        Group(id="g1", title="Inputs", rect=(-40, -60, 300, 200), color="#E5484D")]})
    path = tmp_path / "g.nopflow.json"
    save_workflow(wf, path)
    assert window.open_file(str(path), ask=False)
    item = window.scene.groups["g1"]
    assert item.title == "Inputs" and item.frame_rect().width() == 300
    assert window.scene.inside("g1") == (["start"], [])


def test_frames_do_not_move_during_a_run(window):
    gid = framed(window)
    rect0 = window.doc.groups[gid].rect
    window.live._set_busy(True)
    try:
        a = title_pos(window, gid)
        drag(window, a, a + QPoint(0, 100))
        assert window.doc.groups[gid].rect == rect0
        assert not window.act_frame.isEnabled()
    finally:
        window.live._set_busy(False)
