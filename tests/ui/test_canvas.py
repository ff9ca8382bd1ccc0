"""Canvas gestures through the real view: drops, links, refusals, quick-add, splice."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest

from nopflow.ui.items.port_item import HEADER_H, NODE_WIDTH, PortRef
from nopflow.ui.palette import block_mime

from .conftest import port_view_pos, scene_to_view, small_workflow


def drop_block(win, block_type: str, view_pos: QPoint) -> None:
    """Deliver a palette drop to the real view's drag handlers (what QDrag would end with).

    Qt only routes Drop events through QApplication while a system drag runs, which an
    offscreen test cannot start; so the events go straight to the view's handlers.
    """
    mime = block_mime(block_type)
    enter = QDragEnterEvent(view_pos, Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    win.view.dragEnterEvent(enter)
    assert enter.isAccepted()
    ev = QDropEvent(QPointF(view_pos), Qt.DropAction.CopyAction, mime,
                    Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    win.view.dropEvent(ev)
    assert ev.isAccepted()


def drag(win, a: QPoint, b: QPoint, steps: int = 6) -> None:
    """Press at a, move in steps to b, release — real mouse events on the viewport."""
    vp = win.view.viewport()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for i in range(1, steps + 1):
        p = a + (b - a) * (i / steps)
        QTest.mouseMove(vp, p)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)


def test_palette_drop_places_node_at_drop_point(window):
    target = QPoint(400, 300)
    drop_block(window, "python", target)
    assert len(window.doc.nodes) == 1
    node = next(iter(window.doc.nodes.values()))
    assert node.type == "python"
    scene_pt = window.view.mapToScene(target)
    x, y = node.position
    assert abs(x + NODE_WIDTH / 2 - scene_pt.x()) < 1
    assert abs(y + HEADER_H / 2 - scene_pt.y()) < 1
    assert node.id in window.scene.nodes
    assert window.isWindowModified()


def test_drag_port_to_port_creates_edge(window):
    window.set_workflow(small_workflow().model_copy(update={"edges": []}), None)
    window.view.resetTransform()
    window.view.centerOn(300, 40)
    a = port_view_pos(window, "start", "out", "out")
    b = port_view_pos(window, "calc", "in", "in")
    drag(window, a, b)
    edges = list(window.doc.edges.values())
    assert [(e.source, e.source_port, e.target, e.target_port) for e in edges] == [
        ("start", "out", "calc", "in")
    ]
    assert edges[0].id in window.scene.edges


def test_drag_from_input_to_output_also_connects(window):
    window.set_workflow(small_workflow().model_copy(update={"edges": []}), None)
    window.view.resetTransform()
    window.view.centerOn(300, 40)
    drag(window, port_view_pos(window, "calc", "in", "in"),
         port_view_pos(window, "start", "out", "out"))
    assert [(e.source, e.target) for e in window.doc.edges.values()] == [("start", "calc")]


def test_invalid_connections_are_refused_with_a_message(window, qtbot):
    window.set_workflow(small_workflow(), None)
    window.view.resetTransform()
    window.view.centerOn(300, 40)
    messages: list[str] = []
    window.view.message.connect(messages.append)
    before = dict(window.doc.edges)
    drag(window, port_view_pos(window, "calc", "out", "out"),
         port_view_pos(window, "calc", "in", "in"))  # to itself
    drag(window, port_view_pos(window, "start", "out", "out"),
         port_view_pos(window, "calc", "out", "out"))  # output to output
    drag(window, port_view_pos(window, "start", "out", "out"),
         port_view_pos(window, "calc", "in", "in"))  # duplicate
    assert window.doc.edges == before
    assert any("itself" in m for m in messages)
    assert any("output to an output" in m or "same kind" in m for m in messages)
    assert any("already connected" in m for m in messages)


def test_cycle_is_refused(window):
    from nopflow.model import Node

    wf = small_workflow()
    wf = wf.model_copy(update={"nodes": [*wf.nodes, Node(id="d", type="delay",
                                                        position=(300, 300),
                                                        config={"seconds": 1})]})
    wf.edges.append(wf.edges[0].model_copy(update={"id": "e3", "source": "calc",
                                                   "target": "d"}))
    window.set_workflow(wf, None)
    problem = window.doc.connection_problem("d", "out", "calc", "in")
    assert problem and "cycle" in problem
    assert window.editor.connect(PortRef("d", "out", "out"), PortRef("calc", "in", "in")) is None
    assert len(window.doc.edges) == 3


def test_link_drag_marks_compatible_ports(window):
    window.set_workflow(small_workflow().model_copy(update={"edges": []}), None)
    window.view.resetTransform()
    window.view.centerOn(300, 40)
    vp = window.view.viewport()
    a = port_view_pos(window, "calc", "out", "out")
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    QTest.mouseMove(vp, a + QPoint(40, 40))
    assert window.scene.nodes["out"].port_marks[("in", "in")] is True
    assert window.scene.nodes["calc"].port_marks[("in", "in")] is False  # itself
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       port_view_pos(window, "out", "in", "in"))
    assert all(not item.port_marks for item in window.scene.nodes.values())
    assert len(window.doc.edges) == 1


def test_drag_move_is_one_undo_step(window):
    window.set_workflow(small_workflow(), None)
    window.view.resetTransform()
    window.view.centerOn(300, 40)
    start = scene_to_view(window, 300 + 100, 20)  # calc's header
    drag(window, start, start + QPoint(50, 80), steps=10)
    assert window.undo.count() == 1
    x, y = window.doc.nodes["calc"].position
    assert (round(x), round(y)) == (350, 80)
    edge_item = window.scene.edges["e1"]
    assert edge_item.path().pointAtPercent(1.0) == window.scene.nodes["calc"].port_scene_pos(
        "in", "in")
    window.undo.undo()
    assert window.doc.nodes["calc"].position == (300, 0)
    assert window.scene.nodes["calc"].pos() == QPointF(300, 0)


def test_rubber_band_and_ctrl_click_selection(window):
    window.set_workflow(small_workflow(), None)
    window.view.resetTransform()
    window.view.centerOn(300, 40)
    drag(window, scene_to_view(window, -50, -60), scene_to_view(window, 520, 150))
    nodes, edges, _ = window.scene.selected_ids()
    assert nodes == ["start", "calc"] and edges == ["e1"]
    vp = window.view.viewport()
    QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                     scene_to_view(window, 700, 20))
    assert window.scene.selected_ids()[0] == ["start", "calc", "out"]
    QTest.keyClick(window.view, Qt.Key.Key_Delete)
    assert not window.doc.nodes and not window.doc.edges
    window.undo.undo()
    assert list(window.doc.nodes) == ["start", "calc", "out"] and len(window.doc.edges) == 2


def test_drop_on_edge_splices_block_in(window):
    window.set_workflow(small_workflow(), None)
    window.view.resetTransform()
    window.view.centerOn(300, 40)
    edge = window.scene.edges["e1"]
    mid = edge.path().pointAtPercent(0.5)
    drop_block(window, "delay", window.view.mapFromScene(mid))
    assert "e1" not in window.doc.edges
    pairs = {(e.source, e.target) for e in window.doc.edges.values()}
    assert ("start", "delay") in pairs and ("delay", "calc") in pairs
    window.undo.undo()
    assert "e1" in window.doc.edges and "delay" not in window.doc.nodes


def test_quick_add_from_dragged_link_places_and_connects(window, qtbot):
    window.set_workflow(small_workflow().model_copy(update={"edges": []}), None)
    window.view.resetTransform()
    window.view.centerOn(300, 40)
    empty = scene_to_view(window, 300, 300)
    drag(window, port_view_pos(window, "calc", "out", "out"), empty)
    popup = window.view.quick_add
    assert popup is not None and popup.isVisible()
    QTest.keyClicks(popup.search, "delay")
    QTest.keyClick(popup.search, Qt.Key.Key_Return)
    assert "delay" in window.doc.nodes
    assert [(e.source, e.target) for e in window.doc.edges.values()] == [("calc", "delay")]
    assert window.undo.count() == 1
    window.undo.undo()
    assert "delay" not in window.doc.nodes and not window.doc.edges


def test_tab_and_double_click_open_quick_add(window):
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_Tab)
    assert window.view.quick_add is not None and window.view.quick_add.isVisible()
    window.view.quick_add.close()
    QTest.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier, QPoint(300, 300))
    popup = window.view.quick_add
    assert popup.isVisible()
    QTest.keyClicks(popup.search, "pyth")
    QTest.keyClick(popup.search, Qt.Key.Key_Enter)
    assert [n.type for n in window.doc.nodes.values()] == ["python"]


def test_zoom_and_fit(window):
    window.set_workflow(small_workflow(), None)
    window.view.fit_all()
    rect = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    for item in window.scene.nodes.values():
        assert rect.contains(item.sceneBoundingRect())
    before = window.view.zoom()
    window.view.set_zoom(before * 2)
    assert abs(window.view.zoom() - min(3.0, before * 2)) < 1e-6


def test_sticky_note_is_saved_with_the_workflow(window):
    nid = window.editor.add_note(QPointF(10, 10), "remember")
    wf = window.doc.snapshot()
    assert [n.text for n in wf.notes] == ["remember"] and nid in window.scene.notes


def test_click_edge_then_delete_disconnects(window):
    window.set_workflow(small_workflow(), None)
    window.view.resetTransform()
    window.view.centerOn(300, 40)
    mid = window.scene.edges["e1"].path().pointAtPercent(0.5)
    QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, window.view.mapFromScene(mid))
    assert window.scene.selected_ids()[1] == ["e1"]
    QTest.keyClick(window.view, Qt.Key.Key_Delete)
    assert "e1" not in window.doc.edges and len(window.doc.nodes) == 3
    window.undo.undo()
    assert "e1" in window.doc.edges


def test_double_click_note_focuses_its_text(window):
    from PySide6.QtWidgets import QPlainTextEdit

    from nopflow.ui.inspector.note_form import NoteForm

    window.view.resetTransform()
    window.view.centerOn(0, 0)
    nid = window.editor.add_note(QPointF(0, 0), "hello")
    window.scene.select_only([])
    QTest.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier, scene_to_view(window, 30, 30))
    form = window.inspector.form()
    assert isinstance(form, NoteForm) and form.note_id == nid
    edit = form.findChild(QPlainTextEdit)
    edit.setPlainText("changed")
    assert window.doc.notes[nid].text == "changed"


def test_middle_button_pans_and_wheel_zooms_around_cursor(window):
    window.set_workflow(small_workflow(), None)
    window.view.resetTransform()
    window.view.centerOn(300, 40)
    vp = window.view.viewport()
    before = window.view.mapToScene(QPoint(100, 100))
    QTest.mousePress(vp, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(200, 200))
    QTest.mouseMove(vp, QPoint(260, 230))
    QTest.mouseRelease(vp, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier,
                       QPoint(260, 230))
    after = window.view.mapToScene(QPoint(100, 100))
    assert (round(before.x() - after.x()), round(before.y() - after.y())) == (60, 30)
    assert window.undo.count() == 0
    from PySide6.QtCore import QPointF as P
    from PySide6.QtGui import QWheelEvent

    cursor = QPoint(300, 250)
    anchor = window.view.mapToScene(cursor)
    ev = QWheelEvent(P(cursor), P(vp.mapToGlobal(cursor)), QPoint(), QPoint(0, 240),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                     Qt.ScrollPhase.NoScrollPhase, False)
    window.view.wheelEvent(ev)
    assert window.view.zoom() > 1.3
    moved = window.view.mapToScene(cursor) - anchor
    assert abs(moved.x()) < 2 and abs(moved.y()) < 2  # the point under the cursor stays


def test_snap_to_grid_while_dragging(window):
    window.set_workflow(small_workflow(), None)
    window.act_snap.trigger()
    assert window.scene.snap_to_grid
    window.view.resetTransform()
    window.view.centerOn(300, 40)
    start = scene_to_view(window, 400, 20)
    drag(window, start, start + QPoint(33, 27))
    x, y = window.doc.nodes["calc"].position
    assert x % 20 == 0 and y % 20 == 0 and (x, y) != (300, 0)


def test_tab_opens_quick_add_and_typing_f_does_not_fit(window):
    window.set_workflow(small_workflow(), None)
    window.view.setFocus()
    window.view.set_zoom(0.5)
    QTest.keyClick(window.view, Qt.Key.Key_Tab)  # Ctrl+F is Find now (test_find.py)
    popup = window.view.quick_add
    assert popup is not None and popup.isVisible()
    QTest.keyClicks(popup.search, "if")
    assert abs(window.view.zoom() - 0.5) < 1e-6
    QTest.keyClick(popup.search, Qt.Key.Key_Escape)
    assert not popup.isVisible()
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_F)
    assert window.view.zoom() != 0.5


def test_space_drag_pans_without_selecting(window):
    window.set_workflow(small_workflow(), None)
    window.view.resetTransform()
    window.view.centerOn(300, 40)
    window.view.setFocus()
    QTest.keyPress(window.view, Qt.Key.Key_Space)
    before = window.view.mapToScene(QPoint(100, 100))
    start = scene_to_view(window, 400, 20)  # on a node: still pans, does not move it
    drag(window, start, start + QPoint(-40, 0))
    QTest.keyRelease(window.view, Qt.Key.Key_Space)
    after = window.view.mapToScene(QPoint(100, 100))
    assert round(after.x() - before.x()) == 40
    assert window.doc.nodes["calc"].position == (300, 0) and window.undo.count() == 0


def test_empty_canvas_hint_is_wiped_when_the_first_block_lands(window, qtbot):
    """The hint is painted in view coordinates, outside any item: the first block must
    repaint the whole viewport, not just the block's own rectangle."""
    from PySide6.QtCore import QEvent, QObject

    vp = window.view.viewport()
    painted: list = []

    class Spy(QObject):
        def eventFilter(self, obj, event):  # type: ignore[no-untyped-def]
            if event.type() == QEvent.Type.Paint:
                painted.append(event.region().boundingRect())
            return False

    spy = Spy()
    vp.installEventFilter(spy)
    qtbot.wait(50)
    painted.clear()
    drop_block(window, "python", QPoint(80, 80))  # far from the hint's text
    qtbot.waitUntil(lambda: any(r.contains(vp.rect().center()) for r in painted))
    vp.removeEventFilter(spy)


