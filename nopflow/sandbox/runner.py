"""App side of the script sandbox: `ScriptRunner` picks a backend and starts jobs.

Everything here runs on the asyncio loop thread and never blocks it for longer than a
fork/exec: pipes are read with ``loop.add_reader`` (works on qasync's Qt loop too), exit
is noticed through the zygote's wait status, a pidfd or polling (never the child's
own word), and work that may take time (temp dirs) goes to the default executor.

Backends (one per interpreter path, chosen by ``ScriptRunner(prefer=...)``):

``zygote``  (POSIX default) a pre-started fork server keeps pre-forked, warmed-up spare
            children; a job is handed to a spare (no fork/exec on the critical path).
            See zygote.py.
``pool``    1-2 pre-spawned ``python -I`` workers waiting for a job on their control fd.
            See pool.py.
``spawn``   a fresh worker per job (slowest, simplest; the pool with size 0).
            On Windows, the only backend: each job in its own Job Object, pipes served
            by threads (winspawn.py, winjob.py, threadio.py).

Every job always runs in a fresh process and confines *itself* (see bootstrap.py); the
app never uses ``preexec_fn`` because the GUI process is multi-threaded.  The running job
is a `ScriptHandle` (handle.py); its outcome becomes a message in messages.py.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import shutil
import socket
import sys
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nopflow.sandbox import bootstrap, winspawn
from nopflow.sandbox.fdio import _close_all, _job_writers
from nopflow.sandbox.handle import ScriptHandle, _Job
from nopflow.sandbox.interpreters import (
    _interpreter_cmd,
    avalidate_interpreter,
    own_binary_venv,
)
from nopflow.sandbox.nproc import NPROC_HEADROOM, _ProcessBudget
from nopflow.sandbox.paths import SandboxError, check_input_paths, check_inside, read_beneath
from nopflow.sandbox.pool import _Pool
from nopflow.sandbox.procs import IS_LINUX, IS_POSIX, _base_env, _wait_popen
from nopflow.sandbox.spec import ScriptResult, ScriptSpec
from nopflow.sandbox.tempdirs import _TempDirs
from nopflow.sandbox.zygote import _Zygote, _ZygoteDied

# The public names live in nopflow.sandbox; NPROC_HEADROOM stays reachable here (tests).
__all__ = ["NPROC_HEADROOM", "ScriptRunner"]


_RUNNERS: weakref.WeakSet[ScriptRunner] = weakref.WeakSet()


@atexit.register
def _kill_everything_at_exit() -> None:
    for runner in list(_RUNNERS):
        runner._close_sync()


class ScriptRunner:
    """Starts script children; owns the zygote(s) / worker pool.  One per app/engine.

    `prefer`: "zygote" | "pool" | "spawn" | "auto" (zygote on POSIX; Windows always uses
    spawn, whatever is preferred: it has neither fork nor fd passing).  `landlock=False`
    skips Landlock (tests; the audit hook still applies).  `pool_size` sizes the pool.
    """

    def __init__(self, *, prefer: str = "auto", landlock: bool = True, pool_size: int = 2) -> None:
        if prefer not in ("auto", "zygote", "pool", "spawn"):
            raise ValueError(f"unknown sandbox backend {prefer!r}")
        # read at construction (not import) time, so backend selection can be tested
        self._windows = sys.platform == "win32"
        if self._windows:
            prefer = "spawn"
        elif prefer == "auto":
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
        if IS_LINUX:
            # The app's environment (API tokens...) must not be readable by a script
            # through /proc/<app pid>/environ: non-dumpable makes /proc/<pid>/{environ,
            # mem,fd,maps} need CAP_SYS_PTRACE (scripts have none: bootstrap drops them).
            # Cost: no core dumps of the app, and debuggers/py-spy need root to attach.
            bootstrap._prctl(bootstrap.PR_SET_DUMPABLE, 0)

    @property
    def tier(self) -> str:
        """Human-readable confinement tier, e.g. "zygote+landlock(abi 7)+rlimits+audit-hook".

        ``memory(...)`` says what ``memory_mb`` bounds here: each process (POSIX rlimits;
        a script's children get their own ``memory_mb`` each) or the whole tree (Windows).
        """
        parts = [self.backend]
        if self._abi:
            parts.append(f"landlock(abi {self._abi})")
        if self._windows:
            return "+".join([*parts, "job-object", "memory(whole tree)", "audit-hook"])
        if IS_LINUX:
            z = self._zygotes.get("")
            known = z.pidns if z is not None and not z.dead else None
            if known if known is not None else bootstrap.pidns_expected():
                parts.append("pidns")
        if IS_POSIX:
            parts += ["rlimits", "memory(per process)"]
        parts.append("audit-hook")
        parts.append("process-group")
        if IS_LINUX:
            parts.append("subreaper" if self.backend == "zygote" else "pdeathsig")
        return "+".join(parts)

    def _cpu_limit(self, spec: ScriptSpec) -> int:
        return int(spec.cpu_s if spec.cpu_s is not None else spec.timeout_s * 2 + 5)

    # ---- lifecycle
    async def warm_up(self, python: str | None = None) -> None:
        """Start the zygote / fill the pool now, so the first script starts fast.

        Cheap and safe to call at any time (the engine does when its executor is made);
        a no-op for the spawn backend and on Windows, where every job is a fresh spawn.
        """
        key, prefix = _interpreter_cmd(python)
        if self._windows:
            return
        if self.backend == "zygote" and (not key or own_binary_venv(key)):
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
            # A user-chosen interpreter (key) runs as launcher-started workers (see
            # interpreters._launcher), never in a zygote: the launcher confines each one
            # for its job before exec.  Under the zygote backend one is kept ready.
            size = self.pool_size if self.backend != "zygote" else 1
            p = self._pools[key] = _Pool(prefix, key or sys.executable, size)
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
            # opened once, beneath the project: the child runs these bytes, never the path
            source = read_beneath(project, script_path)
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
        if self._windows:  # what non-Python tools there look at
            env["TEMP"] = env["TMP"] = str(temp)
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
            cfg["source"] = source.decode("utf-8", "surrogateescape")  # any bytes, as JSON
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
        if not (IS_POSIX or self._windows):
            raise SandboxError("script blocks need Linux, macOS or Windows")
        key, prefix = _interpreter_cmd(spec.python)
        if key and key not in self._validated:  # a user-chosen interpreter: check it once
            problem = await avalidate_interpreter(key)
            if problem:
                raise SandboxError(problem)
            self._validated.add(key)
        cfg, temp, remove_temp, stdin_data = self._prepare(spec)
        config = (json.dumps(cfg) + "\n").encode("utf-8")
        job = _Job(spec, config, stdin_data, temp, remove_temp, on_stderr_line)
        try:
            if self._windows:
                # (start_job takes the _Job fields in order: tests call it directly)
                handle = winspawn.start_job(self, prefix, key or sys.executable, *job)
            elif self.backend == "zygote" and (not key or own_binary_venv(key)):
                handle = await self._start_zygote(key, prefix, job)
            else:
                handle = self._start_worker(key, prefix, job)
        except BaseException:
            if remove_temp:
                shutil.rmtree(temp, ignore_errors=True)
            raise
        self._live.add(handle)
        if self._closed:  # aclose() ran while this one was starting: it must not survive
            handle._kill("cancelled", hard=True)
        return handle

    async def _start_zygote(self, key: str, prefix: list[str], job: _Job) -> ScriptHandle:
        loop = asyncio.get_running_loop()
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        ctl_p, ctl_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        child_fds = [in_r, out_w, err_w, ctl_c.fileno()]
        ctl_fd = ctl_p.detach()
        # Queue the job config and the input *before* the fork, so the child never waits.
        writers = _job_writers(loop, ctl_fd, job.config, in_w, job.stdin_data)
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
                job,
                pid,
                stdout_r=out_r,
                stderr_r=err_r,
                ctl_fd=ctl_fd,
                writers=writers,
                exit_source=efut,
                on_exit=lambda: z.job_done(pid),
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

    def _start_worker(self, key: str, prefix: list[str], job: _Job) -> ScriptHandle:
        w = self._pool(key, prefix).take()
        loop = asyncio.get_running_loop()
        ctl_fd = w.ctl.detach()
        return ScriptHandle(
            self,
            job,
            w.popen.pid,
            stdout_r=w.stdout_r,
            stderr_r=w.stderr_r,
            ctl_fd=ctl_fd,
            writers=_job_writers(loop, ctl_fd, job.config, w.stdin_w, job.stdin_data),
            exit_source=loop.create_task(_wait_popen(w.popen, kill_group=True)),
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
