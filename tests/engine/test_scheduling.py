"""Readiness-driven scheduling, the parallel limit, liveness and $prev."""

from __future__ import annotations

import time

from wfhelpers import make_wf, run_wf, states

from nopflow.engine.events import Event, NodeStateChanged


async def test_no_level_barrier() -> None:
    # A(0.5) -> C(0.5) beside B(1): dependency-driven scheduling takes ~1 s, not 1.5 s.
    wf = make_wf(
        [("s", "start", {}), ("a", "delay", {"seconds": 0.5}), ("c", "delay", {"seconds": 0.5}),
         ("b", "delay", {"seconds": 1.0})],
        ["s->a", "a->c", "s->b"],
    )
    t0 = time.perf_counter()
    run = await run_wf(wf)
    took = time.perf_counter() - t0
    assert run.status == "completed"
    assert 0.95 < took < 1.4


async def test_parallel_limit_is_respected_and_used() -> None:
    nodes = [("s", "start", {})] + [(f"d{i}", "delay", {"seconds": 0.05}) for i in range(12)]
    wf = make_wf(nodes, [f"s->d{i}" for i in range(12)], max_parallel=3)
    events: list[Event] = []
    running: set[str] = set()
    peak = 0

    def watch(ev: Event) -> None:
        nonlocal peak
        if isinstance(ev, NodeStateChanged) and ev.node_id.startswith("d"):
            if ev.state == "running":
                running.add(ev.node_id)
                peak = max(peak, len(running))
            else:
                running.discard(ev.node_id)

    events_run = await run_wf(wf, events, control=lambda r: r.events.subscribe(watch))
    assert events_run.status == "completed"
    assert peak == 3


async def test_condition_takes_one_branch_and_skip_propagates() -> None:
    wf = make_wf(
        [("s", "start", {}), ("c", "condition", {"expression": "$input.n > 5"}),
         ("yes", "delay", {"seconds": 0}), ("no", "delay", {"seconds": 0}),
         ("after_no", "delay", {"seconds": 0}), ("m", "merge", {}),
         ("o", "output", {"values": {"m": "{{ $prev }}"}})],
        ["s->c", "c.true->yes", "c.false->no", "no->after_no", "yes->m", "after_no->m", "m->o"],
        inputs={"n": 7},
    )
    run = await run_wf(wf)
    st = states(run)
    assert st["yes"] == "success"
    assert st["no"] == "skipped" and st["after_no"] == "skipped"
    assert st["m"] == "success"  # one live input is enough
    assert run.nodes["c"].details["decision"] is True
    assert run.outputs == {"m": {"yes": {"n": 7}}}
    assert run.status == "completed"

    run2 = await run_wf(wf, inputs={"n": 1})
    assert states(run2)["yes"] == "skipped" and states(run2)["after_no"] == "success"


async def test_prev_merges_upstream_dicts_later_edges_win() -> None:
    wf = make_wf(
        [("s", "start", {}), ("m1", "merge", {}), ("l1", "loop", {"items": [7]}),
         ("l2", "loop", {"items": [8, 9]}), ("m2", "merge", {}),
         ("j", "delay", {"seconds": 0}), ("o", "output", {"values": {"p": "{{ $prev }}"}})],
        ["s->m1", "s->l1", "s->l2", "l1.done->m2", "l2.done->m2", "m1->j", "m2->j", "j->o"],
        inputs={"v": 1},
    )
    run = await run_wf(wf)
    assert run.outputs["p"] == {
        "s": {"v": 1},
        "l1": {"items": [7], "results": [None]},
        "l2": {"items": [8, 9], "results": [None, None]},
    }
    # several dict upstreams: later edges win on equal keys
    wf2 = make_wf(
        [("s", "start", {}), ("l1", "loop", {"items": [1]}), ("l2", "loop", {"items": [2]}),
         ("j", "delay", {"seconds": 0}), ("o", "output", {"values": {"p": "{{ $prev }}"}})],
        ["s->l1", "s->l2", "l1.done->j", "l2.done->j", "j->o"],
    )
    run2 = await run_wf(wf2)
    assert run2.outputs["p"] == {"items": [2], "results": [None]}


async def test_start_outputs_run_inputs_over_defaults() -> None:
    wf = make_wf(
        [("s", "start", {}), ("o", "output", {"values": {"all": "{{ $prev }}"}})],
        ["s->o"], inputs={"a": 1, "b": {"default": 2}},
    )
    run = await run_wf(wf, inputs={"b": 3, "extra": "x"})
    assert run.outputs["all"] == {"a": 1, "b": 3, "extra": "x"}


async def test_output_blocks_merge_in_topological_order() -> None:
    wf = make_wf(
        [("s", "start", {}), ("o1", "output", {"values": {"a": 1, "k": "first"}}),
         ("d", "delay", {"seconds": 0}), ("o2", "output", {"values": {"b": 2, "k": "second"}})],
        ["s->o1", "s->d", "d->o2"],
    )
    run = await run_wf(wf)
    assert run.outputs == {"a": 1, "b": 2, "k": "second"}


async def test_result_shape() -> None:
    wf = make_wf([("s", "start", {}), ("o", "output", {"values": {"x": 1}})], ["s->o"])
    run = await run_wf(wf)
    res = run.result()
    assert set(res) == {"run_id", "status", "duration_ms", "outputs", "trigger", "nodes"}
    assert set(res["nodes"]["o"]) == {"status", "attempts", "duration_ms", "output", "error",
                                      "source", "reused_from"}
    assert res["nodes"]["o"]["source"] == "ran" and res["nodes"]["o"]["reused_from"] is None
    assert res["nodes"]["o"]["attempts"] == 1


async def test_wide_graph_is_linear_time() -> None:
    n = 1500
    nodes = [("s", "start", {})] + [(f"n{i}", "delay", {"seconds": 0}) for i in range(n)]
    edges = ["s->n0"] + [f"n{i}->n{i + 1}" for i in range(n - 1)]
    wf = make_wf(nodes, edges, max_parallel=8)
    t0 = time.perf_counter()
    run = await run_wf(wf)
    assert run.status == "completed"
    assert time.perf_counter() - t0 < 2.0


async def test_long_skipped_chain_does_not_recurse() -> None:
    n = 3000
    nodes = [("s", "start", {}), ("c", "condition", {"expression": "false"})]
    nodes += [(f"n{i}", "delay", {"seconds": 0}) for i in range(n)]
    edges = ["s->c", "c.true->n0"] + [f"n{i}->n{i + 1}" for i in range(n - 1)]
    run = await run_wf(make_wf(nodes, edges))
    assert run.status == "completed"
    assert run.nodes[f"n{n - 1}"].state == "skipped"
