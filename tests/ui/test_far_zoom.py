"""Zoomed out, a node's run state fills the whole box (issue 18 item 9)."""

from __future__ import annotations

from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor

from nopflow.model import Node, Workflow
from nopflow.ui.items.node_item import LOD_SIMPLE
from nopflow.ui.theme import CATEGORY_COLORS, STATE_COLORS, canvas_theme


def body_colour(win, node_id: str) -> str:
    """The colour drawn at the middle of a node's body (below its header) on screen."""
    item = win.scene.nodes[node_id]
    r = item.sceneBoundingRect()
    p = win.view.mapFromScene(QPointF(r.center().x(), r.top() + r.height() * 0.7))
    return QColor(win.view.viewport().grab().toImage().pixel(p)).name()


def test_far_zoom_tints_nodes_by_state_not_by_category(window):
    # start blocks are Flow: green, the colour of success
    wf = Workflow(nodes=[Node(id=f"s{i}", type="start", position=(i * 300.0, 0))
                         for i in range(4)])
    window.set_workflow(wf, None)
    window.view.set_zoom(LOD_SIMPLE / 1.5)
    window.view.centerOn(QPointF(500, 40))
    never = body_colour(window, "s0")
    assert never == canvas_theme().node_fill.name()  # not run: no state colour at all
    assert never != CATEGORY_COLORS["Flow"].lower()
    for nid, state in (("s1", "success"), ("s2", "error"), ("s3", "running")):
        window.scene.set_node_state(nid, state)
    window.view.viewport().repaint()
    assert body_colour(window, "s1") == STATE_COLORS["success"].lower()
    assert body_colour(window, "s2") == STATE_COLORS["error"].lower()
    assert body_colour(window, "s3") == STATE_COLORS["running"].lower()
    assert body_colour(window, "s0") == never
