"""Pre-spawned worker pool backend (``python -I bootstrap.py --worker``).

A size-0 pool is the plain *spawn* backend: a fresh worker per job.  Workers already own
the job's stdio pipes and wait for the job config on their control socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
from collections import deque
from dataclasses import dataclass

from nopflow.sandbox.interpreters import _mode_flag
from nopflow.sandbox.paths import SandboxError
from nopflow.sandbox.procs import _killpg, _popen, _wait_popen


@dataclass
class _Worker:
    popen: subprocess.Popen[bytes]
    stdin_w: int
    stdout_r: int
    stderr_r: int
    ctl: socket.socket

    def discard(self) -> None:
        for fd in (self.stdin_w, self.stdout_r, self.stderr_r):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.ctl.close()
        _killpg(self.popen.pid, signal.SIGKILL)


class _Pool:
    """Pre-spawned workers (size 0 = plain spawn per job), replenished in the background."""

    def __init__(self, prefix: list[str], label: str, size: int) -> None:
        self.prefix = prefix
        self.label = label
        self.size = size
        self.idle: deque[_Worker] = deque()
        self.filling: asyncio.Task[None] | None = None
        self.closed = False

    def _spawn(self) -> _Worker:
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        ctl_p, ctl_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            popen = _popen(
                [*self.prefix, _mode_flag(self.prefix, "worker"), str(ctl_c.fileno())],
                self.label,
                stdin=in_r,
                stdout=out_w,
                stderr=err_w,
                pass_fds=(ctl_c.fileno(),),
                cwd="/",
                start_new_session=True,
            )
        except SandboxError:
            for fd in (in_w, out_r, err_r):
                os.close(fd)
            ctl_p.close()
            raise
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
            ctl_c.close()
        return _Worker(popen, in_w, out_r, err_r, ctl_p)

    def _fill_soon(self) -> None:
        if self.closed or self.size <= 0 or (self.filling and not self.filling.done()):
            return

        async def fill() -> None:
            while not self.closed and len(self.idle) < self.size:
                await asyncio.sleep(0)  # let the job that triggered us get going first
                try:
                    self.idle.append(self._spawn())
                except SandboxError:
                    return

        self.filling = asyncio.get_running_loop().create_task(fill())

    def take(self) -> _Worker:
        while self.idle:
            w = self.idle.popleft()
            if w.popen.poll() is None:
                self._fill_soon()
                return w
            w.discard()
        w = self._spawn()
        self._fill_soon()
        return w

    def close_sync(self) -> None:
        self.closed = True
        if self.filling:
            self.filling.cancel()
        while self.idle:
            self.idle.popleft().discard()

    async def close(self) -> None:
        idle = list(self.idle)
        self.close_sync()
        for w in idle:
            await _wait_popen(w.popen, kill_group=False)
