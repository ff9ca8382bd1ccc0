"""pause / resume / cancel at various moments."""

from __future__ import annotations

import asyncio
import time

from wfhelpers import make_wf, states

from nopflow.engine.events import Event
from nopflow.engine.runner import Run


def delays(*seconds: float, parallel: int = 4):
    nodes = [("s", "start", {})]
    nodes += [(f"d{i}", "delay", {"seconds": s}) for i, s in enumerate(seconds)]
    return make_wf(nodes, [f"s->d{i}" for i in range(len(seconds))], max_parallel=parallel)


async def start(run: Run) -> asyncio.Future[Run]:
    task = asyncio.ensure_future(run.execute())
    await asyncio.sleep(0.05)
    return task


async def test_cancel_long_delays_is_prompt() -> None:
    run = Run(delays(60, 60, 60, parallel=2))
    events: list[Event] = []
    run.events.subscribe(events.append)
    task = await start(run)
    t0 = time.perf_counter()
    run.cancel()
    await task
    assert time.perf_counter() - t0 < 0.15
    assert run.status == "cancelled"
    assert set(states(run).values()) == {"success", "cancelled"}  # start succeeded
    assert states(run)["d2"] == "cancelled"  # never started (no slot): marked cancelled
    assert events[-1].kind == "run_finished"
    assert events[-1].to_dict()["status"] == "cancelled"


async def test_cancel_is_idempotent_and_before_start() -> None:
    run = Run(delays(1))
    run.cancel()
    run.cancel()
    await run.execute()
    assert run.status == "cancelled"
    assert set(states(run).values()) == {"cancelled"}
    run.cancel()  # after the end: no-op
    run.pause()
    run.resume()
    assert run.status == "cancelled"


async def test_pause_holds_new_starts_and_delay_clock() -> None:
    wf = make_wf([("s", "start", {}), ("a", "delay", {"seconds": 0.2}),
                  ("b", "delay", {"seconds": 0})], ["s->a", "a->b"])
    run = Run(wf)
    kinds: list[str] = []
    run.events.subscribe(lambda e: kinds.append(e.kind))
    task = await start(run)
    run.pause()
    run.pause()  # idempotent
    assert run.status == "paused"
    await asyncio.sleep(0.4)
    assert not task.done()
    assert run.nodes["a"].state == "running"  # paused delays do not count their time
    assert run.nodes["b"].state == "pending"
    t0 = time.perf_counter()
    run.resume()
    run.resume()
    await task
    resumed_for = time.perf_counter() - t0
    assert 0.1 < resumed_for < 0.4  # the rest of the delay (~0.15 s), not zero
    assert run.status == "completed"
    assert kinds.count("run_paused") == 1 and kinds.count("run_resumed") == 1


async def test_pause_before_slot_then_cancel() -> None:
    run = Run(delays(0.1, 0.1))
    task = asyncio.ensure_future(run.execute())
    await asyncio.sleep(0)  # started, nodes not yet running
    run.pause()
    await asyncio.sleep(0.2)
    assert all(rec.state in ("pending", "success") for rec in run.nodes.values())
    run.cancel()
    await asyncio.wait_for(task, 1)
    assert run.status == "cancelled"
    assert states(run)["d0"] == "cancelled"


async def test_cancel_while_paused() -> None:
    run = Run(delays(5))
    task = await start(run)
    run.pause()
    run.cancel()
    await asyncio.wait_for(task, 1)
    assert run.status == "cancelled"


async def test_cancel_inside_loop_body() -> None:
    wf = make_wf(
        [("s", "start", {}), ("l", "loop", {"count": 3, "parallel": 2}),
         ("d", "delay", {"seconds": 30}), ("o", "output", {"values": {"x": 1}})],
        ["s->l", "l.body->d", "l.done->o"],
    )
    run = Run(wf)
    task = await start(run)
    t0 = time.perf_counter()
    run.cancel()
    await task
    assert time.perf_counter() - t0 < 0.15
    assert states(run) == {"s": "success", "l": "cancelled", "d": "cancelled", "o": "cancelled"}


async def test_execute_task_cancelled_finishes_run() -> None:
    run = Run(delays(30))
    task = await start(run)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    assert run.status == "cancelled"
    assert states(run)["d0"] == "cancelled"


async def test_execute_twice_refused() -> None:
    run = Run(delays(0))
    await run.execute()
    try:
        await run.execute()
    except RuntimeError:
        pass
    else:
        raise AssertionError("second execute should be refused")
