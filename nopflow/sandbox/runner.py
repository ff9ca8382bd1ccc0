"""App side of the script sandbox: start, watch, bound, pause and kill script children.

Everything here runs on the asyncio loop thread and never blocks it for longer than a
fork/exec: pipes are read with ``loop.add_reader`` (works on qasync's Qt loop too), exit
is noticed through the child's own exit report + EOF, the zygote's wait status, a pidfd or
polling, and work that may take time (temp dirs) goes to the default executor.

Backends (one per interpreter path, chosen by ``ScriptRunner(prefer=...)``):

``zygote``  (POSIX default) a pre-started fork server keeps pre-forked, warmed-up spare
            children; a job is handed to a spare (no fork/exec on the critical path).
``pool``    1-2 pre-spawned ``python -I`` workers waiting for a job on their control fd.
``spawn``   a fresh worker per job (slowest, simplest; the pool with size 0).

Every job always runs in a fresh process and confines *itself* (see bootstrap.py); the
app never uses ``preexec_fn`` because the GUI process is multi-threaded.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nopflow.sandbox import bootstrap
from nopflow.sandbox.paths import SandboxError, check_input_paths, check_inside

__all__ = [
    "ScriptHandle",
    "ScriptResult",
    "ScriptRunner",
    "ScriptSpec",
    "avalidate_interpreter",
    "validate_interpreter",
]

IS_LINUX = sys.platform.startswith("linux")
IS_POSIX = os.name == "posix"
ENV_ALLOW = ("PATH", "HOME", "LANG", "LC_ALL")
KILL_GRACE_S = 0.5
DRAIN_GRACE_S = 2.0
NPROC_HEADROOM = 1024
MAX_SPARES = 8
NPROC_REFRESH_S = 5.0
MAX_STDERR_LINE = 8192


@dataclass(frozen=True)
class ScriptSpec:
    """Everything needed to run one script block once."""

    project_dir: Path
    code: str | None = None
    script: str | None = None
    input: object = None
    timeout_s: float = 30.0
    memory_mb: int = 2048
    cpu_s: int | None = None
    python: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    temp_dir: Path | None = None
    max_stdout_bytes: int = 64 * 2**20
    stderr_tail_lines: int = 200
    label: str = ""
    check_inputs: bool = True  # run check_input_paths() on `input` before starting


@dataclass
class ScriptResult:
    """Outcome of one run; `error`'s first line says what happened in the user's terms."""

    ok: bool
    output: object
    error: str | None
    error_type: str | None
    traceback: str | None
    stderr_tail: str
    exit_code: int | None
    duration_s: float


# --------------------------------------------------------------------------- helpers
def _fmt_num(x: float) -> str:
    return f"{x:g}"


def _fmt_bytes(n: int) -> str:
    if n >= 2**20 and n % 2**20 == 0:
        return f"{n // 2**20} MiB"
    if n >= 2**10 and n % 2**10 == 0:
        return f"{n // 2**10} KiB"
    return f"{n} bytes"


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


def _base_env() -> dict[str, str]:
    env = {k: os.environ[k] for k in ENV_ALLOW if k in os.environ}
    env.setdefault("PATH", os.defpath)
    return env


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _interpreter_cmd(python: str | None) -> tuple[str, list[str]]:
    """Return (cache key, argv prefix up to the mode flag) for an interpreter choice."""
    frozen = bool(getattr(sys, "frozen", False))
    if python is None or _same_file(python, sys.executable):
        if frozen:
            return "", [sys.executable]
        return "", [sys.executable, "-I", "-X", "utf8", bootstrap.BOOTSTRAP_FILE]
    path = shutil.which(python) if os.sep not in python else python
    if not path or not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise SandboxError(f"Python interpreter not found: {python}")
    return os.path.realpath(path), [path, "-I", "-X", "utf8", bootstrap.BOOTSTRAP_FILE]


def _mode_flag(prefix: list[str], mode: str) -> str:
    frozen = bool(getattr(sys, "frozen", False)) and prefix == [sys.executable]
    return f"--sandbox-{mode}" if frozen else f"--{mode}"


def validate_interpreter(path: str) -> str | None:
    """Check that `path` is a usable Python (>= 3.8) for script blocks.

    Returns None when fine, else a one-line message.  Blocking (runs the interpreter):
    call from the CLI / validate step, or use `avalidate_interpreter` on the loop.
    """
    try:
        _key, prefix = _interpreter_cmd(path)
    except SandboxError as exc:
        return str(exc)
    try:
        proc = subprocess.run(
            [prefix[0], "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=15,
            env=_base_env(),
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"Python interpreter {path} does not run: {exc}"
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or [""])[-1]
        return f"Python interpreter {path} failed (exit code {proc.returncode}): {tail}"
    try:
        major, minor = (int(x) for x in proc.stdout.strip().split("."))
    except ValueError:
        return f"{path} does not look like a Python interpreter"
    if (major, minor) < (3, 8):
        return f"Python interpreter {path} is {major}.{minor}; script blocks need 3.8 or newer"
    return None


async def avalidate_interpreter(path: str) -> str | None:
    """`validate_interpreter` off the event loop thread."""
    return await asyncio.get_running_loop().run_in_executor(None, validate_interpreter, path)


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
            self.popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=(child.fileno(),),
                env=_base_env(),
                cwd="/",
                start_new_session=True,
            )
        except OSError as exc:
            parent.close()
            raise SandboxError(f"cannot start the Python interpreter {self.label}: {exc}") from exc
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
            popen = subprocess.Popen(
                [*self.prefix, _mode_flag(self.prefix, "worker"), str(ctl_c.fileno())],
                stdin=in_r,
                stdout=out_w,
                stderr=err_w,
                pass_fds=(ctl_c.fileno(),),
                env=_base_env(),
                cwd="/",
                start_new_session=True,
            )
        except OSError as exc:
            for fd in (in_w, out_r, err_r):
                os.close(fd)
            ctl_p.close()
            raise SandboxError(f"cannot start the Python interpreter {self.label}: {exc}") from exc
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


class _ProcessBudget:
    """RLIMIT_NPROC for scripts: the user's current process count plus a headroom.

    RLIMIT_NPROC counts *all* processes of the user, so a fixed number would break on a
    busy desktop; "what exists now + NPROC_HEADROOM" stops a fork bomb without touching
    anything else (only the script carries the limit).  Root ignores the limit, so it is
    not set there (and nothing relies on it).  The count is a /proc scan in a worker
    thread, refreshed at most every few seconds (the very first script runs without it).
    """

    def __init__(self) -> None:
        self.value: int | None = None
        self.at = -1e9
        self.enabled = IS_LINUX and hasattr(os, "getuid") and os.getuid() != 0

    def limit(self) -> int | None:
        """The current limit (None = unset); a stale count is refreshed in a thread."""
        if not self.enabled:
            return None
        now = time.monotonic()
        if now - self.at > NPROC_REFRESH_S:
            self.at = now
            fut = asyncio.get_running_loop().run_in_executor(
                None, _count_user_processes, os.getuid()
            )
            fut.add_done_callback(self._counted)
        return self.value

    def _counted(self, fut: asyncio.Future[int]) -> None:
        if not fut.cancelled() and fut.exception() is None and fut.result():
            self.value = fut.result() + NPROC_HEADROOM


def _count_user_processes(uid: int) -> int:
    """Processes (threads count too, as for RLIMIT_NPROC) owned by `uid`; 0 if unknown."""
    total = 0
    try:
        names = os.listdir("/proc")
    except OSError:
        return 0
    for name in names:
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid == uid:
                # a task dir's link count is 2 + its threads
                total += max(1, os.stat(f"/proc/{name}/task").st_nlink - 2)
        except OSError:
            continue
    return total


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


# --------------------------------------------------------------------------- the handle
class ScriptHandle:
    """One running script: stream its output, enforce limits, pause/resume/cancel it."""

    def __init__(
        self,
        runner: ScriptRunner,
        spec: ScriptSpec,
        pid: int,
        *,
        stdout_r: int,
        stderr_r: int,
        ctl_fd: int,
        writers: tuple[_FdWriter, _FdWriter],
        exit_waiter: Callable[[], asyncio.Future[_Exit] | asyncio.Task[Any]],
        temp_dir: Path,
        remove_temp: bool,
        on_stderr_line: Callable[[str], None] | None,
        started: float,
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.runner = runner
        self.spec = spec
        self.pid = pid
        self._temp_dir = temp_dir
        self._remove_temp = remove_temp
        self._on_stderr_line = on_stderr_line
        self._started = started
        self._on_exit = on_exit
        self._paused_at: float | None = None
        self._paused_total = 0.0
        self._state = asyncio.Event()
        self._exited = False
        self._exit: _Exit | None = None
        self._reason: str | None = None  # "timeout" | "cancelled" | "overflow"
        self._stdout = bytearray()
        self._stdout_len = 0
        self._stderr_tail: deque[str] = deque(maxlen=max(1, spec.stderr_tail_lines))
        self._stderr_partial = bytearray()
        self._stderr_partial_dropped = 0
        self._ctl_buf = bytearray()
        self._reports: list[dict[str, Any]] = []
        self._violation: str | None = None
        self._ctl_fd = ctl_fd
        self._cfg_writer, self._stdin_writer = writers
        self._readers = [
            _FdReader(self.loop, stdout_r, self._on_stdout),
            _FdReader(self.loop, stderr_r, self._on_stderr),
            _FdReader(self.loop, self._ctl_fd, self._on_ctl),
        ]
        self._reported_exit: int | None = None
        self._early_exit: asyncio.Future[_Exit] = self.loop.create_future()
        self._readers[2].done.add_done_callback(self._ctl_closed)
        self._exit_source = exit_waiter()
        self._watchdog = self.loop.create_task(self._watch())
        self._escalation: asyncio.TimerHandle | None = None
        self._done: asyncio.Future[ScriptResult] = self.loop.create_future()
        self._task = self.loop.create_task(self._supervise())

    # ---- output handling
    def _on_stdout(self, data: bytes) -> None:
        self._stdout_len += len(data)
        if self._stdout_len > self.spec.max_stdout_bytes:
            if self._reason is None:
                self._kill("overflow", hard=True)
            return
        self._stdout += data

    def _emit_line(self, raw: bytes) -> None:
        if len(raw) > MAX_STDERR_LINE:  # very long line: keep its head only
            self._stderr_partial_dropped += len(raw) - MAX_STDERR_LINE
            raw = raw[:MAX_STDERR_LINE]
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if self._stderr_partial_dropped:
            line += f" … [{self._stderr_partial_dropped} more bytes]"
            self._stderr_partial_dropped = 0
        if line.startswith(bootstrap.STDERR_MARKER + bootstrap.VIOLATION_PREFIX):
            if self._violation is None:
                self._violation = line[len(bootstrap.STDERR_MARKER) :]
        self._stderr_tail.append(line)
        if self._on_stderr_line is not None:
            try:
                self._on_stderr_line(line)
            except Exception:
                pass

    def _on_stderr(self, data: bytes) -> None:
        """Split into lines (linear time, whatever the chunking); keep partial lines short."""
        partial = self._stderr_partial
        if b"\n" in data:
            parts = data.split(b"\n")
            partial += parts[0]
            self._emit_line(bytes(partial))
            partial.clear()
            for line in parts[1:-1]:
                self._emit_line(line)
            data = parts[-1]
        room = MAX_STDERR_LINE - len(partial)
        if len(data) > room:  # very long line: keep its head only
            self._stderr_partial_dropped += len(data) - max(room, 0)
            data = data[: max(room, 0)]
        partial += data

    def _on_ctl(self, data: bytes) -> None:
        self._ctl_buf += data
        if len(self._ctl_buf) > 8 * 2**20:
            self._ctl_buf.clear()
            return
        while True:
            nl = self._ctl_buf.find(b"\n")
            if nl < 0:
                break
            raw = bytes(self._ctl_buf[:nl])
            del self._ctl_buf[: nl + 1]
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if isinstance(obj, dict):
                if obj.get("t") == "exit" and isinstance(obj.get("code"), int):
                    self._reported_exit = obj["code"]
                    continue
                if len(self._reports) < 100:
                    self._reports.append(obj)
                if obj.get("t") == "violation" and self._violation is None:
                    self._violation = bootstrap.VIOLATION_PREFIX + str(obj.get("path"))

    def _ctl_closed(self, _fut: asyncio.Future[None]) -> None:
        """The child said how it exits and closed fd 3: it is gone, no need to wait more."""
        if self._reported_exit is not None and not self._early_exit.done():
            self._early_exit.set_result(_Exit(self._reported_exit, None))

    # ---- clock
    def _active_elapsed(self, now: float | None = None) -> float:
        now = self.loop.time() if now is None else now
        paused = self._paused_total
        if self._paused_at is not None:
            paused += now - self._paused_at
        return now - self._started - paused

    async def _watch(self) -> None:
        """Timeout clock that stands still while paused."""
        while not self._exited:
            if self._paused_at is not None:
                self._state.clear()
                await self._state.wait()
                continue
            remaining = self.spec.timeout_s - self._active_elapsed()
            if remaining <= 0:
                self._kill("timeout")
                return
            self._state.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._state.wait(), remaining)

    # ---- control
    def _signal(self, sig: int) -> None:
        if not self._exited:
            _killpg(self.pid, sig)

    def _kill(self, reason: str, *, hard: bool = False) -> None:
        if self._exited:
            return
        if self._reason is None:
            self._reason = reason
        if hard:
            self._signal(signal.SIGKILL)
            return
        self._signal(signal.SIGTERM)
        self._signal(signal.SIGCONT)
        if self._escalation is None:
            self._escalation = self.loop.call_later(KILL_GRACE_S, self._signal, signal.SIGKILL)

    def pause(self) -> None:
        """Stop the script's process group (SIGSTOP); its timeout clock stops too."""
        if self._exited or self._paused_at is not None:
            return
        self._signal(signal.SIGSTOP)
        self._paused_at = self.loop.time()
        self._state.set()

    def resume(self) -> None:
        """Continue a paused script (SIGCONT); the timeout clock runs again."""
        if self._paused_at is None:
            return
        self._paused_total += self.loop.time() - self._paused_at
        self._paused_at = None
        self._signal(signal.SIGCONT)
        self._state.set()

    async def cancel(self) -> None:
        """TERM the process group, KILL after a short grace; the result says "cancelled"."""
        if not self._exited:
            if self._paused_at is not None:
                self.resume()
            self._kill("cancelled")
        await asyncio.shield(self._done)

    async def wait(self) -> ScriptResult:
        """Wait for the script to finish and return its result."""
        return await asyncio.shield(self._done)

    @property
    def done(self) -> bool:
        return self._done.done()

    # ---- supervision
    async def _supervise(self) -> None:
        try:
            src = self._exit_source
            if not src.done():
                await asyncio.wait([src, self._early_exit], return_when=asyncio.FIRST_COMPLETED)
            try:
                exit_ = src.result() if src.done() else self._early_exit.result()
                if isinstance(exit_, int):
                    exit_ = _Exit.from_returncode(exit_)
            except asyncio.CancelledError:
                raise
            except Exception:
                exit_ = _Exit(None, None)
            end = self.loop.time()
            self._exit = exit_
            if self._on_exit is not None:
                self._on_exit()
            self._exited = True
            if self._escalation is not None:
                self._escalation.cancel()
            self._state.set()
            self._stdin_writer.close()
            self._cfg_writer.close()
            _done, _pending = await asyncio.wait(
                [r.done for r in self._readers], timeout=DRAIN_GRACE_S
            )
            for r in self._readers:
                r.close()
            if self._stderr_partial:
                self._emit_line(bytes(self._stderr_partial))
                self._stderr_partial.clear()
            result = await self._build_result(exit_, self._active_elapsed(end))
        except BaseException as exc:  # never leave waiters hanging
            if not self._exited:  # e.g. the loop is shutting down: the script must die too
                _killpg(self.pid, signal.SIGKILL)
                self._exited = True
            for r in self._readers:
                r.close()
            self._stdin_writer.close()
            self._cfg_writer.close()
            if not self._done.done():
                self._done.set_result(
                    ScriptResult(
                        False,
                        None,
                        f"sandbox failure: {exc!r}",
                        "SandboxError",
                        None,
                        "",
                        None,
                        0.0,
                    )
                )
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        finally:
            self._watchdog.cancel()
            self.runner._forget(self)
            if self._remove_temp:
                try:
                    os.rmdir(self._temp_dir)  # the common, empty case: one syscall
                except OSError:
                    self.loop.run_in_executor(None, shutil.rmtree, self._temp_dir, True)
        if not self._done.done():
            self._done.set_result(result)

    async def _build_result(self, exit_: _Exit, duration: float) -> ScriptResult:
        spec = self.spec
        tail = "\n".join(self._stderr_tail)
        exc_info = next((r for r in self._reports if r.get("t") == "exception"), None)
        internal = next((r for r in self._reports if r.get("t") == "internal"), None)
        tb = exc_info.get("traceback") if exc_info else None

        def fail(msg: str, etype: str) -> ScriptResult:
            return ScriptResult(False, None, msg, etype, tb or None, tail, exit_.code, duration)

        if self._reason == "cancelled":
            return fail("cancelled", "Cancelled")
        if self._reason == "timeout":
            return fail(f"timed out after {_fmt_num(spec.timeout_s)} s", "Timeout")
        if self._reason == "overflow":
            return fail(f"output larger than {_fmt_bytes(spec.max_stdout_bytes)}", "OutputTooLarge")
        if self._violation:
            return fail(self._violation, "SandboxViolation")
        if exc_info is not None:
            etype = str(exc_info.get("type") or "Exception")
            if etype == "MemoryError":
                return fail(f"memory limit of {spec.memory_mb} MB exceeded", "MemoryError")
            msg = str(exc_info.get("message") or "")
            text = f"{etype}: {msg}" if msg else etype
            first, _, rest = text.partition("\n")
            line = exc_info.get("line")
            if line:
                first += f" (line {line})"
            elif exc_info.get("where"):
                first += f" ({exc_info['where']})"
            return fail(first + ("\n" + rest if rest else ""), etype)
        if internal is not None:
            return fail(f"sandbox bootstrap failed: {internal.get('message')}", "SandboxError")
        if exit_.signal is not None:
            sig = exit_.signal
            if sig == getattr(signal, "SIGXCPU", -1):
                return fail(f"CPU time limit of {self._cpu_s()} s exceeded", "CPULimit")
            if sig == getattr(signal, "SIGXFSZ", -1):
                return fail("file size limit exceeded", "FileSizeLimit")
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = str(sig)
            return fail(f"killed by signal {name}", "Signal")
        if exit_.code is None:
            return fail("the sandbox supervisor process died", "SandboxError")
        if exit_.code != 0:
            last = next((ln.strip() for ln in reversed(self._stderr_tail) if ln.strip()), "")
            msg = f"exited with code {exit_.code}" + (f": {last}" if last else "")
            return fail(msg, "ExitCode")
        data = bytes(self._stdout)
        try:
            if len(data) > 1 << 20:
                output = await self.loop.run_in_executor(None, _parse_output, data)
            else:
                output = _parse_output(data)
        except ValueError as exc:
            head = data[:80].decode("utf-8", "replace")
            return fail(
                f"output is not valid JSON: {exc} (stdout began with {head!r})", "InvalidOutput"
            )
        return ScriptResult(True, output, None, None, None, tail, exit_.code, duration)

    def _cpu_s(self) -> int:
        return self.runner._cpu_limit(self.spec)

    def _force_kill_sync(self) -> None:
        if not self._exited:
            _killpg(self.pid, signal.SIGKILL)


