"""The ``dask`` executor: script blocks run on a Dask distributed cluster (DESIGN.md §1).

Only *where* a script runs changes; the runner keeps scheduling, states, events, error
modes and retries. Each script start becomes one ``client.submit(..., pure=False,
retries=0)`` (retries stay the engine's, so attempts are counted and shown once). On the
worker, :func:`run_script_task` hands the job to a per-process :class:`_WorkerService` —
one event-loop thread with one ``ScriptRunner`` — so the same stdlib sandbox runs the
script in a child process with the same protocol, limits and timeout, and the zygote is
reused across tasks.

Wire format (kept plain so any worker with the same nopflow can serve it): the job is a
dict of JSON-friendly values, the input and output travel as JSON *text*, inline code as
text, and a ``script`` file is read on the client (inside the project directory, symlinks
checked) and shipped as source with its relative path, so tracebacks keep the filename.

Project directory on the worker: if the client's path exists there (a shared filesystem)
it is used as is; otherwise the script runs in a per-run scratch folder on the worker,
removed when the run ends — files a script writes there stay on the worker.

Control reaches the worker through ``client.run`` on a registry of running handles keyed
by a per-task token: cancel kills the child (TERM, then KILL) *and* cancels the future;
pause/resume SIGSTOP/SIGCONT it (its timeout clock stops too). A control call that
arrives before the task starts is remembered, so a queued task never starts cancelled
work. Stderr lines come back live as worker events (``log_event`` →
``subscribe_topic``); whatever the event stream has not delivered when the result
arrives is filled in from the result's stderr tail, so the log is never short.

``distributed`` is imported lazily: the engine, and nopflow without the ``dask`` extra,
never load it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from nopflow.engine.context import NodeFailure
from nopflow.engine.executor import ExecutorUnavailable, LineCallback, ScriptRequest

if TYPE_CHECKING:
    from nopflow.sandbox import ScriptResult

log = logging.getLogger(__name__)

#: bumped when the job/result dicts change; a worker with another nopflow says so clearly
PROTOCOL = 1
EXTRA_MESSAGE = "the dask executor needs the 'dask' extra: pip install 'nopflow[dask]'"
CONNECT_TIMEOUT_S = 10.0
CONTROL_TIMEOUT_S = 15.0
CLOSE_TIMEOUT_S = 30.0
#: after this many lines per task, lines are no longer streamed (the tail still comes back)
LIVE_LINES_MAX = 5000
#: how long a finished task's result waits for stderr events still in flight
LINE_CATCHUP_S = 1.0
#: control messages for tokens a worker does not know yet are kept this long
PENDING_CONTROL_TTL_S = 600.0


def dask_missing_reason() -> str | None:
    """None when ``distributed`` can be imported, else the message that names the extra."""
    try:
        importlib.import_module("distributed")
    except ImportError:
        return EXTRA_MESSAGE
    return None


def _failure(message: str, error_type: str) -> ScriptResult:
    """A script that never produced a result, in the sandbox's own result type."""
    from nopflow.sandbox import ScriptResult

    return ScriptResult(False, None, message, error_type, None, "", None, 0.0)


def _check_address(address: str) -> None:
    """Fail fast (not after the connect timeout) when the scheduler's host cannot resolve."""
    url = urlsplit(address if "://" in address else f"tcp://{address}")
    if url.scheme not in ("tcp", "tls", "ws", "wss"):
        return
    host = url.hostname
    if not host:
        raise OSError(f"no host in scheduler address {address!r}")
    try:
        socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve host {host!r}: {exc.strerror or exc}") from None


