"""Run behaviour of the flow blocks: loop, merge, set/$vars, delay, condition errors."""

from __future__ import annotations

import time

from wfhelpers import make_wf, run_wf, states

from nopflow.engine.events import Event, NodeStateChanged


def loop_wf(loop_cfg: dict, body_extra: list | None = None, mode: str = "stop", **kw):
    nodes = [("s", "start", {}), ("l", "loop", loop_cfg),
             ("b", "output" if False else "set", {"values": {}}),
             ("o", "output", {"values": {"done": "{{ $prev }}"}})]
    edges = ["s->l", "l.body->b", "l.done->o"]
    return make_wf(nodes + (body_extra or []), edges, error_mode=mode, **kw)


async def test_loop_over_items_results_from_last_sink() -> None:
    wf = make_wf(
        [("s", "start", {}), ("l", "loop", {"items": "{{ $input.xs }}"}),
         ("b1", "delay", {"seconds": 0}),
         ("b2", "merge", {"mode": "concat"}),
         ("o", "output", {"values": {"done": "{{ $prev }}"}})],
        ["s->l", "l.body->b1", "b1->b2", "l.done->o"],
        inputs={"xs": ["a", "b", "c"]},
    )
    run = await run_wf(wf)
    assert run.status == "completed"
    assert run.outputs["done"] == {"items": ["a", "b", "c"], "results": [["a"], ["b"], ["c"]]}
    assert run.nodes["b1"].iterations == 3 and run.nodes["b1"].iteration == 2
    assert run.nodes["b2"].state == "success"


async def test_loop_variable_and_count_template() -> None:
    wf = make_wf(
        [("s", "start", {}), ("l", "loop", {"count": "{{ $input.n }}"}),
         ("b", "set", {"values": {"last": "{{ $loop.index }}-{{ $loop.first }}-{{ $loop.last }}"}}),
         ("o", "output", {"values": {"done": "{{ $prev.items }}", "v": "{{ $vars.last }}"}})],
        ["s->l", "l.body->b", "l.done->o"], inputs={"n": 3},
    )
    run = await run_wf(wf)
    assert run.outputs == {"done": [0, 1, 2], "v": "2-false-true"}


async def test_loop_items_json_list_and_bare_expression() -> None:
    for items in ('[1, 2]', "$input.xs", [1, "{{ $input.xs[1] }}"]):
        wf = make_wf(
            [("s", "start", {}), ("l", "loop", {"items": items}),
             ("o", "output", {"values": {"d": "{{ $prev.items }}"}})],
            ["s->l", "l.done->o"], inputs={"xs": [1, 2]},
        )
        run = await run_wf(wf)
        assert run.outputs == {"d": [1, 2]}, items


async def test_loop_parallel_runs_items_at_once() -> None:
    wf = make_wf(
        [("s", "start", {}), ("l", "loop", {"count": 4, "parallel": 4}),
         ("d", "delay", {"seconds": 0.2}),
         ("o", "output", {"values": {"r": "{{ $prev.results }}"}})],
        ["s->l", "l.body->d", "l.done->o"], max_parallel=4,
    )
    t0 = time.perf_counter()
    run = await run_wf(wf)
    assert time.perf_counter() - t0 < 0.5
    assert run.outputs["r"] == [0, 1, 2, 3]  # entry nodes get the item as $prev


async def test_loop_body_nodes_share_the_parallel_limit_without_deadlock() -> None:
    wf = make_wf(
        [("s", "start", {}), ("l1", "loop", {"count": 3, "parallel": 3}),
         ("l2", "loop", {"count": 2, "parallel": 2}), ("d", "delay", {"seconds": 0.05})],
        ["s->l1", "l1.body->l2", "l2.body->d"], max_parallel=1,
    )
    events: list[Event] = []
    run = await run_wf(wf, events)
    assert run.status == "completed"
    running = 0
    peak = 0
    for e in events:
        if isinstance(e, NodeStateChanged) and e.node_id == "d":
            running += 1 if e.state == "running" else -1
            peak = max(peak, running)
    assert peak == 1


async def test_nested_loops_results() -> None:
    wf = make_wf(
        [("s", "start", {}), ("outer", "loop", {"items": [1, 2]}),
         ("inner", "loop", {"items": "{{ [$loop.item, $loop.item] }}"}),
         ("d", "delay", {"seconds": 0}),
         ("o", "output", {"values": {"r": "{{ $prev.results }}"}})],
        ["s->outer", "outer.body->inner", "inner.body->d", "outer.done->o"],
    )
    run = await run_wf(wf)
    assert run.status == "completed", run.nodes["inner"].error
    assert run.outputs["r"] == [
        {"items": [1, 1], "results": [1, 1]},
        {"items": [2, 2], "results": [2, 2]},
    ]


async def test_loop_body_failure_stop_fails_loop() -> None:
    wf = make_wf(
        [("s", "start", {}), ("l", "loop", {"items": [1, 0, 2]}),
         ("b", "delay", {"seconds": "{{ 1 / $loop.item - 1 }}"}),
         ("o", "output", {"values": {"x": 1}})],
        ["s->l", "l.body->b", "l.done->o"],
    )
    run = await run_wf(wf)
    assert run.status == "failed"
    st = states(run)
    assert st["l"] == "error" and st["b"] == "error" and st["o"] == "cancelled"
    assert "item 1" in (run.nodes["l"].error or "") and "node b" in (run.nodes["l"].error or "")


