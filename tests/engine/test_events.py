"""The event bus and event shapes."""

from __future__ import annotations

import json
import logging

import pytest
from wfhelpers import make_wf, run_wf

from nopflow.engine.events import Event, EventBus, NodeStateChanged, Progress


def test_bus_isolates_failing_subscribers(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    got: list[Event] = []

    def boom(_: Event) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe(boom)
    unsubscribe = bus.subscribe(got.append)
    ev = Progress("r", 0.0, done=1, total=2)
    with caplog.at_level(logging.ERROR):
        bus.emit(ev)
    assert got == [ev]
    assert "subscriber" in caplog.text
    unsubscribe()
    bus.emit(ev)
    assert got == [ev]


async def test_every_event_is_json_with_kind_and_in_order() -> None:
    wf = make_wf([("s", "start", {}), ("d", "delay", {"seconds": 0}),
                  ("o", "output", {"values": {"x": 1}})], ["s->d", "d->o"])
    events: list[Event] = []

    def broken(_: Event) -> None:
        raise ValueError("never breaks the run")

    run = await run_wf(wf, events, control=lambda r: r.events.subscribe(broken))
    assert run.status == "completed"
    dicts = [json.loads(json.dumps(e.to_dict())) for e in events]
    assert dicts[0]["event"] == "run_started" and dicts[-1]["event"] == "run_finished"
    assert dicts[-1]["outputs"] == {"x": 1}
    node_d = [(d["state"]) for d in dicts if d["event"] == "node_state" and d["node_id"] == "d"]
    assert node_d == ["running", "success"]
    progress = [d["done"] for d in dicts if d["event"] == "progress"]
    assert progress == [1, 2, 3]
    assert all(isinstance(e, NodeStateChanged) for e in events if e.kind == "node_state")


async def test_subscribers_see_a_run_from_start_to_finish() -> None:
    from nopflow.engine import Run, RunState

    wf = make_wf([("s", "start", {}), ("o", "output", {"values": {"x": "{{ $input.a }}"}})],
                 ["s->o"], inputs={"a": 1})
    seen: list[str] = []
    run = Run(wf, inputs={"a": 2})
    run.events.subscribe(lambda e: seen.append(e.kind))
    await run.execute()
    assert run.state is RunState.COMPLETED and run.outputs == {"x": 2}
    assert seen[0] == "run_started" and seen[-1] == "run_finished"


async def test_parallel_loop_events_name_their_own_iteration() -> None:
    # Parallel iterations share one node record; each event must still carry the iteration
    # that produced it, so a viewer sees every item start and finish exactly once.
    wf = make_wf([("s", "start", {}), ("l", "loop", {"count": 6, "parallel": 3}),
                  ("d", "delay", {"seconds": "{{ 0.01 * (5 - $loop.index) }}"})],
                 ["s->l", "l.body->d"])
    events: list[Event] = []
    run = await run_wf(wf, events)
    assert run.state.value == "completed"
    seen = [(e.state, e.iteration) for e in events
            if isinstance(e, NodeStateChanged) and e.node_id == "d"]
    for state in ("running", "success"):
        assert sorted(i for s, i in seen if s == state) == list(range(6))


async def test_success_events_name_the_ports_that_fired() -> None:
    wf = make_wf([("s", "start", {}), ("c", "condition", {"expression": "1 > 2"}),
                  ("l", "loop", {"count": 2}), ("d", "delay", {"seconds": 0}),
                  ("e", "loop", {"items": []}), ("x", "delay", {"seconds": 0})],
                 ["s->c", "c.false->l", "l.body->d", "c.false->e", "e.body->x"])
    events: list[Event] = []
    run = await run_wf(wf, events)
    fired = {e.node_id: e.ports for e in events
             if isinstance(e, NodeStateChanged) and e.state == "success"}
    assert fired["c"] == ("false",)
    assert fired["l"] == ("body", "done")  # the body ran, then done
    assert fired["e"] == ("done",)  # no items: the body never ran
    assert fired["s"] is None  # a plain node fires all its ports
    assert run.nodes["l"].details["ports"] == ["body", "done"]
