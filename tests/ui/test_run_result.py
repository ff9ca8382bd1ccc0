"""After a run its outputs are visible without selecting the output node (issue 18 item 8)."""

from __future__ import annotations

from .test_live_run import (  # noqa: F401  (fixtures)
    _never_block_on_close,
    aloop,
    open_saved,
    wait_idle,
    workflow,
)


def test_result_tab_shows_the_outputs_after_a_run(window, qtbot, aloop, tmp_path):  # noqa: F811
    wf = workflow(
        [{"id": "calc", "type": "python",
          "config": {"code": "print('{\"n\": 42, \"words\": [\"a\", \"b\"]}')"}},
         {"id": "out", "type": "output",
          "config": {"values": {"n": "{{ $prev.n }}", "words": "{{ $prev.words }}"}}}],
        [("start", "calc"), ("calc", "out")])
    open_saved(window, tmp_path, wf)
    result = window.live.result_view
    assert "appear here" in result.heading.text()
    window.run_actions["run"].trigger()
    wait_idle(window, qtbot)
    qtbot.waitUntil(lambda: result.outputs is not None, timeout=5000)
    # the log dock switched to the Result tab by itself; nothing was selected
    assert window.log_tabs.currentWidget() is result
    assert window.scene.selectedItems() == []
    assert result.heading.text().startswith("Run completed at ")
    assert "2 outputs" in result.heading.text()
    rows = {result.tree.topLevelItem(i).text(0): result.tree.topLevelItem(i).text(1)
            for i in range(result.tree.topLevelItemCount())}
    assert rows["n"] == "42"
    assert "words" in rows
    # and the Output log ends with the result line
    last = window.output.toPlainText().splitlines()[-1]
    assert last == 'result: {"n": 42, "words": ["a", "b"]}'


def test_run_without_outputs_says_how_to_get_some(window, qtbot, aloop, tmp_path):  # noqa: F811
    wf = workflow([{"id": "calc", "type": "python", "config": {"code": "print('{}')"}}],
                  [("start", "calc")])
    open_saved(window, tmp_path, wf)
    window.run_actions["run"].trigger()
    wait_idle(window, qtbot)
    result = window.live.result_view
    qtbot.waitUntil(lambda: result.outputs is not None, timeout=5000)
    assert "no outputs (add an Output block" in result.heading.text()
    assert window.log_tabs.currentWidget() is window.output  # nothing to switch to


def on_top(dock) -> bool:  # type: ignore[no-untyped-def]
    """A tabbed dock behind another is still 'visible' to Qt; on top it has screen area."""
    return not dock.visibleRegion().isEmpty()


def test_right_dock_follows_the_user_after_a_run(window, qtbot, aloop, tmp_path):  # noqa: F811
    from PySide6.QtCore import QPointF

    wf = workflow([{"id": "calc", "type": "python", "config": {"code": "print('{}')"}}],
                  [("start", "calc")])
    open_saved(window, tmp_path, wf)
    details, inspector = window.live.details_dock, window.inspector_dock
    window.run_actions["run"].trigger()
    wait_idle(window, qtbot)
    qtbot.waitUntil(lambda: on_top(details), timeout=3000)  # a run shows its details
    window.scene.select_only([window.scene.nodes["calc"]])
    qtbot.waitUntil(lambda: window.live.node_view.current is not None, timeout=3000)
    assert on_top(details)  # a node that ran: its run stays in view
    # an edit brings the inspector back, where the edit's form is
    new = window.editor.add_block("python", QPointF(0, 300))
    qtbot.waitUntil(lambda: on_top(inspector) and not on_top(details), timeout=3000)
    # a node that has not run, selected while Run details is on top: the inspector comes up
    details.raise_()
    qtbot.waitUntil(lambda: on_top(details), timeout=3000)
    window.scene.select_only([window.scene.nodes[new]])
    qtbot.waitUntil(lambda: on_top(inspector) and not on_top(details), timeout=3000)