# =========================================================================== client side
class DaskExecutor:
    """Runs script blocks on a Dask cluster; one instance per run (owned by the run).

    ``address=None`` starts a throw-away ``LocalCluster`` on 127.0.0.1 (processes,
    ``n_workers`` × ``threads_per_worker``, no dashboard) for trying the executor out, and
    closes it with the executor. ``scratch=True`` makes workers ignore the client's project
    path even if it exists there (tests; clusters whose paths collide by accident).

    The ``distributed.Client`` is a synchronous one with its own IO thread: the engine's
    loop may be qasync's, and nothing here needs it to be a tornado loop. Blocking client
    calls (connect, run, cancel, close) go to threads; ``submit`` does not block.
    """

    name = "dask"

    def __init__(
        self,
        address: str | None = None,
        *,
        n_workers: int | None = None,
        threads_per_worker: int = 1,
        scratch: bool = False,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.address = address
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self.scratch = scratch
        self.connect_timeout_s = connect_timeout_s
        self.id = uuid.uuid4().hex[:12]
        self._topic = f"nopflow-{self.id}"
        self._client: Any = None
        self._cluster: Any = None
        self._error: str | None = None
        self._connecting: asyncio.Future[None] | None = None
        self._handles: dict[str, DaskScriptHandle] = {}
        self._control_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._cancel_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._cancel_batch: dict[str, Any] = {}
        self._cancel_flush: asyncio.Future[None] | None = None
        self._flush_task: asyncio.Future[None] | None = None
        self._closed = False

    # ---- connection
    @property
    def scheduler_address(self) -> str | None:
        """The scheduler actually used (the local cluster's when no address was given)."""
        if self._cluster is not None:
            return str(self._cluster.scheduler_address)
        return self.address

    def describe(self) -> str:
        """One line for humans: where scripts run (CLI progress, GUI status)."""
        where = self.scheduler_address or "(not connected)"
        n = None
        if self._client is not None:
            with contextlib.suppress(Exception):
                n = len(self._client.scheduler_info(n_workers=-1).get("workers", {}))
        local = "local Dask cluster" if self._cluster is not None else "Dask scheduler"
        return f"{local} {where}" + (f" ({n} worker{'s' if n != 1 else ''})" if n else "")

    async def start(self) -> None:
        """Connect (or start the local cluster) now; raises ExecutorUnavailable on failure.

        Called lazily by the first script; the CLI calls it early so cluster start-up is
        not counted in the first node's time. A failure is remembered, so a run with 200
        script nodes reports it 200 times at once instead of waiting 200 connect timeouts.
        """
        if self._client is not None:
            return
        if self._error is not None:
            raise ExecutorUnavailable(self._error)
        if self._closed:
            raise ExecutorUnavailable("the dask executor is closed")
        if self._connecting is None:
            loop = asyncio.get_running_loop()
            self._connecting = asyncio.ensure_future(loop.run_in_executor(None, self._connect))
        try:
            await asyncio.shield(self._connecting)
        except ExecutorUnavailable:
            raise
        except Exception as exc:  # connect raised something unexpected
            self._error = f"the dask executor failed to start: {type(exc).__name__}: {exc}"
            raise ExecutorUnavailable(self._error) from None

    def _connect(self) -> None:
        """Blocking: import distributed, maybe start a LocalCluster, connect, subscribe."""
        reason = dask_missing_reason()
        if reason is not None:
            self._error = reason
            raise ExecutorUnavailable(reason)
        import dask.config
        from distributed import Client, LocalCluster

        where = self.address or "a local cluster"
        try:
            if self.address is None:
                n = self.n_workers or max(1, min(os.cpu_count() or 1, 4))
                # A worker dying mid-script fails the task at once (KilledWorker) instead of
                # Dask re-running it elsewhere: retries are the engine's, and visible.
                with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                    self._cluster = self._local_cluster(LocalCluster, n)
                address = self._cluster.scheduler_address
            else:
                _check_address(self.address)
                address = self.address
            client = Client(
                address, timeout=f"{self.connect_timeout_s}s", set_as_default=False
            )
        except Exception as exc:
            if self._cluster is not None:
                with contextlib.suppress(Exception):
                    self._cluster.close()
                self._cluster = None
            verb = "start" if self.address is None else "reach the scheduler at"
            self._error = f"the dask executor could not {verb} {where}: {exc}"
            raise ExecutorUnavailable(self._error) from None
        if self._cluster is not None:
            # Ctrl+C in a terminal reaches the whole process group: our own workers must
            # leave it to us (the run is cancelled, then the cluster closed).
            with contextlib.suppress(Exception):
                client.run(_ignore_sigint_on_worker, on_error="ignore")
        # subscribe before the first submit: both go down the same ordered stream
        client.subscribe_topic(self._topic, self._on_event)
        self._client = client
        # pause/resume: one thread keeps them in order; cancel batches: their own threads
        self._control_pool = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="nopflow-dask-control"
        )
        self._cancel_pool = concurrent.futures.ThreadPoolExecutor(
            4, thread_name_prefix="nopflow-dask-cancel"
        )

    def _local_cluster(self, cls: Any, n: int) -> Any:
        return cls(
            n_workers=n,
            threads_per_worker=self.threads_per_worker,
            processes=True,
            host="127.0.0.1",
            # None still serves HTTP (health routes) on :8787, all interfaces; loopback,
            # any free port, keeps a trial cluster private and never clashes
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
        )

    # ---- events from workers (client IO thread)
    def _on_event(self, event: Any) -> None:
        try:
            _ts, msg = event
            token = msg.get("k")
        except Exception:
            return
        handle = self._handles.get(token)
        if handle is not None:
            with contextlib.suppress(RuntimeError):  # the run's loop is already closed
                handle.loop.call_soon_threadsafe(handle._on_message, msg)

    # ---- the Executor protocol
    async def start_script(self, request: ScriptRequest, on_line: LineCallback) -> DaskScriptHandle:
        """Ship the script to the cluster; the handle waits, pauses and cancels it there."""
        job = _build_job(request, scratch=self.scratch, executor_id=self.id)
        await self.start()
        client = self._client
        token = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        handle = DaskScriptHandle(self, token, loop, on_line)
        self._handles[token] = handle
        slug = "".join(c if c.isalnum() or c in "-_" else "_" for c in request.label)[:40]
        try:
            future = client.submit(
                run_script_task,
                token,
                self._topic,
                job,
                key=f"nopflow-{slug or 'script'}-{token[:12]}",
                pure=False,
                retries=0,
            )
        except Exception as exc:
            self._handles.pop(token, None)
            raise NodeFailure(f"the dask executor could not submit the script: {exc}",
                              error_type="ExecutorError") from None
        handle._attach(future)
        return handle

    async def aclose(self) -> None:
        """Drop worker scratch folders and the event topic, close the client and cluster."""
        self._closed = True
        if self._connecting is not None and not self._connecting.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._connecting), CLOSE_TIMEOUT_S)
        client, self._client = self._client, None
        cluster, self._cluster = self._cluster, None
        pools = [p for p in (self._control_pool, self._cancel_pool) if p is not None]
        self._control_pool = self._cancel_pool = None
        if client is None and cluster is None:
            return
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.run_in_executor(None, self._close_sync, client, cluster), CLOSE_TIMEOUT_S
            )
        except Exception:
            log.exception("closing the dask executor failed")
        for pool in pools:
            pool.shutdown(wait=False)

    def _close_sync(self, client: Any, cluster: Any) -> None:
        if client is not None:
            for step in (
                lambda: client.unsubscribe_topic(self._topic),
                lambda: client.run(_cleanup_on_worker, self.id, on_error="ignore"),
                lambda: client.run_on_scheduler(_drop_topic_on_scheduler, self._topic),
                lambda: client.close(timeout=CLOSE_TIMEOUT_S / 2),
            ):
                try:
                    step()
                except Exception as exc:  # best effort: the cluster may already be gone
                    log.debug("dask executor close step failed: %s", exc)
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=CLOSE_TIMEOUT_S / 2)

    # ---- control (pause / resume / cancel on the worker)
    def _control_sync(self, token: str, action: str, worker: str | None) -> None:
        client = self._client
        if client is None:
            return
        if worker is not None:
            try:
                res = client.run(_control_on_worker, token, action, workers=[worker],
                                 on_error="return")
                if res.get(worker) is True:
                    return
            except Exception as exc:
                log.debug("control %s on %s failed (%s); asking every worker", action, worker,
                          exc)
        # not started yet (or its worker unknown): every worker remembers it
        client.run(_control_on_worker, token, action, on_error="ignore")

    async def _cancel(self, token: str, future: Any) -> None:
        """Join this loop turn's cancel batch and wait until the workers have acted on it."""
        loop = asyncio.get_running_loop()
        self._cancel_batch[token] = future
        if self._cancel_flush is None:
            self._cancel_flush = loop.create_future()
            loop.call_soon(self._flush_cancels)  # runs after every cancel of this turn
        await asyncio.shield(self._cancel_flush)

    def _flush_cancels(self) -> None:
        batch, self._cancel_batch = self._cancel_batch, {}
        done, self._cancel_flush = self._cancel_flush, None
        assert done is not None
        pool = self._cancel_pool
        if pool is None or not batch:
            done.set_result(None)
            return

        async def flush() -> None:
            loop = asyncio.get_running_loop()
            try:
                await asyncio.wait_for(
                    loop.run_in_executor(pool, self._cancel_sync, list(batch),
                                         [f for f in batch.values() if f is not None]),
                    CONTROL_TIMEOUT_S,
                )
            except BaseException as exc:
                done.set_exception(exc)
                done.exception()  # retrieved: every waiter logs it itself
            else:
                done.set_result(None)

        self._flush_task = asyncio.ensure_future(flush())

    def _cancel_sync(self, tokens: list[str], futures: list[Any]) -> None:
        client = self._client
        if client is None:
            return
        try:
            client.run(_cancel_on_worker, tokens, on_error="ignore")
        finally:
            with contextlib.suppress(Exception):
                client.cancel(futures)

    def _control_soon(self, token: str, action: str, worker: str | None) -> None:
        """Fire and forget, in order (pause then resume never swap): one control thread."""
        pool = self._control_pool
        if pool is None:
            return
        fut = pool.submit(self._control_sync, token, action, worker)
        fut.add_done_callback(_log_control_error)

    def _forget(self, token: str) -> None:
        self._handles.pop(token, None)


