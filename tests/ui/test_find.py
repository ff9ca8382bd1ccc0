"""Find (Ctrl+F): real key presses; the view centres and selects each hit in turn."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from nopflow.model import Edge, Node, Workflow


def spread_workflow() -> Workflow:
    """Nodes far apart, so centring on one moves the view."""
    return Workflow(nodes=[
        Node(id="start", type="start", title="Start", position=(0, 0)),
        Node(id="fetch", type="python", title="Fetch rows", position=(2000, 0),
             config={"code": "import json\nprint(json.dumps({'rows': [1, 2]}))"}),
        Node(id="clean", type="python", title="Clean", position=(4000, 1500),
             config={"code": "print('{}')  # uses rows too"}),
        Node(id="report", type="output", title="Report", position=(6000, 0),
             config={"values": {"n": "{{ $node.fetch.rows }}"}}),
    ], edges=[Edge(source="start", target="fetch")])


def centre(win) -> QPointF:
    return win.view.mapToScene(win.view.viewport().rect().center())


def near(win, node_id: str) -> bool:
    c = win.scene.nodes[node_id].sceneBoundingRect().center()
    d = centre(win) - c
    return abs(d.x()) < 5 and abs(d.y()) < 5


def selected(win) -> list[str]:
    return [it.node_id for it in win.scene.selectedItems() if hasattr(it, "node_id")]


def test_ctrl_f_finds_by_config_text_and_steps_with_enter(window, qtbot):
    window.set_workflow(spread_workflow(), None)
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    bar = window.find_bar
    qtbot.waitUntil(bar.isVisible, timeout=2000)
    assert bar.edit.hasFocus()
    assert window.view.quick_add is None  # Ctrl+F no longer opens quick-add
    QTest.keyClicks(bar.edit, "rows")  # code of fetch and clean, an expression in report
    assert bar.count.text() == "1 of 3"
    assert selected(window) == ["fetch"] and near(window, "fetch")
    QTest.keyClick(bar.edit, Qt.Key.Key_Return)
    assert bar.count.text() == "2 of 3"
    assert selected(window) == ["clean"] and near(window, "clean")
    QTest.keyClick(bar.edit, Qt.Key.Key_Return)
    assert selected(window) == ["report"] and near(window, "report")
    QTest.keyClick(bar.edit, Qt.Key.Key_Return)  # wraps around
    assert selected(window) == ["fetch"]
    QTest.keyClick(bar.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert selected(window) == ["report"] and bar.count.text() == "3 of 3"
    QTest.keyClick(bar.edit, Qt.Key.Key_Escape)
    assert not bar.isVisible() and selected(window) == ["report"]


def test_find_by_title_type_and_id(window, qtbot):
    window.set_workflow(spread_workflow(), None)
    bar = window.find_bar
    bar.open_bar()
    for text, hits in (("clean", ["clean"]), ("PYTHON", ["fetch", "clean"]),
                       ("Output", ["report"]), ("start", ["start"])):
        bar.edit.setText(text)
        assert bar.hits == hits, text
    bar.edit.setText("pyhton-nothing")
    assert bar.hits == [] and bar.count.text() == "no matches"
    assert not bar.next_button.isEnabled()


def test_find_follows_edits_without_jumping(window, qtbot):
    window.set_workflow(spread_workflow(), None)
    bar = window.find_bar
    bar.open_bar()
    bar.edit.setText("python")
    assert bar.count.text() == "1 of 2"
    window.editor.delete(["clean"], [], [])
    assert bar.hits == ["fetch"] and bar.count.text() == "1 of 1"


def test_find_bar_floats_over_the_canvas_top_right(window, qtbot):
    window.set_workflow(spread_workflow(), None)
    before = window.view.geometry()
    window.find_bar.open_bar()
    assert window.view.geometry() == before  # nothing moved
    geo = window.find_bar.geometry()
    assert geo.right() < window.view.width() and geo.right() > window.view.width() - 40
    window.find_bar.edit.setText("rows")
