"""The client side of the ``dask`` executor: ship scripts to a cluster, follow them there.

Each script start is one ``client.submit(run_script_task, …, pure=False, retries=0)``
(retries stay the engine's, so attempts are counted and shown once). Live stderr lines
come back as worker events on this client's own topic (``Client.id``: Dask truncates it
when the client leaves); whatever the stream has not delivered when the result arrives
is filled in from the result's stderr tail, so the log is never short. Pause, resume and
cancel reach the worker through ``client.run``; a control call that arrives before the
task starts is remembered there, so a queued task never starts cancelled work.

``distributed`` (and the worker module, which needs it) is imported when connecting:
nopflow without the ``dask`` extra never loads it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import socket
import uuid
from typing import Any
from urllib.parse import urlsplit

from nopflow.engine.context import NodeFailure
from nopflow.engine.executor import (
    ExecutorUnavailable,
    LineCallback,
    ScriptRequest,
    missing_extra_message,
)
from nopflow.executors.dask import wire
from nopflow.sandbox import ScriptResult

log = logging.getLogger(__name__)

EXTRA_MESSAGE = missing_extra_message("dask", "dask")
CONNECT_TIMEOUT_S = 10.0
CONTROL_TIMEOUT_S = 15.0
CLOSE_TIMEOUT_S = 30.0
#: how long a finished task's result waits for stderr events still in flight
LINE_CATCHUP_S = 1.0


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


class DaskExecutor:
    """Runs script blocks on a Dask cluster; one instance per run (owned by the run).

    ``address=None`` starts a throw-away ``LocalCluster`` on 127.0.0.1 (processes,
    ``n_workers`` × ``threads_per_worker``, no public dashboard) and closes it with the
    executor. ``scratch=True`` makes workers ignore the client's project path even if it
    exists there (tests; clusters whose paths collide by accident).

    The ``distributed.Client`` is a synchronous one with its own IO thread: the engine's
    loop may be qasync's. Blocking client calls (connect, run, cancel, close) go to
    threads; ``submit`` does not block.
    """

    kind = "dask"

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
        self._topic: str | None = None
        self._worker: Any = None  # the worker module, once distributed is importable
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
        """Where scripts run: the scheduler (and its worker count, once connected)."""
        if self._client is None and self._cluster is None:
            if self.address is None:
                return "a local Dask cluster on 127.0.0.1"
            return f"Dask scheduler {self.address}"
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
        try:
            import dask.config
            from distributed import Client, LocalCluster

            from nopflow.executors.dask import worker
        except ImportError:
            self._error = EXTRA_MESSAGE
            raise ExecutorUnavailable(EXTRA_MESSAGE) from None
        self._worker = worker
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
            # every worker (and any that joins later) gets the sandbox service; its
            # teardown ends our children when a worker closes
            client.register_plugin(worker.SandboxPlugin(), name=worker.PLUGIN_NAME)
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
                client.run(worker.ignore_sigint_on_worker, on_error="ignore")
        # subscribe before the first submit: both go down the same ordered stream
        self._topic = str(client.id)
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
        token = wire.event_token(event)
        handle = self._handles.get(token) if token is not None else None
        if handle is not None:
            with contextlib.suppress(RuntimeError):  # the run's loop is already closed
                handle.loop.call_soon_threadsafe(handle._on_message, event[1])

    # ---- the Executor protocol
    async def start_script(self, request: ScriptRequest, on_line: LineCallback) -> DaskScriptHandle:
        """Ship the script to the cluster; the handle waits, pauses and cancels it there."""
        job = wire.build_job(request, scratch=self.scratch, executor_id=self.id)
        await self.start()
        client = self._client
        token = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        handle = DaskScriptHandle(self, token, loop, on_line)
        self._handles[token] = handle
        slug = "".join(c if c.isalnum() or c in "-_" else "_" for c in request.label)[:40]
        try:
            future = client.submit(
                self._worker.run_script_task,
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
        """Drop worker scratch folders, unsubscribe, close the client and the cluster."""
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
                lambda: client.run(self._worker.cleanup_on_worker, self.id, on_error="ignore"),
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
        control = self._worker.control_on_worker
        if worker is not None:
            try:
                res = client.run(control, token, action, workers=[worker], on_error="return")
                if res.get(worker) is True:
                    return
            except Exception as exc:
                log.debug("control %s on %s failed (%s); asking every worker", action, worker,
                          exc)
        # not started yet (or its worker unknown): every worker remembers it
        client.run(control, token, action, on_error="ignore")

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
            client.run(self._worker.cancel_on_worker, tokens, on_error="ignore")
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
            self._emit(str(msg.get("l", "")))
            self._line_seen.set()

    def _complete_soon(self, raw: Any) -> None:
        if self._completing or self._done.done():
            return
        self._completing = True
        self.loop.create_task(self._complete(raw))

    async def _complete(self, raw: Any) -> None:
        outcome = wire.result_from_wire(raw)
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
            self._done.set_result(wire.cancelled())

    async def wait(self) -> ScriptResult:
        """The script's outcome, once the worker has reported it."""
        return await asyncio.shield(self._done)