def _log_control_error(fut: concurrent.futures.Future[None]) -> None:
    exc = fut.exception()
    if exc is not None:
        log.warning("dask executor control call failed: %s", exc)


def _build_job(request: ScriptRequest, *, scratch: bool, executor_id: str) -> dict[str, Any]:
    """The plain, JSON-friendly job dict a worker gets (NodeFailure if it cannot be built)."""
    try:
        input_json = json.dumps(request.input, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise NodeFailure(f"inputs are not JSON-serializable: {exc}",
                          error_type="SandboxError") from None
    job: dict[str, Any] = {
        "protocol": PROTOCOL,
        "executor_id": executor_id,
        "project_dir": str(request.project_dir),
        "temp_dir": str(request.temp_dir) if request.temp_dir is not None else None,
        "scratch": scratch,
        "code": request.code,
        "script": None,
        "script_source": None,
        "input_json": input_json,
        "timeout_s": float(request.timeout_s),
        "memory_mb": int(request.memory_mb),
        "python": request.python,
        "env": dict(request.env),
        "label": request.label,
    }
    if request.script is not None:
        from nopflow.sandbox import SandboxError, check_inside

        root = Path(request.project_dir).resolve()
        try:
            path = check_inside(root, request.script, what="script path")
        except SandboxError as exc:
            raise NodeFailure(str(exc), error_type="SandboxError") from None
        if not path.is_file():
            raise NodeFailure(f"script not found: {request.script}", error_type="SandboxError")
        try:
            job["script_source"] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise NodeFailure(f"cannot read script {request.script}: {exc}",
                              error_type="SandboxError") from None
        job["script"] = path.relative_to(root).as_posix()
    return job


class DaskScriptHandle:
    """The engine's view of one remote script: wait, pause, resume, cancel (ScriptHandle)."""

    def __init__(
        self, executor: DaskExecutor, token: str, loop: asyncio.AbstractEventLoop,
        on_line: LineCallback,
    ) -> None:
        self.executor = executor
        self.token = token
        self.loop = loop
        self._on_line = on_line
        self._future: Any = None
        self._worker: str | None = None
        self._received = 0
        self._line_seen = asyncio.Event()
        self._done: asyncio.Future[ScriptResult] = loop.create_future()
        self._completing = False
        self._paused = False

    @property
    def worker(self) -> str | None:
        """Address of the worker running the script, once it has started."""
        return self._worker

    def _attach(self, future: Any) -> None:
        self._future = future
        future.add_done_callback(self._future_done)

    # ---- from the client's threads (marshalled onto the engine loop)
    def _future_done(self, future: Any) -> None:
        """Dask callback thread: fetch the result here (may block), then hand it over."""
        try:
            if future.status == "finished":
                raw: Any = future.result(timeout=60)
            elif future.status == "cancelled":
                raw = {"cancelled": True}
            else:
                exc = future.exception(timeout=60)
                raw = {"exception": f"{type(exc).__name__}: {exc}"}
        except BaseException as exc:  # the callback thread must never die
            raw = {"exception": f"{type(exc).__name__}: {exc}"}
        with contextlib.suppress(RuntimeError):  # loop closed: nobody is waiting any more
            self.loop.call_soon_threadsafe(self._complete_soon, raw)

    def _on_message(self, msg: dict[str, Any]) -> None:
        if self._done.done():
            return
        kind = msg.get("e")
        if kind == "start":
            self._worker = msg.get("w")
        elif kind == "line":
            i = int(msg.get("i", self._received))
            if i < self._received:
                return
            self._received = i + 1
            try:
                self._on_line(str(msg.get("l", "")))
            except Exception:
                log.exception("stderr line callback failed")
            self._line_seen.set()

    def _complete_soon(self, raw: Any) -> None:
        if self._completing or self._done.done():
            return
        self._completing = True
        self.loop.create_task(self._complete(raw))

    async def _complete(self, raw: Any) -> None:
        outcome = self._outcome(raw)
        if isinstance(raw, dict) and "streamed" in raw:
            await self._catch_up(int(raw["streamed"]), int(raw.get("lines", 0)),
                                 outcome.stderr_tail or "")
        self.executor._forget(self.token)
        if not self._done.done():
            self._done.set_result(outcome)

    async def _catch_up(self, streamed: int, lines: int, tail: str) -> None:
        """Deliver every stderr line once: wait briefly for events, then use the tail."""
        deadline = self.loop.time() + LINE_CATCHUP_S
        while self._received < streamed:
            left = deadline - self.loop.time()
            if left <= 0:
                break
            self._line_seen.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._line_seen.wait(), left)
        if self._received >= lines:
            return
        tail_lines = tail.split("\n") if lines else []
        first_in_tail = lines - len(tail_lines)
        start = max(self._received, first_in_tail)
        if start > self._received:
            self._emit(f"[… {start - self._received} stderr lines not streamed; "
                       "see the stderr tail]")
        for i in range(start, lines):
            self._emit(tail_lines[i - first_in_tail])
        self._received = lines

    def _emit(self, line: str) -> None:
        try:
            self._on_line(line)
        except Exception:
            log.exception("stderr line callback failed")

    def _outcome(self, raw: Any) -> ScriptResult:
        if not isinstance(raw, dict):
            return _failure(f"the dask worker returned an unexpected result: {raw!r:.200}",
                            "ExecutorError")
        if raw.get("cancelled"):
            return _failure("cancelled", "Cancelled")
        if "exception" in raw:
            return _failure(f"the dask task failed: {raw['exception']}", "ExecutorError")
        output: Any = None
        if raw.get("ok"):
            try:
                output = json.loads(raw.get("output_json") or "{}")
            except ValueError as exc:  # cannot happen with our worker; be explicit anyway
                return _failure(f"output is not valid JSON: {exc}", "InvalidOutput")
        from nopflow.sandbox import ScriptResult

        return ScriptResult(
            ok=bool(raw.get("ok")),
            output=output,
            error=raw.get("error"),
            error_type=raw.get("error_type"),
            traceback=raw.get("traceback"),
            stderr_tail=raw.get("stderr_tail") or "",
            exit_code=raw.get("exit_code"),
            duration_s=float(raw.get("duration_s") or 0.0),
        )

    # ---- ScriptHandle
    def pause(self) -> None:
        """SIGSTOP the remote child (its timeout clock stops); best effort, asynchronous."""
        if self._done.done() or self._paused:
            return
        self._paused = True
        self.executor._control_soon(self.token, "pause", self._worker)

    def resume(self) -> None:
        """SIGCONT the remote child."""
        if self._done.done() or not self._paused:
            return
        self._paused = False
        self.executor._control_soon(self.token, "resume", self._worker)

    async def cancel(self) -> None:
        """Kill the child on its worker and cancel the Dask future; waits for the kill.

        Cancels of one loop turn (a run cancelling everything) travel as one batch: each
        worker first marks every unknown token (so a queued task freed by a kill can never
        start its script), then kills the children it runs.
        """
        if self._done.done():
            return
        try:
            await self.executor._cancel(self.token, self._future)
        except Exception as exc:
            log.warning("cancelling script %s on the cluster failed: %s", self.token, exc)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._done), CONTROL_TIMEOUT_S)
        if not self._done.done():
            self.executor._forget(self.token)
            self._done.set_result(_failure("cancelled", "Cancelled"))

    async def wait(self) -> ScriptResult:
        """The script's outcome, once the worker has reported it."""
        return await asyncio.shield(self._done)


