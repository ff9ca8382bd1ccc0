"""The minimap: the whole graph, run states, and navigation by click and drag."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest

from nopflow.model import Node, Workflow
from nopflow.ui.theme import STATE_COLORS


def wide() -> Workflow:
    return Workflow(nodes=[Node(id=f"n{i}", type="start", position=(i * 1500.0, (i % 2) * 900))
                           for i in range(5)])


def centre(win) -> QPointF:
    return win.view.mapToScene(win.view.viewport().rect().center())


def test_minimap_is_on_and_floats_bottom_right(window):
    window.set_workflow(wide(), None)
    mm = window.minimap
    assert mm.isVisible() and window.act_minimap.isChecked()
    view = window.view
    assert mm.geometry().right() < view.width() and mm.geometry().bottom() < view.height()
    assert mm.geometry().right() > view.width() - 40
    window.act_minimap.trigger()  # View ▸ Minimap (Ctrl+M) hides it
    assert not mm.isVisible()
    window.act_minimap.trigger()
    assert mm.isVisible()


def test_click_and_drag_in_the_minimap_move_the_canvas(window):
    window.set_workflow(wide(), None)
    window.view.resetTransform()
    window.view.centerOn(0, 0)
    mm = window.minimap
    target = window.scene.nodes["n4"].sceneBoundingRect().center()
    at = mm.to_map(target).toPoint()
    QTest.mouseClick(mm, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at)
    d = centre(window) - target
    assert abs(d.x()) < 60 and abs(d.y()) < 60  # one minimap pixel is many scene units
    # drag back towards n0: the canvas follows the pointer
    start = mm.to_map(centre(window)).toPoint()
    goal = mm.to_map(window.scene.nodes["n0"].sceneBoundingRect().center()).toPoint()
    QTest.mousePress(mm, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, 6):
        QTest.mouseMove(mm, start + (goal - start) * (i / 5))
    QTest.mouseRelease(mm, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, goal)
    assert centre(window).x() < target.x() - 3000


def test_minimap_shows_run_state_colours(window, qtbot):
    window.set_workflow(wide(), None)
    mm = window.minimap
    window.scene.set_node_state("n1", "success")
    window.scene.set_node_state("n3", "error")
    mm.update()
    qtbot.wait(150)
    img = mm.grab().toImage()

    def colour_at(nid: str) -> str:
        r = window.scene.nodes[nid].sceneBoundingRect()
        p = mm.to_map(QPointF(r.left() + 20, r.top() + 20)).toPoint()
        return QColor(img.pixel(p)).name()

    assert colour_at("n1") == STATE_COLORS["success"].lower()
    assert colour_at("n3") == STATE_COLORS["error"].lower()
    assert colour_at("n0") not in (STATE_COLORS["success"].lower(),
                                   STATE_COLORS["error"].lower())
