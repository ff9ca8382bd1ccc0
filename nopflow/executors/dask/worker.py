"""The worker service: what runs inside a Dask worker process to serve nopflow jobs.

Dask runs tasks in plain threads; the sandbox wants one asyncio loop that lives as long
as its zygote. So each worker process has one :class:`WorkerService` (an event-loop
thread, one ScriptRunner, a registry of running handles by task token), attached by the
:class:`SandboxPlugin` worker plugin, whose teardown ends every script child when the
worker closes. Needs ``distributed`` (imported here at the top: only workers and a
connected client import this module).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import multiprocessing.util
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from nopflow.executors.dask import wire
from nopflow.sandbox import SandboxError, ScriptResult, ScriptRunner, ScriptSpec, check_inside
from nopflow.sandbox import runner as sandbox_runner

#: control messages for tokens a worker does not know yet are kept this long
PENDING_CONTROL_TTL_S = 600.0
#: a cancel on the worker waits this long for the child to die
KILL_TIMEOUT_S = 13.0
PLUGIN_NAME = "nopflow-sandbox"


class WorkerService:
    """One per worker process: an event-loop thread owning one ScriptRunner and a registry.

    Every script of this process runs on this loop, so the zygote (and its pre-forked
    spares) is started once and reused. Control calls made before a task starts are kept
    in ``pending`` and applied when it does (a cancelled token never starts a child).
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.runner: ScriptRunner | None = None
        # Nanny workers leave through multiprocessing, which skips atexit but runs its own
        # finalizers: kill our script children and zygotes however the worker goes down.
        kill_all = getattr(sandbox_runner, "_kill_everything_at_exit", None)
        if kill_all is not None:
            multiprocessing.util.Finalize(None, kill_all, exitpriority=100)
        self.handles: dict[str, Any] = {}
        self.starting: dict[str, str | None] = {}  # token -> control received while starting
        self.pending: dict[str, tuple[str, float]] = {}  # token -> (action, when)
        self._thread = threading.Thread(target=self._main, name="nopflow-sandbox-loop",
                                        daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Any) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def _note_pending(self, token: str, action: str) -> None:
        now = time.monotonic()
        for tok, (_a, when) in list(self.pending.items()):
            if now - when > PENDING_CONTROL_TTL_S:
                del self.pending[tok]
        prev = self.pending.get(token)
        if prev is not None and prev[0] == "cancel":
            return  # a cancel is final
        if action == "resume":
            self.pending.pop(token, None)
        else:
            self.pending[token] = (action, now)

    async def run(self, token: str, spec: ScriptSpec, on_line: Callable[[str], None]
                  ) -> ScriptResult:
        pending = self.pending.pop(token, None)
        if pending is not None and pending[0] == "cancel":
            return wire.cancelled()
        if self.runner is None:
            self.runner = ScriptRunner()
        self.starting[token] = pending[0] if pending else None
        try:
            handle = await self.runner.start(spec, on_stderr_line=on_line)
        except SandboxError as exc:
            return wire.failure(str(exc), "SandboxError")
        finally:
            control = self.starting.pop(token, None)
        self.handles[token] = handle
        try:
            if control == "cancel":
                await handle.cancel()
            elif control == "pause":
                handle.pause()
            return await handle.wait()
        finally:
            self.handles.pop(token, None)

    async def shutdown(self) -> None:
        """The worker is closing: kill every script child and the zygote now."""
        runner, self.runner = self.runner, None
        if runner is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(runner.aclose(), 10)

    async def cancel_many(self, tokens: list[str]) -> None:
        """Mark every token first (no await in between), then kill what runs here."""
        running = []
        for token in tokens:
            handle = self.handles.get(token)
            if handle is not None:
                running.append(handle)
            elif token in self.starting:
                self.starting[token] = "cancel"
            else:
                self._note_pending(token, "cancel")
        if running:
            await asyncio.gather(
                *(asyncio.wait_for(h.cancel(), KILL_TIMEOUT_S) for h in running),
                return_exceptions=True,
            )

    async def control(self, token: str, action: str) -> bool:
        """Apply pause/resume/cancel; True if this worker runs (or is starting) the token."""
        handle = self.handles.get(token)
        if handle is not None:
            if action == "cancel":
                await asyncio.wait_for(handle.cancel(), KILL_TIMEOUT_S)
            elif action == "pause":
                handle.pause()
            elif action == "resume":
                handle.resume()
            return True
        if token in self.starting:
            if action == "resume":
                self.starting[token] = None
            elif self.starting[token] != "cancel":
                self.starting[token] = action
            return True
        self._note_pending(token, action)
        return False


_SERVICE: WorkerService | None = None
_SERVICE_LOCK = threading.Lock()


def service() -> WorkerService:
    """This process's service, made on first use (by the plugin or the first task)."""
    global _SERVICE
    with _SERVICE_LOCK:
        if _SERVICE is None:
            _SERVICE = WorkerService()
        return _SERVICE


class SandboxPlugin(WorkerPlugin):
    """Attaches the service to every worker (present and future); teardown ends children.

    Idempotent: a second client registering it leaves the first one's in place, so
    connecting never tears down another run's scripts.
    """

    idempotent = True
    name = PLUGIN_NAME

    def setup(self, worker: Any) -> None:
        service()

    async def teardown(self, worker: Any) -> None:
        svc = _SERVICE
        if svc is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.wrap_future(svc.submit(svc.shutdown())), 12)