# =========================================================================== worker side
class _WorkerService:
    """One per worker process: an event-loop thread owning one ScriptRunner and a registry.

    Dask runs tasks in plain threads; the sandbox wants one asyncio loop that lives as long
    as its zygote. Every script of this process runs on this loop, so the zygote (and its
    pre-forked spares) is started once and reused. The registry maps task tokens to live
    handles; control calls made before a task starts are kept in ``pending`` and applied
    when it does (a cancelled token never starts a child).
    """

    def __init__(self) -> None:
        import multiprocessing.util

        from nopflow.sandbox import runner as sandbox_runner

        self.loop = asyncio.new_event_loop()
        self.runner: Any = None
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

    async def run(self, token: str, spec: Any, on_line: Callable[[str], None]) -> Any:
        from nopflow.sandbox import SandboxError, ScriptRunner

        pending = self.pending.pop(token, None)
        if pending is not None and pending[0] == "cancel":
            return _failure("cancelled", "Cancelled")
        if self.runner is None:
            self.runner = ScriptRunner()
        self.starting[token] = pending[0] if pending else None
        try:
            handle = await self.runner.start(spec, on_stderr_line=on_line)
        except SandboxError as exc:
            return _failure(str(exc), "SandboxError")
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
                *(asyncio.wait_for(h.cancel(), CONTROL_TIMEOUT_S - 2) for h in running),
                return_exceptions=True,
            )

    async def control(self, token: str, action: str) -> bool:
        """Apply pause/resume/cancel; True if this worker runs (or is starting) the token."""
        handle = self.handles.get(token)
        if handle is not None:
            if action == "cancel":
                await asyncio.wait_for(handle.cancel(), CONTROL_TIMEOUT_S - 2)
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