def test_dropped_link_stays_drawn_while_quick_add_is_open(window):
    from nopflow.ui.items.edge_item import LinkPreviewItem

    window.set_workflow(small_workflow().model_copy(update={"edges": []}), None)
    window.view.resetTransform()
    window.view.centerOn(300, 40)

    def previews() -> list:
        return [it for it in window.scene.items() if isinstance(it, LinkPreviewItem)]

    drag(window, port_view_pos(window, "calc", "out", "out"), scene_to_view(window, 300, 300))
    popup = window.view.quick_add
    assert popup is not None and popup.isVisible()
    assert len(previews()) == 1  # the user sees what the new block will hang from
    assert all(not item.port_marks for item in window.scene.nodes.values())
    QTest.keyClick(popup.search, Qt.Key.Key_Escape)
    assert not popup.isVisible() and previews() == [] and not window.doc.edges
    drag(window, port_view_pos(window, "calc", "out", "out"), scene_to_view(window, 300, 300))
    QTest.keyClicks(window.view.quick_add.search, "delay")
    QTest.keyClick(window.view.quick_add.search, Qt.Key.Key_Return)
    assert previews() == [] and len(window.doc.edges) == 1


def test_quick_add_stays_on_screen_near_the_bottom_right(window):
    popup = window.view.open_quick_add(window.view.mapToScene(QPoint(10, 10)))
    area = popup.screen().availableGeometry()
    popup.close()
    popup.popup_at(area.bottomRight() - QPoint(5, 5))
    geo = popup.frameGeometry()
    assert area.contains(geo), (area, geo)
    popup.close()


def test_quick_add_lists_the_best_match_first(window):
    from nopflow.ui.quick_add import QuickAddPopup

    popup = QuickAddPopup(window)

    def order() -> list[str]:
        return [popup.list.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(popup.list.count())]

    palette_order = order()
    popup.search.setText("outp")  # "Output" starts with it; others only mention it
    visible = [popup.list.item(i).data(Qt.ItemDataRole.UserRole)
               for i in range(popup.list.count()) if not popup.list.item(i).isHidden()]
    assert visible[0] == "output"
    assert popup.list.currentItem().data(Qt.ItemDataRole.UserRole) == "output"
    popup.search.setText("")
    assert order() == palette_order  # everything back, in palette order
    assert all(not popup.list.item(i).isHidden() for i in range(popup.list.count()))
    popup.close()