def _parse_output(data: bytes) -> object:
    text = data.decode("utf-8").strip()
    if not text:
        return {}
    return json.loads(text)


# --------------------------------------------------------------------------- the runner
_RUNNERS: weakref.WeakSet[ScriptRunner] = weakref.WeakSet()


@atexit.register
def _kill_everything_at_exit() -> None:
    for runner in list(_RUNNERS):
        runner._close_sync()


class ScriptRunner:
    """Starts script children; owns the zygote(s) / worker pool.  One per app/engine.

    `prefer`: "zygote" | "pool" | "spawn" | "auto" (zygote on POSIX).  `landlock=False`
    skips Landlock (tests; the audit hook still applies).  `pool_size` sizes the pool.
    """

    def __init__(self, *, prefer: str = "auto", landlock: bool = True, pool_size: int = 2) -> None:
        if prefer not in ("auto", "zygote", "pool", "spawn"):
            raise ValueError(f"unknown sandbox backend {prefer!r}")
        if prefer == "auto":
            prefer = "zygote" if IS_POSIX and hasattr(os, "fork") else "spawn"
        self.backend = prefer
        self.landlock = landlock
        self.pool_size = pool_size if prefer == "pool" else 0
        self._abi = bootstrap.landlock_abi() if landlock else 0
        self._zygotes: dict[str, _Zygote] = {}
        self._zygote_starting: dict[str, asyncio.Future[_Zygote]] = {}
        self._pools: dict[str, _Pool] = {}
        self._live: set[ScriptHandle] = set()
        self._validated: set[str] = set()
        self._temps = _TempDirs()
        self._nproc = _ProcessBudget()
        self._closed = False
        _RUNNERS.add(self)

    @property
    def tier(self) -> str:
        """Human-readable confinement tier, e.g. "zygote+landlock(abi 7)+rlimits+audit-hook"."""
        parts = [self.backend]
        if self._abi:
            parts.append(f"landlock(abi {self._abi})")
        if IS_POSIX:
            parts.append("rlimits")
        parts.append("audit-hook")
        parts.append("process-group")
        if IS_LINUX:
            parts.append("subreaper" if self.backend == "zygote" else "pdeathsig")
        return "+".join(parts)

    def _cpu_limit(self, spec: ScriptSpec) -> int:
        return int(spec.cpu_s if spec.cpu_s is not None else spec.timeout_s * 2 + 5)

    # ---- lifecycle
    async def warm_up(self, python: str | None = None) -> None:
        """Start the zygote / fill the pool now, so the first script starts fast."""
        key, prefix = _interpreter_cmd(python)
        if self.backend == "zygote":
            await self._zygote(key, prefix)
        else:
            self._pool(key, prefix)._fill_soon()

    async def aclose(self) -> None:
        """Kill live scripts, the zygote(s) and idle workers."""
        self._closed = True
        live = list(self._live)
        for h in live:
            h._kill("cancelled", hard=True)
        for h in live:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(h.wait(), 5)
        for z in list(self._zygotes.values()):
            await z.close()
        self._zygotes.clear()
        for p in list(self._pools.values()):
            await p.close()
        self._pools.clear()
        self._temps.close()

    def _close_sync(self) -> None:
        self._temps.close()
        for h in list(self._live):
            h._force_kill_sync()
        for z in list(self._zygotes.values()):
            z.close_sync()
        for p in list(self._pools.values()):
            p.close_sync()

    def _forget(self, handle: ScriptHandle) -> None:
        self._live.discard(handle)

    @property
    def zygote_pid(self) -> int | None:
        """PID of the default interpreter's zygote, if running (tests, diagnostics)."""
        z = self._zygotes.get("")
        return z.pid if z is not None and not z.dead else None

    async def _zygote(self, key: str, prefix: list[str]) -> _Zygote:
        z = self._zygotes.get(key)
        if z is not None and not z.dead:
            return z
        starting = self._zygote_starting.get(key)
        if starting is not None:
            return await asyncio.shield(starting)
        fut: asyncio.Future[_Zygote] = asyncio.get_running_loop().create_future()
        self._zygote_starting[key] = fut
        try:
            z = _Zygote(prefix, key or sys.executable)
            await z.start()
            if self._closed:  # aclose() ran while this zygote was starting
                await z.close()
                raise SandboxError("the script runner is closed")
            self._zygotes[key] = z
            fut.set_result(z)
            return z
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # mark retrieved
            raise
        finally:
            self._zygote_starting.pop(key, None)

    def _pool(self, key: str, prefix: list[str]) -> _Pool:
        p = self._pools.get(key)
        if p is None:
            p = self._pools[key] = _Pool(prefix, key or sys.executable, self.pool_size)
        return p

    # ---- running
    def _prepare(self, spec: ScriptSpec) -> tuple[dict[str, Any], Path, bool, bytes]:
        """Validate a spec (raising SandboxError) and build the child's job config."""
        project = Path(spec.project_dir)
        if not project.is_dir():
            raise SandboxError(f"project directory not found: {project}")
        project = project.resolve()
        if (spec.code is None) == (spec.script is None):
            raise SandboxError("a script block needs exactly one of `code` or `script`")
        script_path: Path | None = None
        if spec.script is not None:
            script_path = check_inside(project, spec.script, what="script path")
            if not script_path.is_file():
                raise SandboxError(f"script not found: {spec.script}")
        try:
            stdin_data = json.dumps(spec.input, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise SandboxError(f"inputs are not JSON-serializable: {exc}") from exc
        if spec.timeout_s <= 0:
            raise SandboxError("timeout must be positive")
        remove_temp = spec.temp_dir is None
        if spec.temp_dir is None:
            temp = self._temps.take()
        else:
            temp = Path(spec.temp_dir)
            temp.mkdir(parents=True, exist_ok=True)
            temp = temp.resolve()
        try:
            if spec.check_inputs:
                check_input_paths(project, spec.input, allowed_extra=(temp,))
        except SandboxError:
            if remove_temp:
                shutil.rmtree(temp, ignore_errors=True)
            raise
        env = _base_env()
        env["TMPDIR"] = str(temp)
        env.update({str(k): str(v) for k, v in spec.env.items()})
        cfg: dict[str, Any] = {
            "project_dir": str(project),
            "temp_dir": str(temp),
            "env": env,
            "memory_mb": int(spec.memory_mb),
            "cpu_s": self._cpu_limit(spec),
            "fsize_bytes": 2**30,
            "nofile": 1024,
            "nproc": self._nproc.limit(),
            "landlock": bool(self.landlock and self._abi),
            "audit": True,
            "label": spec.label,
        }
        if script_path is not None:
            cfg["script"] = str(script_path)
            cfg["filename"] = str(script_path)
            cfg["sys_path0"] = str(script_path.parent)
        else:
            cfg["code"] = spec.code
            cfg["filename"] = f"<{spec.label}>" if spec.label else "<script>"
        return cfg, temp, remove_temp, stdin_data

    async def start(
        self, spec: ScriptSpec, on_stderr_line: Callable[[str], None] | None = None
    ) -> ScriptHandle:
        """Start `spec` in a fresh sandboxed child and return its handle.

        Raises SandboxError when refused before start (path escape, missing script,
        unusable interpreter).  Everything after the start is reported in the result.
        """
        if self._closed:
            raise SandboxError("the script runner is closed")
        if not IS_POSIX:
            raise SandboxError("script blocks need Linux or macOS in this version")
        key, prefix = _interpreter_cmd(spec.python)
        if key and key not in self._validated:  # a user-chosen interpreter: check it once
            problem = await avalidate_interpreter(key)
            if problem:
                raise SandboxError(problem)
            self._validated.add(key)
        cfg, temp, remove_temp, stdin_data = self._prepare(spec)
        config = (json.dumps(cfg) + "\n").encode("utf-8")
        try:
            if self.backend == "zygote":
                handle = await self._start_zygote(
                    key, prefix, spec, config, stdin_data, temp, remove_temp, on_stderr_line
                )
            else:
                handle = self._start_worker(
                    key, prefix, spec, config, stdin_data, temp, remove_temp, on_stderr_line
                )
        except BaseException:
            if remove_temp:
                shutil.rmtree(temp, ignore_errors=True)
            raise
        self._live.add(handle)
        if self._closed:  # aclose() ran while this one was starting: it must not survive
            handle._kill("cancelled", hard=True)
        return handle

    async def _start_zygote(
        self,
        key: str,
        prefix: list[str],
        spec: ScriptSpec,
        config: bytes,
        stdin_data: bytes,
        temp: Path,
        remove_temp: bool,
        on_stderr_line: Callable[[str], None] | None,
    ) -> ScriptHandle:
        loop = asyncio.get_running_loop()
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        ctl_p, ctl_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        child_fds = [in_r, out_w, err_w, ctl_c.fileno()]
        ctl_fd = ctl_p.detach()
        # Queue the job config and the input *before* the fork, so the child never waits.
        writers = _job_writers(loop, ctl_fd, config, in_w, stdin_data)
        ok = False
        try:
            for attempt in range(2):
                z = await self._zygote(key, prefix)
                try:
                    started = loop.time()
                    pid, efut = await z.spawn(child_fds)
                    break
                except _ZygoteDied:
                    if self._closed:
                        raise SandboxError("the script runner is closed") from None
                    if attempt == 1:
                        raise SandboxError("the sandbox zygote keeps dying") from None
            handle = ScriptHandle(
                self,
                spec,
                pid,
                stdout_r=out_r,
                stderr_r=err_r,
                ctl_fd=ctl_fd,
                writers=writers,
                exit_waiter=lambda: efut,
                on_exit=lambda: z.job_done(pid),
                temp_dir=temp,
                remove_temp=remove_temp,
                on_stderr_line=on_stderr_line,
                started=started,
            )
            ok = True
            return handle
        finally:
            # Our copies of the child's ends must go (or EOF never comes) — but not on the
            # critical path: the child needs ~1 ms before it could even exit.
            loop.call_soon(_close_all, (in_r, out_w, err_w), ctl_c)
            if not ok:
                for wr in writers:
                    wr.close()
                for fd in (out_r, err_r, ctl_fd):
                    os.close(fd)

    def _start_worker(
        self,
        key: str,
        prefix: list[str],
        spec: ScriptSpec,
        config: bytes,
        stdin_data: bytes,
        temp: Path,
        remove_temp: bool,
        on_stderr_line: Callable[[str], None] | None,
    ) -> ScriptHandle:
        w = self._pool(key, prefix).take()
        loop = asyncio.get_running_loop()
        ctl_fd = w.ctl.detach()
        return ScriptHandle(
            self,
            spec,
            w.popen.pid,
            stdout_r=w.stdout_r,
            stderr_r=w.stderr_r,
            ctl_fd=ctl_fd,
            writers=_job_writers(loop, ctl_fd, config, w.stdin_w, stdin_data),
            exit_waiter=lambda: loop.create_task(_wait_popen(w.popen, kill_group=True)),
            temp_dir=temp,
            remove_temp=remove_temp,
            on_stderr_line=on_stderr_line,
            started=loop.time(),
        )

    async def run(
        self, spec: ScriptSpec, on_stderr_line: Callable[[str], None] | None = None
    ) -> ScriptResult:
        """Start `spec` and wait for its result (cancelling this kills the script)."""
        handle = await self.start(spec, on_stderr_line)
        try:
            return await handle.wait()
        except asyncio.CancelledError:
            await handle.cancel()
            raise