_SERVICE: _WorkerService | None = None
_SERVICE_LOCK = threading.Lock()


def _service(worker: Any = None) -> _WorkerService:
    global _SERVICE
    with _SERVICE_LOCK:
        if _SERVICE is None:
            _SERVICE = _WorkerService()
        if worker is not None and "nopflow-sandbox" not in worker.extensions:
            worker.extensions["nopflow-sandbox"] = _WorkerCloser(_SERVICE)
        return _SERVICE


class _WorkerCloser:
    """A worker extension: ``Worker.close`` calls ``close()``, which ends our children.

    Without it, a worker told to close (or interrupted) would wait in its thread pool for
    the scripts to reach their timeouts.
    """

    def __init__(self, service: _WorkerService) -> None:
        self.service = service

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                asyncio.wrap_future(self.service.submit(self.service.shutdown())), 12
            )


def _scratch_base(executor_id: str) -> Path:
    safe = "".join(c for c in executor_id if c.isalnum())[:32] or "x"
    return Path(tempfile.gettempdir()) / f"nopflow-dask-{safe}"


def _worker_spec(job: dict[str, Any]) -> tuple[Any, str]:
    """The ScriptSpec to run here, and whether the project dir is shared or scratch."""
    from nopflow.sandbox import ScriptSpec, check_inside

    base = _scratch_base(str(job["executor_id"]))
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
    label = str(job.get("label") or "")
    rel = job.get("script")
    if rel:
        source = str(job.get("script_source") or "")
        target = check_inside(project, rel, what="script path")
        if mode == "scratch":
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(source, encoding="utf-8")
            script = rel
        else:
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
    return spec, mode


