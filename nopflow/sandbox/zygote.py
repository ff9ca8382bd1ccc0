"""Runner-side client of the zygote (fork server) backend — the POSIX default.

The zygote (``bootstrap.py --zygote``) keeps pre-forked, warmed-up spare children; this
module talks to it over a unix socket, hands a job's fds to a spare (SCM_RIGHTS) and
tracks spares, exits and replacements.  No fork/exec is on a script's critical path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
from collections import deque

from nopflow.sandbox.interpreters import _mode_flag
from nopflow.sandbox.paths import SandboxError
from nopflow.sandbox.procs import IS_LINUX, _Exit, _killpg, _popen, _wait_popen

MAX_SPARES = 8


class _ZygoteDied(Exception):
    pass


# --------------------------------------------------------------------------- backends
class _Zygote:
    """Runner-side handle on one fork-server process (one per interpreter)."""

    def __init__(self, prefix: list[str], label: str) -> None:
        self.prefix = prefix
        self.label = label
        self.loop = asyncio.get_running_loop()
        self.sock: socket.socket | None = None
        self.popen: subprocess.Popen[bytes] | None = None
        self.dead = False
        # Pre-forked spare children announced by the zygote: (pid, socket to the spare).
        self.spares: deque[tuple[int, socket.socket]] = deque()
        self.spare_waiters: deque[asyncio.Future[tuple[int, socket.socket]]] = deque()
        # pid -> its exit; created when the spare is announced, so even a job that exits
        # before its starter resumes is never missed.
        self.exits: dict[int, asyncio.Future[_Exit]] = {}
        self.ready: asyncio.Future[int] = self.loop.create_future()
        self.error: str | None = None
        self.replace_on_exit: set[int] = set()
        self.supply = 2  # spares kept ready (the zygote starts with two); grows with demand
        self.pidns: bool | None = None  # jobs get PID namespaces (as the zygote says)

    async def start(self) -> None:
        kind = socket.SOCK_SEQPACKET if IS_LINUX else socket.SOCK_DGRAM
        parent, child = socket.socketpair(socket.AF_UNIX, kind)
        try:
            argv = [
                *self.prefix,
                _mode_flag(self.prefix, "zygote"),
                str(child.fileno()),
                str(os.getpid()),
            ]
            self.popen = _popen(
                argv,
                self.label,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=(child.fileno(),),
                cwd="/",
                start_new_session=True,
            )
        except SandboxError:
            parent.close()
            raise
        finally:
            child.close()
        parent.setblocking(False)
        self.sock = parent
        self.loop.add_reader(parent.fileno(), self._readable)
        try:
            await asyncio.wait_for(asyncio.shield(self.ready), 30)
        except (asyncio.TimeoutError, _ZygoteDied) as exc:
            rc = self.popen.poll()
            await self.close()
            raise SandboxError(
                f"the Python interpreter {self.label} could not start the sandbox"
                + (f" (exit code {rc})" if rc is not None else "")
            ) from exc

    def _readable(self) -> None:
        assert self.sock is not None
        while True:
            try:
                msg, fds, _flags, _addr = socket.recv_fds(self.sock, 65536, 4)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                msg, fds = b"", []
            if not msg:
                for fd in fds:
                    os.close(fd)
                self._died()
                return
            try:
                obj = json.loads(msg)
            except ValueError:
                obj = {}
            op = obj.get("op")
            if op == "spare" and len(fds) == 1:
                self._add_spare(int(obj["pid"]), fds[0])
                continue
            for fd in fds:
                os.close(fd)
            if op == "exit":
                pid = int(obj["pid"])
                efut = self.exits.pop(pid, None)
                if efut is not None and not efut.done():
                    efut.set_result(_Exit.from_status(int(obj["status"])))
                self.job_done(pid)
                for i, (spid, ssock) in enumerate(self.spares):  # an idle spare died
                    if spid == pid:
                        del self.spares[i]
                        ssock.close()
                        self._ask_spare()
                        break
            elif op == "error":
                self.error = str(obj.get("message"))
                while self.spare_waiters:
                    w = self.spare_waiters.popleft()
                    if not w.done():
                        w.set_exception(SandboxError(f"cannot start a script: {self.error}"))
            elif op == "ready" and not self.ready.done():
                self.pidns = bool(obj.get("pidns"))
                self.ready.set_result(int(obj["pid"]))

    def job_done(self, pid: int) -> None:
        """A job ended (its own report or the zygote's): fork its replacement spare now."""
        if pid in self.replace_on_exit:
            self.replace_on_exit.discard(pid)
            self._ask_spare()

    def _add_spare(self, pid: int, fd: int) -> None:
        os.set_inheritable(fd, False)  # SCM_RIGHTS fds arrive without O_CLOEXEC
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)
        self.exits[pid] = self.loop.create_future()
        while self.spare_waiters:
            w = self.spare_waiters.popleft()
            if not w.done():
                w.set_result((pid, sock))
                return
        self.spares.append((pid, sock))

    def _ask_spare(self) -> None:
        """Ask the zygote to fork one more spare (it answers with an "spare" message)."""
        if self.dead or self.sock is None:
            return
        try:
            self.sock.send(b'{"op": "spare"}')
        except OSError:
            self._died()

    def _died(self) -> None:
        if self.dead:
            return
        self.dead = True
        if self.sock is not None:
            self.loop.remove_reader(self.sock.fileno())
        while self.spare_waiters:
            w = self.spare_waiters.popleft()
            if not w.done():
                w.set_exception(_ZygoteDied())
        while self.spares:
            self.spares.popleft()[1].close()  # EOF: the idle spare exits
        for pid, efut in self.exits.items():
            _killpg(pid, signal.SIGKILL)  # PDEATHSIG does it too; be sure
            if not efut.done():
                efut.set_result(_Exit(None, None))
        self.exits.clear()
        if not self.ready.done():
            self.ready.set_exception(_ZygoteDied())
        if self.popen is not None:
            self.loop.create_task(_wait_popen(self.popen, kill_group=False))

    async def _take_spare(self) -> tuple[int, socket.socket]:
        if self.dead:
            raise _ZygoteDied()
        # One new spare for each one used, so the supply stays constant.  While spares are
        # left, the replacement is forked when this job exits: forking now would compete
        # for the CPU with the job that is just starting.
        if self.spares:
            pid, sock = self.spares.popleft()
            self.replace_on_exit.add(pid)
            return pid, sock
        self._ask_spare()
        fut: asyncio.Future[tuple[int, socket.socket]] = self.loop.create_future()
        self.spare_waiters.append(fut)
        try:
            pid, sock = await asyncio.wait_for(asyncio.shield(fut), 30)
            if self.supply < MAX_SPARES:  # demand outgrew the supply: keep one more
                self.supply += 1
                self.replace_on_exit.add(pid)
            return pid, sock
        except asyncio.TimeoutError as exc:
            raise SandboxError("the sandbox zygote did not answer") from exc
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self.spares.appendleft(fut.result())  # still unused: keep it
            else:
                fut.cancel()
            raise

    async def spawn(self, fds: list[int]) -> tuple[int, asyncio.Future[_Exit]]:
        """Hand `fds` (stdin, stdout, stderr, ctl) to a pre-forked spare: it becomes the job."""
        while True:
            pid, sock = await self._take_spare()
            try:
                socket.send_fds(sock, [b"job"], fds)
            except OSError:  # that spare died meanwhile; its exit message will follow
                sock.close()
                continue
            # Closing a unix socket wakes its peer: do it after start() has returned,
            # while the child runs on another core.
            self.loop.call_soon(sock.close)
            efut = self.exits.get(pid)
            if efut is None:  # pragma: no cover - exit already reported: it died
                continue
            return pid, efut

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def close_sync(self) -> None:
        """Immediate shutdown (atexit): the zygote kills its jobs on EOF/SIGTERM."""
        while self.spares:
            self.spares.popleft()[1].close()
        if self.sock is not None:
            with contextlib.suppress(Exception):
                self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(OSError):
                self.popen.terminate()
        self.dead = True

    async def close(self) -> None:
        popen = self.popen
        if not self.dead:
            self._died()
        self.close_sync()
        if popen is not None:
            try:
                await asyncio.wait_for(_wait_popen(popen, kill_group=False), 2)
            except asyncio.TimeoutError:
                with contextlib.suppress(OSError):
                    popen.kill()
                await _wait_popen(popen, kill_group=False)
