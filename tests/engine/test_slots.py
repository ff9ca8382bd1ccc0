"""The run's slots: bounded, first come first served, and no slot lost to a cancelled waiter."""

from __future__ import annotations

import asyncio

from wfhelpers import make_wf, run_wf

from nopflow.engine.events import Event, NodeStateChanged
from nopflow.engine.runner import Run
from nopflow.engine.slots import Slots


async def test_waiters_get_slots_in_order_and_a_cancelled_one_passes_its_slot_on() -> None:
    slots = Slots(1)
    assert slots.try_take() and not slots.try_take()
    got: list[str] = []

    async def wait(name: str) -> None:
        await slots.take()
        got.append(name)

    a, b, c = (asyncio.ensure_future(wait(n)) for n in "abc")
    assert not b.done()
    await asyncio.sleep(0)
    slots.give()  # handed to `a`, which is cancelled before it runs: `b` must get it
    a.cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert got == ["b"] and a.cancelled() and not c.done()
    slots.give()
    await c
    assert got == ["b", "c"]
    slots.give()
    assert slots.try_take() and not slots.try_take()  # exactly one slot, none lost or made


async def test_a_cancel_while_waiting_for_a_slot_takes_nothing() -> None:
    slots = Slots(1)
    assert slots.try_take()
    waiter = asyncio.ensure_future(slots.take())
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.sleep(0)
    slots.give()
    assert slots.try_take() and not slots.try_take()


async def test_no_more_than_max_parallel_nodes_run_at_once_across_pause() -> None:
    nodes = [("s", "start", {})] + [(f"d{i}", "delay", {"seconds": 0.05}) for i in range(9)]
    wf = make_wf(nodes, [f"s->d{i}" for i in range(9)], max_parallel=2)
    events: list[Event] = []
    running: set[str] = set()
    peak = 0

    def watch(ev: Event) -> None:
        nonlocal peak
        if isinstance(ev, NodeStateChanged) and ev.node_id != "s":
            (running.add if ev.state == "running" else running.discard)(ev.node_id)
            peak = max(peak, len(running))

    async def drive(run: Run) -> None:
        await asyncio.sleep(0.07)
        run.pause()
        await asyncio.sleep(0.1)
        run.resume()

    def control(run: Run) -> None:
        run.events.subscribe(watch)
        tasks.append(asyncio.ensure_future(drive(run)))

    tasks: list[asyncio.Future[None]] = []
    run = await run_wf(wf, events, control=control)
    await asyncio.gather(*tasks)
    assert any(getattr(e, "kind", "") == "run_paused" for e in events)
    assert run.status == "completed" and peak == 2
    assert all(run.nodes[f"d{i}"].state == "success" for i in range(9))