def run_script_task(token: str, topic: str, job: dict[str, Any]) -> dict[str, Any]:
    """Dask task (worker thread): run one script in the worker's sandbox, return plain data.

    Blocks this task thread only; the script itself runs in a sandboxed child process
    driven by the worker's sandbox loop. Stderr lines are published as worker events on
    ``topic`` as they come, tagged with ``token`` and a sequence number.
    """
    if job.get("protocol") != PROTOCOL:
        return {"ok": False, "error": f"this worker's nopflow speaks protocol {PROTOCOL}, "
                f"the client sent {job.get('protocol')}; install the same nopflow version "
                "on the workers", "error_type": "ExecutorError", "stderr_tail": "",
                "lines": 0, "streamed": 0}
    worker: Any = None
    try:
        from distributed import get_worker

        worker = get_worker()
    except Exception:  # called outside a worker (tests): no live lines
        worker = None
    address = getattr(worker, "address", None)
    counter = {"lines": 0, "streamed": 0}

    def publish(msg: dict[str, Any]) -> None:
        if worker is not None:
            try:
                worker.log_event(topic, msg)
            except Exception:
                pass

    def on_line(line: str) -> None:
        i = counter["lines"]
        counter["lines"] = i + 1
        if i < LIVE_LINES_MAX:
            counter["streamed"] = i + 1
            publish({"k": token, "e": "line", "i": i, "l": line})

    from nopflow.sandbox import SandboxError

    try:
        spec, mode = _worker_spec(job)
    except (SandboxError, OSError, ValueError) as exc:
        return {"ok": False, "error": str(exc), "error_type": "SandboxError",
                "stderr_tail": "", "lines": 0, "streamed": 0, "worker": address}
    publish({"k": token, "e": "start", "w": address})
    service = _service(worker)
    result = service.submit(service.run(token, spec, on_line)).result()
    output_json = json.dumps(result.output, ensure_ascii=False) if result.ok else None
    return {
        "ok": bool(result.ok),
        "output_json": output_json,
        "error": result.error,
        "error_type": result.error_type,
        "traceback": result.traceback,
        "stderr_tail": result.stderr_tail,
        "exit_code": result.exit_code,
        "duration_s": result.duration_s,
        "lines": counter["lines"],
        "streamed": counter["streamed"],
        "worker": address,
        "project_mode": mode,
    }


