"""Retrying a node with exponential backoff, built on tenacity (docs/execution.md).

The backoff is ``initial_delay_s · multiplier^k`` capped at ``max_delay_s`` — exactly
tenacity's ``wait_exponential(multiplier=initial, exp_base=multiplier, max=cap)`` — and
matches `RetryPolicy.delay`. tenacity sleeps through the run's own sleep, so a paused run
stops the backoff clock and a cancel interrupts it at once. Attempts report their outcome
as a value (not an exception) so failing attempts stay cheap and tracebacks stay ours.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
)

from nopflow.model import RetryPolicy

T = TypeVar("T")


def backoff(policy: RetryPolicy) -> wait_exponential:
    """The tenacity wait strategy for a policy."""
    return wait_exponential(
        multiplier=policy.initial_delay_s,
        exp_base=policy.multiplier,
        max=policy.max_delay_s,
        min=0,
    )


async def run_with_retries(
    policy: RetryPolicy,
    attempt: Callable[[int], Awaitable[T]],
    failed: Callable[[T], bool],
    sleep: Callable[[float], Awaitable[None]],
    on_retry: Callable[[int, float, T], None],
    wait_hint: Callable[[T], float | None] | None = None,
) -> T:
    """Call ``attempt(n)`` for n = 1, 2, … until it succeeds or attempts run out.

    ``on_retry(next_attempt, delay_s, last_outcome)`` is called before each backoff.
    ``wait_hint(outcome)`` may name the wait the other side asked for (Retry-After); it
    replaces the backoff, capped at the policy's ``max_delay_s``.
    Returns the last outcome (a failed one when every attempt failed). Cancellation
    propagates out of both an attempt and a backoff.
    """
    if policy.max_attempts <= 1:  # the common case: skip tenacity's bookkeeping
        return await attempt(1)

    def before_sleep(state: RetryCallState) -> None:
        assert state.outcome is not None and state.next_action is not None
        on_retry(state.attempt_number + 1, state.next_action.sleep, state.outcome.result())

    number = 0

    async def one() -> T:
        nonlocal number
        number += 1
        return await attempt(number)

    exponential = backoff(policy)

    def wait(state: RetryCallState) -> float:
        hint = wait_hint(state.outcome.result()) if wait_hint and state.outcome else None
        if hint is not None:
            return max(0.0, min(float(hint), policy.max_delay_s))
        return exponential(state)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.max_attempts),
        wait=wait,
        retry=retry_if_result(failed),
        sleep=sleep,
        before_sleep=before_sleep,
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        reraise=True,
    )
    return await retrying(one)
