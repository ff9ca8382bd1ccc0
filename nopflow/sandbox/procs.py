"""Child-process primitives shared by every backend: platform flags, the environment
allow-list, signalling a process group, waiting for a child without blocking the loop,
and a normalised exit status.

One place for these so the zygote client, the pool and the handle agree on how a job's
group is signalled and how an exit is represented.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from typing import Any, Protocol

from nopflow.sandbox.paths import SandboxError

IS_LINUX = sys.platform.startswith("linux")
IS_POSIX = os.name == "posix"
ENV_ALLOW = ("PATH", "HOME", "LANG", "LC_ALL")
# Windows needs a few more for Python and ordinary tools to work at all (SYSTEMROOT for
# sockets/crypto, PATHEXT/COMSPEC for finding programs, USERPROFILE/APPDATA as "home").
ENV_ALLOW_WINDOWS = (
    "PATH", "PATHEXT", "SYSTEMROOT", "WINDIR", "COMSPEC", "USERPROFILE", "HOMEDRIVE",
    "HOMEPATH", "APPDATA", "LOCALAPPDATA", "LANG", "LC_ALL",
)  # fmt: skip


def _killpg(pgid: int, sig: int) -> None:
    """Signal a job's process group — or just its leader if the group does not exist yet.

    A spare is announced right after its fork and makes itself a session leader a moment
    later; a signal sent in between must still reach it.
    """
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        with contextlib.suppress(OSError):
            os.kill(pgid, sig)
    except OSError:
        pass


class _JobControl(Protocol):
    """How a handle stops, continues and kills a job (all best effort, never raising)."""

    def terminate(self) -> None: ...  # ask to end (POSIX: TERM); `kill` follows after a grace
    def kill(self) -> None: ...
    def suspend(self) -> None: ...
    def resume(self) -> None: ...


class _GroupControl:
    """A job's POSIX process group (the zygote, pool and spawn backends)."""

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid

    def terminate(self) -> None:
        _killpg(self.pgid, signal.SIGTERM)
        _killpg(self.pgid, signal.SIGCONT)  # a stopped group must wake up to die

    def kill(self) -> None:
        _killpg(self.pgid, signal.SIGKILL)

    def suspend(self) -> None:
        _killpg(self.pgid, signal.SIGSTOP)

    def resume(self) -> None:
        _killpg(self.pgid, signal.SIGCONT)


def _base_env() -> dict[str, str]:
    allow = ENV_ALLOW_WINDOWS if sys.platform == "win32" else ENV_ALLOW
    env = {k: os.environ[k] for k in allow if k in os.environ}
    env.setdefault("PATH", os.defpath)
    return env


def _popen(argv: list[str], label: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start a sandbox process (zygote, worker) with the environment allow-list only;
    SandboxError, in the user's terms, when the interpreter cannot be started."""
    try:
        return subprocess.Popen(argv, env=_base_env(), **kwargs)
    except OSError as exc:
        raise SandboxError(f"cannot start the Python interpreter {label}: {exc}") from exc


async def _wait_popen(popen: subprocess.Popen[bytes], *, kill_group: bool) -> int:
    """Wait for a direct child without blocking the loop; return its wait-style code.

    With `kill_group`, the child's process group is SIGKILLed while the child is still a
    zombie (so its pgid cannot have been reused) — stragglers die with the job.
    """
    loop = asyncio.get_running_loop()
    pfd = None
    if hasattr(os, "pidfd_open"):
        try:
            pfd = os.pidfd_open(popen.pid)
        except OSError:
            pfd = None
    if pfd is not None:
        fut: asyncio.Future[None] = loop.create_future()
        loop.add_reader(pfd, _set_done, fut)
        try:
            await fut
        finally:
            loop.remove_reader(pfd)
            os.close(pfd)
        if kill_group:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitid(os.P_PID, popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            _killpg(popen.pid, signal.SIGKILL)
        while popen.poll() is None:  # pragma: no cover - pidfd said it exited
            await asyncio.sleep(0.005)
    else:
        delay = 0.002
        while popen.poll() is None:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
        if kill_group:
            _killpg(popen.pid, signal.SIGKILL)
    return popen.returncode


def _set_done(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _Exit:
    """Normalised exit: `code` for a normal exit, `signal` if killed, both None = unknown."""

    __slots__ = ("code", "signal")

    def __init__(self, code: int | None, sig: int | None) -> None:
        self.code = code
        self.signal = sig

    @classmethod
    def from_status(cls, status: int) -> _Exit:
        if os.WIFSIGNALED(status):
            return cls(None, os.WTERMSIG(status))
        return cls(os.WEXITSTATUS(status), None)

    @classmethod
    def from_returncode(cls, rc: int) -> _Exit:
        return cls(None, -rc) if rc < 0 else cls(rc, None)