# ------------------------------------------------------------------- project directory
def scratch_base(executor_id: str) -> Path:
    """The per-run scratch folder on a worker without the client's project path."""
    safe = "".join(c for c in executor_id if c.isalnum())[:32] or "x"
    return Path(tempfile.gettempdir()) / f"nopflow-dask-{safe}"


def _write_atomically(target: Path, text: str) -> None:
    """Temp file beside the target, then rename: a reader sees all of it or nothing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def worker_spec(job: dict[str, Any], token: str) -> tuple[ScriptSpec, str, Path | None]:
    """The spec to run here, "shared" or "scratch", and the task's own folder to remove.

    A shipped script is written into a folder unique to this task inside the project
    directory (keeping its relative path, so ``__file__`` and tracebacks name it), never
    over a file another task may be reading.
    """
    base = scratch_base(str(job["executor_id"]))
    pdir = str(job["project_dir"])
    if not job.get("scratch") and os.path.isdir(pdir):
        project, mode = Path(pdir), "shared"
    else:
        project, mode = base / "project", "scratch"
        project.mkdir(parents=True, exist_ok=True)
    tdir = job.get("temp_dir")
    if mode == "shared" and tdir and os.path.isdir(tdir):
        temp = Path(tdir)
    else:
        temp = base / "tmp"
        temp.mkdir(parents=True, exist_ok=True)
    code: str | None = job.get("code")
    script: str | None = None
    task_dir: Path | None = None
    label = str(job.get("label") or "")
    rel = job.get("script")
    if rel:
        source = str(job.get("script_source") or "")
        if mode == "scratch":
            task_rel = f".nopflow-task-{token[:16]}"
            task_dir = project / task_rel
            target = check_inside(task_dir, rel, what="script path")
            _write_atomically(target, source)
            script = f"{task_rel}/{rel}"
        else:
            target = check_inside(project, rel, what="script path")
            try:
                same = target.is_file() and target.read_text(encoding="utf-8") == source
            except (OSError, UnicodeDecodeError):
                same = False
            if same:
                script = rel
            else:  # the path exists here but holds another file: run what the client sent
                code = source
                label = f"{rel}: {label}" if label else rel
    spec = ScriptSpec(
        project_dir=project,
        code=None if script else code,
        script=script,
        input=json.loads(job["input_json"]),
        timeout_s=float(job["timeout_s"]),
        memory_mb=int(job["memory_mb"]),
        python=job.get("python"),
        env=dict(job.get("env") or {}),
        temp_dir=temp,
        label=label,
    )
    return spec, mode, task_dir


# -------------------------------------------------------------------- task and control
def run_script_task(token: str, topic: str, job: dict[str, Any]) -> dict[str, Any]:
    """Dask task (worker thread): run one script in the worker's sandbox, return plain data.

    Blocks this task thread only; the script runs in a sandboxed child driven by the
    service's loop. Stderr lines are published on ``topic`` as they come, numbered.
    """
    refused = wire.protocol_mismatch(job)
    if refused is not None:
        return refused
    try:
        worker: Any = get_worker()
    except ValueError:  # called outside a worker (tests): no live lines
        worker = None
    address = getattr(worker, "address", None)
    counter = {"lines": 0, "streamed": 0}

    def publish(msg: dict[str, Any]) -> None:
        if worker is not None:
            with contextlib.suppress(Exception):
                worker.log_event(topic, msg)

    def on_line(line: str) -> None:
        i = counter["lines"]
        counter["lines"] = i + 1
        if i < wire.LIVE_LINES_MAX:
            counter["streamed"] = i + 1
            publish(wire.line_event(token, i, line))

    try:
        spec, mode, task_dir = worker_spec(job, token)
    except (SandboxError, OSError, ValueError) as exc:
        return wire.refused(str(exc), "SandboxError", address)
    try:
        publish(wire.start_event(token, address))
        svc = service()
        result = svc.submit(svc.run(token, spec, on_line)).result()
    finally:
        if task_dir is not None:
            shutil.rmtree(task_dir, ignore_errors=True)
    return wire.result_to_wire(result, lines=counter["lines"], streamed=counter["streamed"],
                               worker=address, project_mode=mode)


async def control_on_worker(token: str, action: str) -> bool:
    """``client.run`` target (worker's loop): pause/resume/cancel a token's script."""
    svc = service()
    return bool(await asyncio.wrap_future(svc.submit(svc.control(token, action))))


async def cancel_on_worker(tokens: list[str]) -> None:
    """``client.run`` target (worker's loop): cancel a batch of tokens' scripts."""
    svc = service()
    await asyncio.wrap_future(svc.submit(svc.cancel_many(tokens)))


def ignore_sigint_on_worker() -> None:
    """``client.run`` target (the worker's main thread): leave Ctrl+C to the client."""
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def cleanup_on_worker(executor_id: str) -> None:
    """``client.run`` target: remove a finished run's scratch folder on this worker."""
    shutil.rmtree(scratch_base(executor_id), ignore_errors=True)


def live_script_pids() -> list[int]:
    """Pids of script children this worker process runs now (``client.run`` diagnostics)."""
    svc = _SERVICE
    if svc is None:
        return []
    return [int(h.pid) for h in list(svc.handles.values())]
