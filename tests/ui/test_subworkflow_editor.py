"""Sub-workflow nodes in the editor: n/total while the child runs, Run details link to the
child run, double-click and the node menu open the child workflow (issue 15 item 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from nopflow.model import save_workflow
from nopflow.ui.main_window import active_windows

from .test_live_run import (  # noqa: F401  (fixtures)
    _never_block_on_close,
    aloop,
    open_saved,
    wait_idle,
    workflow,
)


def save_child(folder: Path, seconds: float = 0.3) -> Path:
    child = workflow(
        [{"id": "wait", "type": "delay", "config": {"seconds": seconds}},
         {"id": "out", "type": "output", "config": {"values": {"n": "{{ $input.n }}"}}}],
        [("start", "wait"), ("wait", "out")], name="Child", id="child-wf",
        inputs={"n": {"default": 0}})
    path = folder / "child.nopflow.json"
    save_workflow(child, path)
    return path


def parent_wf(path: str = "child.nopflow.json") -> Any:
    return workflow(
        [{"id": "sub", "type": "subworkflow", "title": "Child",
          "config": {"path": path, "inputs": {"n": 7}}},
         {"id": "out", "type": "output", "config": {"values": {"got": "{{ $prev.n }}"}}}],
        [("start", "sub"), ("sub", "out")], name="Parent")


def other_windows(window: Any) -> list[Any]:
    return [w for w in active_windows() if w is not window and w.isVisible()]


def close_others(window: Any) -> None:
    for w in other_windows(window):
        w.undo.setClean()
        w.close()


def test_child_progress_on_the_node_and_run_details_open_the_child_run(
        window, qtbot, aloop, tmp_path):  # noqa: F811
    save_child(tmp_path)
    open_saved(window, tmp_path, parent_wf())
    item = window.scene.nodes["sub"]
    seen: list[str] = []
    window.live.bridge.subworkflowProgress.connect(
        lambda _p: seen.append(item._state_label()))
    window.run_actions["run"].trigger()
    wait_idle(window, qtbot)
    assert window.live.run.status == "completed"
    assert window.live.run.outputs == {"got": 7}
    assert any(label.startswith("1/3 · ") for label in seen), seen
    assert item.sub_progress is None  # over: the clock shows the node's time only

    window.scene.select_only([item])
    view = window.live.node_view
    qtbot.waitUntil(lambda: view.current is not None and view.current.node_id == "sub",
                    timeout=5000)
    assert view.child_link.isVisible()
    child_id = window.live.run.nodes["sub"].details["subworkflow"]["run_id"]
    assert f"Child run {child_id[:8]} of child.nopflow.json" in view.child_link.text()
    window.grab().save(str(tmp_path / "subworkflow_run_details.png"))
    try:
        view.child_link.linkActivated.emit("child")
        qtbot.waitUntil(lambda: bool(other_windows(window)), timeout=5000)
        [child_win] = other_windows(window)
        assert Path(child_win.path) == tmp_path / "child.nopflow.json"
        history = child_win.live.history
        qtbot.waitUntil(lambda: history.selected_run() is not None, timeout=10_000)
        assert history.selected_run().run_id == child_id
        assert history.selected_run().parent["node_id"] == "sub"
    finally:
        close_others(window)


def test_double_click_opens_the_child_workflow(window, qtbot, tmp_path):
    save_child(tmp_path)
    open_saved(window, tmp_path, parent_wf())
    item = window.scene.nodes["sub"]
    centre = window.view.mapFromScene(item.sceneBoundingRect().center())
    try:
        QTest.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton,
                          Qt.KeyboardModifier.NoModifier, centre)
        qtbot.waitUntil(lambda: bool(other_windows(window)), timeout=5000)
        [child_win] = other_windows(window)
        assert Path(child_win.path) == tmp_path / "child.nopflow.json"
        assert child_win.doc.header.name == "Child"
        # again: the window showing it comes forward, no second one opens
        QTest.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton,
                          Qt.KeyboardModifier.NoModifier, centre)
        assert other_windows(window) == [child_win]
    finally:
        close_others(window)


def test_node_menu_offers_open_sub_workflow(window, qtbot, tmp_path):
    save_child(tmp_path)
    open_saved(window, tmp_path, parent_wf())
    menu = window.view.node_menu_for("sub")
    [act] = [a for a in menu.actions() if a.text() == "Open sub-workflow"]
    assert act.isEnabled()
    try:
        act.trigger()
        qtbot.waitUntil(lambda: bool(other_windows(window)), timeout=5000)
        assert Path(other_windows(window)[0].path) == tmp_path / "child.nopflow.json"
    finally:
        close_others(window)
    # nodes that run no workflow do not offer it
    assert "Open sub-workflow" not in [a.text() for a in window.view.node_menu_for(
        "out").actions()]


def test_a_templated_or_missing_child_cannot_be_opened(window, qtbot, tmp_path):
    open_saved(window, tmp_path, parent_wf("{{ $input.which }}"))
    [act] = [a for a in window.view.node_menu_for("sub").actions()
             if a.text() == "Open sub-workflow"]
    assert not act.isEnabled()
    item = window.scene.nodes["sub"]
    QTest.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier,
                      window.view.mapFromScene(item.sceneBoundingRect().center()))
    assert other_windows(window) == []
    assert window.inspector_dock.isVisible()  # double-click fell back to the node's form