async def test_loop_body_failure_continue_keeps_going() -> None:
    wf = make_wf(
        [("s", "start", {}), ("l", "loop", {"items": [1, 0, 2]}, {"error_mode": "stop"}),
         ("b", "delay", {"seconds": "{{ 1 / $loop.item * 0 }}"}, {"error_mode": "skip-branch"}),
         ("o", "output", {"values": {"r": "{{ $prev.results }}"}})],
        ["s->l", "l.body->b", "l.done->o"],
    )
    run = await run_wf(wf)
    assert run.status == "failed"  # a node failed
    assert run.outputs["r"] == [1, None, 2]
    assert run.nodes["l"].state == "success"


async def test_empty_loop_marks_body_skipped() -> None:
    wf = make_wf(
        [("s", "start", {}), ("l", "loop", {"items": []}), ("b", "delay", {"seconds": 0}),
         ("o", "output", {"values": {"d": "{{ $prev }}"}})],
        ["s->l", "l.body->b", "l.done->o"],
    )
    run = await run_wf(wf)
    assert run.status == "completed"
    assert run.outputs["d"] == {"items": [], "results": []}
    assert run.nodes["b"].state == "skipped"


async def test_loop_items_not_a_list_fails_clearly() -> None:
    wf = make_wf([("s", "start", {}), ("l", "loop", {"items": "{{ $input.x }}"})], ["s->l"],
                 inputs={"x": 5})
    run = await run_wf(wf)
    assert run.status == "failed"
    assert "expected a list" in (run.nodes["l"].error or "")


async def test_merge_modes() -> None:
    wf = make_wf(
        [("s", "start", {}), ("a", "loop", {"items": [1, 2]}), ("b", "loop", {"items": [3]}),
         ("byn", "merge", {}), ("cat", "merge", {"mode": "concat"}),
         ("o", "output", {"values": {"byn": "{{ $node.byn }}", "cat": "{{ $node.cat }}"}})],
        ["s->a", "s->b", "a.done->byn", "b.done->byn", "a.done->cat", "b.done->cat", "s->cat",
         "byn->o", "cat->o"],
    )
    run = await run_wf(wf)
    assert run.outputs["byn"] == {"a": {"items": [1, 2], "results": [None, None]},
                                  "b": {"items": [3], "results": [None]}}
    # non-list inputs are appended as items
    assert run.outputs["cat"] == [
        {"items": [1, 2], "results": [None, None]}, {"items": [3], "results": [None]}, {}
    ]


async def test_merge_concat_joins_lists() -> None:
    wf = make_wf(
        [("s", "start", {}), ("a", "loop", {"items": [1, 2]}), ("b", "loop", {"items": [3]}),
         ("x", "set", {"values": {}}),
         ("ra", "merge", {"mode": "concat"}),
         ("o", "output", {"values": {"r": "{{ $prev }}"}})],
        ["s->a", "a.done->x", "x->ra", "s->b", "ra->o"],
    )
    run = await run_wf(wf)
    assert run.status == "completed"


async def test_set_updates_vars_for_later_nodes() -> None:
    wf = make_wf(
        [("s", "start", {}), ("set", "set", {"values": {"n": "{{ $vars.n + 1 }}", "who": "x"}}),
         ("o", "output", {"values": {"n": "{{ $vars.n }}", "prev": "{{ $prev }}"}})],
        ["s->set", "set->o"], variables={"n": 1}, inputs={"i": 0},
    )
    run = await run_wf(wf)
    assert run.outputs == {"n": 2, "prev": {"i": 0}}  # set passes its input through


async def test_delay_templated_and_invalid() -> None:
    wf = make_wf([("s", "start", {}), ("d", "delay", {"seconds": "{{ $input.s }}"})], ["s->d"],
                 inputs={"s": "abc"})
    run = await run_wf(wf)
    assert run.status == "failed"
    assert "config.seconds" in (run.nodes["d"].error or "")
    run = await run_wf(wf, inputs={"s": 0.01})
    assert run.status == "completed"


async def test_condition_runtime_error_names_node() -> None:
    wf = make_wf([("s", "start", {}), ("c", "condition", {"expression": "$input.nope > 1"})],
                 ["s->c"])
    run = await run_wf(wf)
    err = run.nodes["c"].error or ""
    assert "node c" in err and "config.expression" in err and "$input.nope" in err


async def test_node_refs_and_env() -> None:
    wf = make_wf(
        [("s", "start", {}), ("d", "delay", {"seconds": 0}),
         ("o", "output", {"values": {"a": "{{ $node.s.v }}", "e": "{{ $env.NOPFLOW_T }}"}})],
        ["s->d", "d->o"], inputs={"v": 9}, env_allow=["NOPFLOW_T"],
    )
    run = await run_wf(wf, env={"NOPFLOW_T": "yes", "OTHER": "no"})
    assert run.outputs == {"a": 9, "e": "yes"}


async def test_parallel_loop_failure_cancels_other_items() -> None:
    wf = make_wf(
        [("s", "start", {}), ("l", "loop", {"items": [5, "bad", 5], "parallel": 3}),
         ("b", "delay", {"seconds": "{{ $loop.item }}"}),
         ("o", "output", {"values": {"x": 1}})],
        ["s->l", "l.body->b", "l.done->o"], max_parallel=8,
    )
    t0 = time.perf_counter()
    run = await run_wf(wf)
    assert time.perf_counter() - t0 < 1.0
    assert run.status == "failed"
    assert states(run)["l"] == "error" and states(run)["o"] == "cancelled"
    assert "item 1" in (run.nodes["l"].error or "")
