"""Retries: attempt counts, backoff timing, events, cancel during backoff."""

from __future__ import annotations

import asyncio
import time

from wfhelpers import make_wf, run_wf

from nopflow.engine.events import Event, NodeRetryScheduled, NodeStateChanged
from nopflow.engine.retry import backoff
from nopflow.model import RetryPolicy


def failing(retry: dict) -> object:
    return make_wf(
        [("s", "start", {}), ("bad", "delay", {"seconds": "{{ $input.nope }}"}, {"retry": retry})],
        ["s->bad"],
    )


async def test_retries_until_attempts_run_out_with_backoff() -> None:
    wf = failing({"max_attempts": 3, "initial_delay_s": 0.1, "multiplier": 2, "max_delay_s": 5})
    events: list[Event] = []
    t0 = time.perf_counter()
    run = await run_wf(wf, events)
    took = time.perf_counter() - t0
    rec = run.nodes["bad"]
    assert rec.state == "error" and rec.attempt == 3
    assert [a.attempt for a in rec.attempts] == [1, 2, 3]
    assert all(a.error for a in rec.attempts)
    retries = [e for e in events if isinstance(e, NodeRetryScheduled)]
    assert [(e.attempt, round(e.delay_s, 3)) for e in retries] == [(2, 0.1), (3, 0.2)]
    running = [e.attempt for e in events if isinstance(e, NodeStateChanged)
               and e.node_id == "bad" and e.state == "running"]
    assert running == [1, 2, 3]
    assert 0.28 < took < 0.8


def test_backoff_matches_policy_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=10, initial_delay_s=1, multiplier=3, max_delay_s=10)
    wait = backoff(policy)

    class State:
        def __init__(self, n: int) -> None:
            self.attempt_number = n

    got = [wait(State(n)) for n in range(1, 6)]  # type: ignore[arg-type]
    assert got == [policy.delay(n) for n in range(1, 6)] == [1, 3, 9, 10, 10]


async def test_success_after_retry_is_success() -> None:
    wf = make_wf(
        [("s", "start", {}), ("flaky", "delay", {"seconds": "{{ $vars.x }}"},
                              {"retry": {"max_attempts": 2, "initial_delay_s": 0.05}})],
        ["s->flaky"], variables={"x": 0},
    )
    run = await run_wf(wf)
    assert run.status == "completed" and run.nodes["flaky"].attempt == 1


async def test_cancel_interrupts_backoff() -> None:
    wf = failing({"max_attempts": 5, "initial_delay_s": 30, "multiplier": 1, "max_delay_s": 30})

    async def main():
        from nopflow.engine.runner import Run

        run = Run(wf)
        task = asyncio.ensure_future(run.execute())
        await asyncio.sleep(0.1)
        t0 = time.perf_counter()
        run.cancel()
        await task
        return run, time.perf_counter() - t0

    run, took = await main()
    assert took < 0.1
    assert run.status == "cancelled"
    assert run.nodes["bad"].state == "cancelled"
