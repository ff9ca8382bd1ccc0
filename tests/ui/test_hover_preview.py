"""Hovering a port or an edge names it and, after a run, previews the value (item 6)."""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip

from .conftest import port_view_pos
from .test_live_run import (  # noqa: F401  (fixtures)
    _never_block_on_close,
    aloop,
    open_saved,
    wait_idle,
    workflow,
)


def tooltip_at(win, view_pos) -> str:  # type: ignore[no-untyped-def]
    """Deliver a real tooltip event to the canvas and read what the tooltip shows."""
    QToolTip.hideText()
    vp = win.view.viewport()
    ev = QHelpEvent(QEvent.Type.ToolTip, view_pos, vp.mapToGlobal(view_pos))
    QApplication.sendEvent(vp, ev)
    return QToolTip.text() if QToolTip.isVisible() else ""


def edge_view_pos(win, edge_id: str):  # type: ignore[no-untyped-def]
    return win.view.mapFromScene(win.scene.edges[edge_id].path().pointAtPercent(0.5))


def test_port_and_edge_hover_before_and_after_a_run(window, qtbot, aloop, tmp_path):  # noqa: F811
    wf = workflow(
        [{"id": "calc", "type": "python",
          "config": {"code": "print('{\"rows\": [1, 2, 3], \"token\": \"x\"}')"}},
         {"id": "out", "type": "output", "config": {"values": {"n": "{{ $prev.rows }}"}}}],
        [("start", "calc"), ("calc", "out")])
    open_saved(window, tmp_path, wf)
    window.view.resetTransform()
    window.view.centerOn(400, 60)
    out_port = port_view_pos(window, "calc", "out", "out")
    in_port = port_view_pos(window, "out", "in", "in")
    assert tooltip_at(window, out_port) == "output 'out' of calc"  # no run yet: the name
    assert tooltip_at(window, edge_view_pos(window, "e1")) == "calc.out → out.in"
    window.run_actions["run"].trigger()
    wait_idle(window, qtbot)
    out_port = port_view_pos(window, "calc", "out", "out")  # docks may have moved the view
    in_port = port_view_pos(window, "out", "in", "in")
    assert tooltip_at(window, out_port) == (
        'output \'out\' of calc\nsent: {"rows": [1, 2, 3], "token": "x"}')
    assert tooltip_at(window, in_port).startswith("input 'in' of out\nreceived: ")
    assert tooltip_at(window, edge_view_pos(window, "e1")) == (
        'calc.out → out.in\nsent: {"rows": [1, 2, 3], "token": "x"}')


def test_long_values_are_cut_short():
    from nopflow.ui.hover_preview import PREVIEW_CHARS, preview

    text = preview({"rows": list(range(1000))})
    assert len(text) == PREVIEW_CHARS and text.endswith("…")