async def _control_on_worker(token: str, action: str) -> bool:
    """``client.run`` target (worker's loop): pause/resume/cancel a token's script."""
    service = _service()
    return bool(await asyncio.wrap_future(service.submit(service.control(token, action))))


async def _cancel_on_worker(tokens: list[str]) -> None:
    """``client.run`` target (worker's loop): cancel a batch of tokens' scripts."""
    service = _service()
    await asyncio.wrap_future(service.submit(service.cancel_many(tokens)))


def _ignore_sigint_on_worker() -> None:
    """``client.run`` target (the worker's main thread): leave Ctrl+C to the client."""
    import signal

    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _cleanup_on_worker(executor_id: str) -> None:
    """``client.run`` target: remove a finished run's scratch folder on this worker."""
    shutil.rmtree(_scratch_base(executor_id), ignore_errors=True)


def _drop_topic_on_scheduler(topic: str, dask_scheduler: Any = None) -> None:
    """``client.run_on_scheduler`` target: forget a finished run's log lines."""
    broker = getattr(dask_scheduler, "_broker", None)
    topics = getattr(broker, "_topics", None)
    if isinstance(topics, dict):
        topics.pop(topic, None)


def live_script_pids() -> list[int]:
    """Pids of script children this worker process runs now (``client.run`` diagnostics)."""
    service = _SERVICE
    if service is None:
        return []
    return [int(h.pid) for h in list(service.handles.values())]


__all__ = [
    "EXTRA_MESSAGE",
    "DaskExecutor",
    "DaskScriptHandle",
    "dask_missing_reason",
    "run_script_task",
]
