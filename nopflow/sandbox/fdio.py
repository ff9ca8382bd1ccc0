"""Non-blocking pipe I/O on the event loop thread (``loop.add_reader``/``add_writer``).

Selector-style readiness callbacks work on any selector loop, qasync's Qt loop included,
so the runner never needs the loop's own subprocess support.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from typing import Any

# (loop, fd, on_data) -> an object with a `done` future and `close()`: _FdReader here,
# threadio._ThreadReader where the loop cannot watch pipes (Windows).
ReaderFactory = Callable[[asyncio.AbstractEventLoop, int, Callable[[bytes], None]], Any]


class _FdReader:
    """Feed chunks from a non-blocking fd to `on_data` until EOF, via loop.add_reader."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, fd: int, on_data: Callable[[bytes], None]
    ) -> None:
        self.loop = loop
        self.fd = fd
        self.on_data = on_data
        self.done: asyncio.Future[None] = loop.create_future()
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._ready)

    def _ready(self) -> None:
        try:
            data = os.read(self.fd, 1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        try:
            self.on_data(data)
        except Exception:  # a consumer bug must not wedge the loop's reader
            self.close()

    def close(self) -> None:
        if self.fd < 0:
            return
        self.loop.remove_reader(self.fd)
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = -1
        if not self.done.done():
            self.done.set_result(None)


class _FdWriter:
    """Write `data` to a non-blocking fd, then close it; EPIPE (child gone) is fine."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, data: bytes) -> None:
        self.loop = loop
        self.fd = fd
        self.view = memoryview(data)
        self.waiting = False
        os.set_blocking(fd, False)
        self._write()

    def _write(self) -> None:
        while self.view:
            try:
                n = os.write(self.fd, self.view[: 1 << 20])
            except (BlockingIOError, InterruptedError):
                if not self.waiting:
                    self.waiting = True
                    self.loop.add_writer(self.fd, self._write)
                return
            except OSError:
                break
            self.view = self.view[n:]
        self.close()

    def close(self) -> None:
        if self.fd < 0:
            return
        if self.waiting:
            self.loop.remove_writer(self.fd)
            self.waiting = False
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = -1


def _close_all(fds: tuple[int, ...], sock: socket.socket) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    sock.close()


def _job_writers(
    loop: asyncio.AbstractEventLoop, ctl_fd: int, config: bytes, stdin_w: int, stdin_data: bytes
) -> tuple[_FdWriter, _FdWriter]:
    """Start writing the job config (on a dup of the bidirectional ctl socket) and stdin."""
    return _FdWriter(loop, os.dup(ctl_fd), config), _FdWriter(loop, stdin_w, stdin_data)
