"""Per-run temp directories, made ahead of time off the event loop.

A latency optimisation with its own small lifecycle (refill, close), so it lives alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections import deque
from pathlib import Path


class _TempDirs:
    """Per-run temp folders, made ahead of time in a worker thread.

    mkdir on a journaling filesystem costs ~0.5 ms — a quarter of a whole script run from
    the zygote — so a couple are kept ready and refilled off the event loop.
    """

    def __init__(self, ahead: int = 2) -> None:
        self.ahead = ahead
        self.ready: deque[Path] = deque()
        self.refilling = False
        self.closed = False

    def take(self) -> Path:
        path = self.ready.popleft() if self.ready else self._make()
        self._refill()
        return path

    @staticmethod
    def _make() -> Path:
        return Path(tempfile.mkdtemp(prefix="nopflow-run-")).resolve()

    def _refill(self) -> None:
        if self.refilling or self.closed or len(self.ready) >= self.ahead:
            return
        self.refilling = True
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(None, self._make)

        def done(f: asyncio.Future[Path]) -> None:
            self.refilling = False
            if f.cancelled() or f.exception() is not None:
                return
            if self.closed:
                with contextlib.suppress(OSError):
                    os.rmdir(f.result())
                return
            self.ready.append(f.result())
            self._refill()

        fut.add_done_callback(done)

    def close(self) -> None:
        self.closed = True
        while self.ready:
            with contextlib.suppress(OSError):
                os.rmdir(self.ready.popleft())
