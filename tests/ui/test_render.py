"""Rendering: node states by colour and badge, a screenshot that is not blank, both themes."""

from __future__ import annotations

from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage

from nopflow.model import Node, Workflow
from nopflow.ui.theme import STATE_COLORS, STATES, apply_theme


def states_workflow() -> Workflow:
    nodes = [Node(id=f"n{i}", type="python", title=state.capitalize(),
                  position=((i % 3) * 260.0, (i // 3) * 160.0), config={"code": "print(1)"})
             for i, state in enumerate(STATES)]
    return Workflow(nodes=nodes)


def _variety(img: QImage) -> set[int]:
    colours = set()
    for y in range(0, img.height(), 7):
        for x in range(0, img.width(), 7):
            colours.add(img.pixel(x, y))
    return colours


def test_screenshot_with_node_states_is_not_blank(window, tmp_path):
    window.set_workflow(states_workflow(), None)
    for i, state in enumerate(STATES):
        window.scene.set_node_state(f"n{i}", state, elapsed=1.5, attempt=2 if i == 1 else None,
                                    error="ZeroDivisionError: division by zero" if
                                    state == "error" else None)
    window.view.fit_all()
    path = tmp_path / "states.png"
    assert window.grab().save(str(path))
    img = QImage(str(path))
    assert not img.isNull() and img.width() > 100
    assert len(_variety(img)) > 40
    # every state colour appears somewhere on the canvas (border or badge)
    canvas = window.view.grab().toImage()
    found = {c.name() for c in (QColor(canvas.pixel(x, y))
                                for y in range(0, canvas.height(), 2)
                                for x in range(0, canvas.width(), 2))}
    for state in ("running", "success", "error"):
        assert STATE_COLORS[state].lower() in found, state


def test_state_api_is_cheap_and_tolerant(window):
    window.set_workflow(states_workflow(), None)
    scene = window.scene
    scene.set_node_state("missing", "running")  # ignored, no error
    scene.set_node_state("n0", "running", attempt=2)
    item = scene.nodes["n0"]
    assert item.state == "running" and "attempt 2" in item.toolTip()
    assert scene._anim.isActive()
    scene.set_node_state("n0", "error", error="boom", elapsed=0.2)
    assert "boom" in item.toolTip() and not scene._running
    scene.set_node_state("n1", "skipped")
    assert scene.nodes["n1"].opacity() < 1
    scene.clear_states()
    assert all(i.state is None for i in scene.nodes.values())


def test_dark_theme_renders(window, tmp_path):
    window.set_workflow(states_workflow(), None)
    window.set_theme("dark")
    try:
        img = window.view.grab().toImage()
        assert QColor(img.pixel(3, 3)).lightness() < 100
    finally:
        apply_theme("light")


def test_zoomed_out_uses_simple_cards(window):
    from nopflow.ui.items.node_item import LOD_SIMPLE

    window.set_workflow(states_workflow(), None)
    window.view.set_zoom(LOD_SIMPLE / 2)
    window.view.centerOn(QPointF(260, 80))
    img = window.view.grab().toImage()
    assert len(_variety(img)) > 3


def test_dark_theme_reaches_widgets_with_their_own_style_sheet(window):
    """The block palette has a style sheet (item padding); it must turn dark too."""
    from nopflow.ui.palette import Palette

    tree = window.findChild(Palette).tree
    vp = tree.viewport()
    corner = (vp.width() - 5, vp.height() - 5)  # below the last block: bare background
    assert QColor(vp.grab().toImage().pixel(*corner)).lightness() > 200
    window.set_theme("dark")
    try:
        assert QColor(vp.grab().toImage().pixel(*corner)).lightness() < 100
        assert tree.palette().text().color().lightness() > 150
    finally:
        apply_theme("light")
    assert QColor(vp.grab().toImage().pixel(*corner)).lightness() > 200


def test_one_badge_does_not_elide_a_title_that_fits_beside_it(window):
    from nopflow.model import Node, Workflow

    window.set_workflow(Workflow(name="T", nodes=[
        Node(id="count", type="python", title="Word statistics", position=(0, 0))]), None)
    item = window.scene.nodes["count"]
    assert item.shown_title() == "Word statistics"
    window.scene.set_node_state("count", "success", elapsed=0.1)
    assert item.shown_title() == "Word statistics"  # was "Word statisti…" after a run
    window.scene.set_problems({"count": ["something is wrong"]})
    assert item.shown_title().endswith("…")  # two badges: now it has to give way


def test_an_elided_title_is_given_in_full_in_the_tooltip(window):
    from nopflow.model import Node, Workflow

    long = "Parse the spreadsheet of last quarter"
    window.set_workflow(Workflow(name="T", nodes=[
        Node(id="a", type="python", title=long, position=(0, 0)),
        Node(id="b", type="python", title="Short", position=(0, 200))]), None)
    a, b = window.scene.nodes["a"], window.scene.nodes["b"]
    assert a.shown_title() != long and a.toolTip().splitlines()[0] == long
    assert long not in b.toolTip() and "Short" not in b.toolTip()
    window.scene.set_node_state("a", "error", error="boom")
    assert a.toolTip().splitlines() == [long, "Failed", "boom"]
