"""Pipe I/O through small daemon threads, for loops that cannot watch pipes.

On Windows neither the Proactor loop nor qasync's Windows loop supports ``add_reader``,
and anonymous pipes cannot be made non-blocking.  Rather than depend on the loop's own
subprocess support (which differs between asyncio's Proactor and qasync), each pipe gets a
thread doing plain blocking reads/writes and handing data to the loop with
``call_soon_threadsafe`` — that works on every loop.  Same interface as fdio's classes.

The thread owns its fd and closes it when it is done, so an fd number is never reused
under a blocked read.  ``close()`` stops delivery at once; the thread itself ends at EOF
(or a broken pipe), which comes when the job's processes are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import threading
from collections.abc import Callable

__all__ = ["_ThreadReader", "_ThreadWriter", "_wait_in_thread"]


def _call(loop: asyncio.AbstractEventLoop, fn: Callable[..., object], *args: object) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
        loop.call_soon_threadsafe(fn, *args)


class _ThreadReader:
    """Feed chunks read from `fd` (blocking) to `on_data` on the loop until EOF."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, fd: int, on_data: Callable[[bytes], None]
    ) -> None:
        self.loop = loop
        self.fd = fd
        self.on_data = on_data
        self.closed = False
        self.done: asyncio.Future[None] = loop.create_future()
        self.thread = threading.Thread(target=self._run, name="nopflow-sandbox-read", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                try:
                    data = os.read(self.fd, 1 << 16)
                except InterruptedError:  # pragma: no cover - PEP 475 retries
                    continue
                except OSError:
                    data = b""
                if not data:
                    break
                _call(self.loop, self._deliver, data)
        finally:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            _call(self.loop, self.close)

    def _deliver(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self.on_data(data)
        except Exception:  # a consumer bug must not hide the EOF
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if not self.done.done():
            self.done.set_result(None)


class _ThreadWriter:
    """Write `data` to `fd` (blocking) in a thread, then close it; a broken pipe is fine."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, data: bytes) -> None:
        self.fd = fd
        self.data = data
        self.closed = False
        self.thread = threading.Thread(target=self._run, name="nopflow-sandbox-write", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        view = memoryview(self.data)
        try:
            while view and not self.closed:
                n = os.write(self.fd, view[: 1 << 20])
                view = view[n:]
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                os.close(self.fd)

    def close(self) -> None:
        """Write no further chunk (one in progress ends when the reader goes away)."""
        self.closed = True


def _wait_in_thread(
    loop: asyncio.AbstractEventLoop, popen: subprocess.Popen[bytes]
) -> asyncio.Future[int]:
    """A future for `popen`'s return code, waited for in a daemon thread."""
    fut: asyncio.Future[int] = loop.create_future()

    def set_rc(rc: int) -> None:
        if not fut.done():
            fut.set_result(rc)

    def run() -> None:
        _call(loop, set_rc, popen.wait())

    threading.Thread(target=run, name="nopflow-sandbox-wait", daemon=True).start()
    return fut
