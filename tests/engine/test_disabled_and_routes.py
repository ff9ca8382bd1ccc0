"""Disabled nodes (skipped, reason disabled, input passed through) and error routes
(`error_mode: "route"`: only the error port's edges are live, the failure is handled)."""

from __future__ import annotations

from wfhelpers import make_wf, run_wf, states

from nopflow.engine.compiler import validate
from nopflow.engine.events import NodeStateChanged, RunFinished

FAIL = ("delay", {"seconds": "{{ $input.missing }}"})
OFF = {"disabled": True}


async def test_a_disabled_node_does_not_run_and_passes_its_input_through() -> None:
    wf = make_wf(
        [("s", "start", {}), ("double", "transform", {"items": "$prev.xs",
                                                      "map": "{{ $item * 2 }}"}, OFF),
         ("o", "output", {"values": {"seen": "{{ $prev }}", "by_id": "{{ $node.double }}"}})],
        ["s->double", "double->o"], inputs={"xs": {"default": [1, 2]}})
    events: list = []
    run = await run_wf(wf, events)
    assert run.status == "completed"
    assert states(run) == {"s": "success", "double": "skipped", "o": "success"}
    assert run.outputs == {"seen": {"xs": [1, 2]}, "by_id": {"xs": [1, 2]}}
    rec = run.nodes["double"].to_data()
    assert rec.details["reason"] == "disabled" and rec.attempts == 0
    assert rec.output == {"xs": [1, 2]}
    assert [e.state for e in events if isinstance(e, NodeStateChanged)
            and e.node_id == "double"] == ["skipped"]


async def test_a_disabled_node_that_would_fail_is_not_run_and_the_run_completes() -> None:
    wf = make_wf([("s", "start", {}), ("bad", *FAIL, OFF), ("o", "output", {"values": {"ok": 1}})],
                 ["s->bad", "bad->o"])
    run = await run_wf(wf)
    assert run.status == "completed" and run.outputs == {"ok": 1}


async def test_a_disabled_condition_passes_through_its_first_port_only() -> None:
    wf = make_wf(
        [("s", "start", {}), ("c", "condition", {"expression": "false"}, OFF),
         ("yes", "delay", {"seconds": 0}), ("no", "delay", {"seconds": 0})],
        ["s->c", "c.true->yes", "c.false->no"])
    run = await run_wf(wf)
    assert states(run) == {"s": "success", "c": "skipped", "yes": "success", "no": "skipped"}


async def test_a_disabled_node_after_a_skipped_branch_passes_nothing() -> None:
    wf = make_wf(
        [("s", "start", {}), ("c", "condition", {"expression": "false"}),
         ("d", "delay", {"seconds": 0}, OFF), ("after", "delay", {"seconds": 0})],
        ["s->c", "c.true->d", "d->after"])
    run = await run_wf(wf)
    assert states(run)["d"] == "skipped" and states(run)["after"] == "skipped"


async def test_disabled_nodes_inside_a_loop_body_pass_each_item() -> None:
    wf = make_wf(
        [("s", "start", {}), ("l", "loop", {"items": [1, 2, 3]}),
         ("inc", "transform", {"items": "[$prev]", "map": "{{ $item + 100 }}"}, OFF),
         ("o", "output", {"values": {"r": "{{ $prev.results }}"}})],
        ["s->l", "l.body->inc", "l.done->o"])
    run = await run_wf(wf)
    assert run.outputs["r"] == [1, 2, 3]


def test_the_compiler_still_checks_a_disabled_node() -> None:
    wf = make_wf([("s", "start", {}), ("t", "transform", {"map": {"x": "{{ $item. }}"}}, OFF)],
                 ["s->t"])
    assert [p.node_id for p in validate(wf)] == ["t"]


def routed(after_ok: bool = True):
    return make_wf(
        [("s", "start", {}), ("bad", *FAIL, {"error_mode": "route"}),
         ("ok", "delay", {"seconds": 0}), ("handler", "delay", {"seconds": 0}),
         ("o", "output", {"values": {"caught": "{{ $prev }}"}})],
        ["s->bad", "bad->ok", "bad.error->handler", "handler->o"],
        inputs={"n": {"default": 3}}, error_mode="stop")


async def test_a_routed_failure_takes_only_the_error_edges_and_is_handled() -> None:
    events: list = []
    run = await run_wf(routed(), events)
    assert run.status == "completed"
    assert states(run) == {"s": "success", "bad": "error", "ok": "skipped",
                           "handler": "success", "o": "success"}
    caught = run.outputs["caught"]
    assert caught["node"] == "bad" and caught["type"] == "ExpressionError"
    assert caught["error"] == run.nodes["bad"].error and "missing" in caught["error"]
    assert caught["inputs"] == {"n": 3}
    assert set(caught) == {"error", "type", "node", "inputs"}
    finished = next(e for e in events if isinstance(e, RunFinished))
    assert finished.status == "completed" and finished.error is None
    assert run.nodes["bad"].to_data().details["handled"] is True


async def test_a_routed_node_that_succeeds_does_not_fire_its_error_port() -> None:
    wf = make_wf(
        [("s", "start", {}), ("fine", "delay", {"seconds": 0}, {"error_mode": "route"}),
         ("next", "delay", {"seconds": 0}), ("handler", "delay", {"seconds": 0})],
        ["s->fine", "fine->next", "fine.error->handler"])
    run = await run_wf(wf)
    assert run.status == "completed"
    assert states(run) == {"s": "success", "fine": "success", "next": "success",
                           "handler": "skipped"}


async def test_a_route_is_taken_after_the_retries() -> None:
    wf = make_wf(
        [("s", "start", {}), ("bad", *FAIL, {"error_mode": "route", "retry": {
            "max_attempts": 3, "initial_delay_s": 0.01}}),
         ("handler", "output", {"values": {"e": "{{ $prev.node }}"}})],
        ["s->bad", "bad.error->handler"])
    run = await run_wf(wf)
    assert run.status == "completed" and run.outputs == {"e": "bad"}
    assert run.nodes["bad"].attempt == 3


async def test_an_unrouted_failure_after_a_handled_one_still_fails_the_run() -> None:
    wf = make_wf(
        [("s", "start", {}), ("bad", *FAIL, {"error_mode": "route"}),
         ("worse", *FAIL)],
        ["s->bad", "bad.error->worse"], error_mode="stop")
    run = await run_wf(wf)
    assert run.status == "failed" and states(run)["worse"] == "error"


def test_the_error_port_exists_only_on_routed_nodes() -> None:
    wf = make_wf([("s", "start", {}), ("a", "delay", {"seconds": 0}),
                  ("h", "delay", {"seconds": 0})], ["s->a", "a.error->h"])
    (problem,) = validate(wf)
    assert problem.node_id == "a"
    assert "delay has no output port 'error' (its output ports: out); set the node's " \
           "error_mode to \"route\" to give it one" in problem.message
