"""The run's ``max_parallel`` slots: a FIFO counting semaphore whose free slot costs no await.

`asyncio.Semaphore` has no non-blocking acquire, so every node would pay a coroutine for a
slot that is free; here `try_take` is a plain call and only a node that must wait awaits.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Slots:
    """``n`` slots; `give` hands a slot straight to the longest waiter."""

    __slots__ = ("_free", "_waiters")

    def __init__(self, n: int) -> None:
        self._free = n
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_take(self) -> bool:
        """Take a free slot now (True), or leave them alone when none is free or others wait."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def take(self) -> None:
        """Wait for a slot (first come, first served)."""
        if self.try_take():
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.give()  # the slot was handed over just as we were cancelled: pass it on
            elif fut in self._waiters:  # `give` may have dropped it already
                self._waiters.remove(fut)
            raise

    def give(self) -> None:
        """Return a slot: to the first waiter still waiting, else to the free count."""
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self._free += 1
