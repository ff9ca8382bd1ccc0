"""The asyncio runner: one `Run` per execution of a compiled workflow (DESIGN.md §4).

Scheduling is readiness-driven: every node keeps a count of unfinished predecessors; when
a node finishes, its successors' counts drop and a successor whose count reaches zero
starts at once (or is `skipped` when none of its incoming edges is live). There are no
level barriers and no scans over all nodes, so the cost per node is constant.

A *group* is one set of nodes scheduled together: the top level, or one iteration of a
loop body (the body's direct members, with `$loop` and the item flowing out of the loop's
`body` port). Groups nest through loop nodes, whose block asks the runner to run the body.

Concurrency: a node holds one of ``max_parallel`` slots only while its block runs (not
while it waits for predecessors, for a retry backoff, or — for loop nodes — for its body),
so loop bodies share the limit without deadlock.

Cancellation uses task cancellation, which interrupts any await (sleep, slot, script)
at once; every group then waits until its tasks have cleaned up (child processes killed)
before it reports back, so a finished run never leaves work behind.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
import traceback
import uuid
from collections import ChainMap
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import networkx as nx

from nopflow.blocks import Block
from nopflow.engine import expressions as ex
from nopflow.engine.compiler import Plan, compile_workflow, resolved_credentials
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult
from nopflow.engine.events import (
    EventBus,
    NodeLog,
    NodeRetryScheduled,
    NodeStateChanged,
    Progress,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
)
from nopflow.engine.executor import (
    Executor,
    ScriptHandle,
    ScriptOutcome,
    ScriptRequest,
    make_executor,
)
from nopflow.engine.retry import run_with_retries
from nopflow.engine.state import AttemptRecord, NodeRecord, NodeState, RunState
from nopflow.model import RetryPolicy, Workflow
from nopflow.model.credentials import Credential
from nopflow.model.redact import REDACTED, Redactor, run_secrets

log = logging.getLogger(__name__)

_SUCCESS = NodeState.SUCCESS
_ERROR = NodeState.ERROR
_SKIPPED = NodeState.SKIPPED
_CANCELLED = NodeState.CANCELLED
_RUNNING = NodeState.RUNNING
_PENDING = NodeState.PENDING


class _Static:
    """What the runner needs about a node, computed once per run (not per start)."""

    __slots__ = (
        "block",
        "config",
        "error_mode",
        "id",
        "in_edges",
        "is_loop",
        "node",
        "retry",
        "succs",
    )

    def __init__(self, plan: Plan, nid: str, block: Block) -> None:
        cn = plan.nodes[nid]
        self.id = nid
        self.node = cn.node
        self.config = cn.config
        self.block = block
        self.in_edges = tuple(cn.in_edges)
        self.succs = tuple(dict.fromkeys(e.target for e in cn.out_edges))
        self.error_mode = cn.node.error_mode or plan.workflow.settings.error_mode
        self.retry: RetryPolicy = cn.node.retry
        self.is_loop = cn.node.type == "loop"


class _Group:
    """Runtime state of one scheduling group (top level or one loop iteration)."""

    __slots__ = (
        "aborted",
        "blocked",
        "continued",
        "external",
        "finished",
        "iteration",
        "loop",
        "member_set",
        "members",
        "outputs",
        "pending",
        "ports",
        "remaining",
        "scope_nodes",
        "started",
        "status",
        "stop_failure",
        "tasks",
    )

    def __init__(
        self,
        members: list[str],
        member_set: frozenset[str],
        remaining: dict[str, int],
        scope_parent: Mapping[str, Any] | None,
        loop: dict[str, Any] | None,
        external: dict[str, Any],
        iteration: int | None,
    ) -> None:
        self.members = members
        self.member_set = member_set
        self.remaining = remaining
        self.outputs: dict[str, Any] = {}
        self.scope_nodes: Mapping[str, Any] = (
            self.outputs if scope_parent is None else ChainMap(self.outputs, scope_parent)
        )
        self.status: dict[str, NodeState] = {}
        self.ports: dict[str, frozenset[str] | None] = {}
        self.continued: set[str] = set()
        self.blocked: set[str] = set()
        self.started: set[str] = set()
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.pending = len(members)
        self.finished = asyncio.Event()
        self.aborted = False
        self.stop_failure: tuple[str, str] | None = None
        self.loop = loop
        self.external = external
        self.iteration = iteration


@dataclass(slots=True)
class _Attempt:
    """One attempt's outcome: an output and fired ports, or a failure."""

    result: NodeResult | None
    failure: NodeFailure | None


def _failed(outcome: _Attempt) -> bool:
    return outcome.failure is not None


def _retry_after(outcome: _Attempt) -> float | None:
    return outcome.failure.retry_after_s if outcome.failure is not None else None


async def _await_despite_cancel(aw: Awaitable[Any]) -> Any:
    """Await cleanup to the end even if our task is cancelled again meanwhile."""
    task = asyncio.ensure_future(aw)
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                return task.result()


def _wake(fut: asyncio.Future[str], why: str) -> None:
    if not fut.done():
        fut.set_result(why)


class Run:
    """One execution of a workflow: states, controls, events, result.

    Create it (this compiles; `CompileError` lists every problem), subscribe to
    ``run.events``, then ``await run.execute()``. ``pause()``, ``resume()`` and
    ``cancel()`` may be called at any time from the event loop and are idempotent.
    """

    def __init__(
        self,
        workflow: Workflow | Plan,
        *,
        inputs: Mapping[str, Any] | None = None,
        project_dir: Path | str | None = None,
        executor: Executor | None = None,
        env: Mapping[str, str] | None = None,
        run_id: str | None = None,
        credentials: Mapping[str, Credential] | None = None,
    ) -> None:
        pdir = Path(project_dir) if project_dir is not None else None
        plan = workflow if isinstance(workflow, Plan) else compile_workflow(workflow, pdir)
        #: the credentials this run uses (resolved by the caller, in this process)
        self._creds = resolved_credentials(plan, credentials or {})
        wf = plan.workflow
        self.plan = plan
        self.workflow = wf
        self.id = run_id or uuid.uuid4().hex
        self.events = EventBus()
        self.state = RunState.IDLE
        self.inputs: dict[str, Any] = {**wf.input_defaults(), **dict(inputs or {})}
        self.vars: dict[str, Any] = dict(wf.variables)
        self.outputs: dict[str, Any] = {}
        self.error: str | None = None
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.duration_s: float | None = None
        self.nodes: dict[str, NodeRecord] = {
            nid: NodeRecord(nid, title=plan.nodes[nid].node.label, type=plan.nodes[nid].node.type)
            for nid in plan.order
        }
        self._project_dir = pdir
        self._executor = executor
        self._owns_executor = executor is None
        self._env = env
        #: hides the run's secret values in everything that leaves it (events, logs,
        #: `result()`, history, the editor's panels)
        self.redactor = Redactor(run_secrets(wf.secret_inputs(), self.inputs, {})).with_values(
            v for cred in self._creds.values() for v in cred.fields.values())
        self._cred_scope = {name: dict(c.fields) for name, c in self._creds.items()}
        self._cancel_requested = False
        self._stopped = False
        self._any_failed = False
        self._slots = asyncio.Semaphore(wf.settings.max_parallel)
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._sleepers: set[asyncio.Future[str]] = set()
        self._handles: set[ScriptHandle] = set()
        self._temp_dir: Path | None = None
        self._top: _Group | None = None
        self._t0 = 0.0
        self._done_nodes: set[str] = set()
        self._descendants: dict[str, set[str]] = {}
        blocks: dict[type[Block], Block] = {}
        self._blocks = blocks
        self._static: dict[str, _Static] = {}
        for nid in plan.order:
            cls = plan.nodes[nid].block
            inst = blocks.get(cls)
            if inst is None:
                inst = blocks[cls] = cls()
            self._static[nid] = _Static(plan, nid, inst)
        # members and initial predecessor counts per group kind (None = top level)
        self._members: dict[str | None, tuple[list[str], frozenset[str], dict[str, int]]] = {}
        self._members[None] = self._group_shape(plan.top_level)
        for lid, body in plan.loops.items():
            self._members[lid] = self._group_shape([n for n in plan.order if n in body.direct])

    def _group_shape(self, members: list[str]) -> tuple[list[str], frozenset[str], dict[str, int]]:
        member_set = frozenset(members)
        remaining = {
            nid: len({e.source for e in self._static[nid].in_edges if e.source in member_set})
            for nid in members
        }
        return members, member_set, remaining

    # ------------------------------------------------------------------ public API

    @property
    def project_dir(self) -> Path:
        """Where scripts run: the workflow file's folder, or a scratch folder if unsaved."""
        if self._project_dir is None:
            from nopflow.storage.locations import scratch_project_dir

            self._project_dir = scratch_project_dir(self.workflow.id)
        return self._project_dir

    @property
    def status(self) -> str:
        return self.state.value

    @property
    def duration_ms(self) -> int | None:
        return None if self.duration_s is None else round(self.duration_s * 1000)

    def result(self) -> dict[str, Any]:
        """The `--json` result shape (DESIGN.md §8), secrets redacted."""
        return {
            "run_id": self.id,
            "status": self.state.value,
            "duration_ms": self.duration_ms,
            "outputs": self.redactor.value(self.outputs),
            "nodes": {nid: rec.summary(self.redactor) for nid, rec in self.nodes.items()},
        }

    def public_inputs(self) -> dict[str, Any]:
        """The run inputs as they may leave the run: secret ones as ``***``, others redacted."""
        secret = self.workflow.secret_inputs()
        return {k: REDACTED if k in secret else self.redactor.value(v)
                for k, v in self.inputs.items()}

    def pause(self) -> None:
        """Hold new node starts, suspend running scripts and stop delay/backoff clocks."""
        if self.state is not RunState.RUNNING or self._cancel_requested:
            return
        self.state = RunState.PAUSED
        self._resumed.clear()
        for fut in list(self._sleepers):
            _wake(fut, "pause")
        for handle in list(self._handles):
            self._call_handle(handle, "pause")
        if self.events.active:
            self.events.emit(RunPaused(self.id, time.time()))

    def resume(self) -> None:
        """Continue a paused run."""
        if self.state is not RunState.PAUSED:
            return
        self.state = RunState.RUNNING
        for handle in list(self._handles):
            self._call_handle(handle, "resume")
        self._resumed.set()
        if self.events.active:
            self.events.emit(RunResumed(self.id, time.time()))

    def cancel(self) -> None:
        """End running work at once and mark everything unfinished `cancelled`."""
        if self.state.finished or self._cancel_requested:
            return
        self._cancel_requested = True
        if self.state is RunState.PAUSED:
            # cancelling is not resuming: scripts are resumed only to be killed, by their node
            self._resumed.set()
        if self._top is not None:
            self._abort(self._top)

    async def execute(self) -> Run:
        """Run to the end; returns self with `state` completed, failed or cancelled."""
        if self.state is not RunState.IDLE:
            raise RuntimeError("a Run can be executed once; create a new Run to run again")
        loop = asyncio.get_running_loop()
        self._t0 = loop.time()
        self.started_at = time.time()
        self.state = RunState.RUNNING
        if self.events.active:
            self.events.emit(
                RunStarted(
                    self.id,
                    self.started_at,
                    workflow_id=self.workflow.id,
                    workflow_name=self.workflow.name,
                    total=len(self.nodes),
                    inputs=self.public_inputs(),
                )
            )
        if self._executor is None and any(
            cn.node.type == "python" for cn in self.plan.nodes.values()
        ):
            # Create it now, not at the first script: the local executor warms the sandbox
            # up in the background while the nodes before the first script run.
            self._executor = self._make_executor()
        interrupted = False
        try:
            if not self._cancel_requested:
                members, member_set, remaining = self._members[None]
                self._top = _Group(members, member_set, dict(remaining), None, None, {}, None)
                await self._run_group(self._top)
        except asyncio.CancelledError:
            interrupted = True
            self._cancel_requested = True
        except Exception as exc:  # an engine bug must still end the run cleanly
            log.exception("run %s failed inside the engine", self.id)
            self.error = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            await _await_despite_cancel(self._finish(loop))
        if interrupted:
            raise asyncio.CancelledError
        return self

    # ------------------------------------------------------------------ run services

    def _make_executor(self) -> Executor:
        settings = self.workflow.settings.executor
        return make_executor(settings.kind, settings.address)

    async def sleep(self, seconds: float) -> None:
        """Wait; the clock stops while paused; cancellation interrupts at once."""
        if seconds <= 0:
            return
        loop = asyncio.get_running_loop()
        remaining = float(seconds)
        while remaining > 0:
            if self.state is RunState.PAUSED:
                await self._resumed.wait()
            fut: asyncio.Future[str] = loop.create_future()
            self._sleepers.add(fut)
            t0 = loop.time()
            timer = loop.call_later(remaining, _wake, fut, "timeout")
            try:
                why = await fut
            finally:
                timer.cancel()
                self._sleepers.discard(fut)
            if why == "timeout":
                return
            remaining -= loop.time() - t0

    async def run_script(self, ctx: NodeContext, request: ScriptRequest) -> ScriptOutcome:
        """Start a script on the executor and wait for it, pausing/cancelling with the run."""
        if self._executor is None:
            self._executor = self._make_executor()
        nid = ctx.node_id
        handle = await self._executor.start_script(request, partial(self.log, nid))
        self._handles.add(handle)
        if self.state is RunState.PAUSED:
            self._call_handle(handle, "pause")
        try:
            return await handle.wait()
        except asyncio.CancelledError:
            self._call_handle(handle, "resume")
            await _await_despite_cancel(handle.cancel())
            raise
        finally:
            self._handles.discard(handle)

    async def run_loop_body(
        self, ctx: NodeContext, items: list[Any], parallel: int
    ) -> list[Any]:
        """Run loop ``ctx.node_id``'s body once per item; results in item order."""
        lid = ctx.node_id
        parent = ctx.group
        assert isinstance(parent, _Group)
        members, member_set, remaining = self._members[lid]
        n = len(items)
        results: list[Any] = [None] * n
        if not members or n == 0:
            return results
        sinks = self.plan.loops[lid].sinks
        next_index = 0
        failure: tuple[int, str, str] | None = None
        active: set[_Group] = set()

        async def worker() -> None:
            nonlocal next_index, failure
            while failure is None and next_index < n:
                i = next_index
                next_index += 1
                item = items[i]
                group = _Group(
                    members,
                    member_set,
                    dict(remaining),
                    parent.scope_nodes,
                    {"item": item, "index": i, "first": i == 0, "last": i == n - 1},
                    {lid: item},
                    i,
                )
                active.add(group)
                try:
                    await self._run_group(group)
                finally:
                    active.discard(group)
                if group.stop_failure is not None:
                    if failure is None:
                        failure = (i, *group.stop_failure)
                        for other in list(active):
                            self._abort(other)
                    continue
                for sink in reversed(sinks):
                    if group.status.get(sink) is _SUCCESS:
                        results[i] = group.outputs.get(sink)
                        break

        if parallel <= 1 or n == 1:
            await worker()
        else:
            tasks = [asyncio.ensure_future(worker()) for _ in range(min(parallel, n))]
            try:
                await asyncio.wait(tasks)
            except asyncio.CancelledError:
                for t in tasks:
                    t.cancel()
                await _await_despite_cancel(asyncio.wait(tasks))
                raise
            for t in tasks:
                if not t.cancelled() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
        if failure is not None:
            index, node_id, message = failure
            raise NodeFailure(
                f"loop body failed at item {index}: node {node_id}: {message}",
                error_type="LoopBodyFailed",
            )
        return results

    def credential(self, name: str) -> Credential:
        """A credential the plan references (the compiler made sure it was resolved)."""
        try:
            return self._creds[name]
        except KeyError:
            raise NodeFailure(f"credential '{name}' was not resolved for this run: name it "
                              "in a credential field or $creds.NAME.FIELD",
                              error_type="CredentialError") from None

    def set_vars(self, values: Mapping[str, Any]) -> None:
        """Copy-on-write so scopes already handed out keep the values they started with."""
        self.vars = {**self.vars, **values}

    def log(self, node_id: str, line: str, stream: str = "stderr") -> None:
        """A node's log line: kept in the record's tail and sent as an event."""
        line = self.redactor.text(line.rstrip("\n")) or ""
        self.nodes[node_id].logs.append(line)
        if self.events.active:
            self.events.emit(NodeLog(self.id, time.time(), node_id=node_id, line=line,
                                     stream=stream))

    def temp_dir(self) -> Path:
        if self._temp_dir is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix=f"nopflow-run-{self.id[:8]}-"))
        return self._temp_dir

    # ------------------------------------------------------------------ scheduling

    async def _run_group(self, g: _Group) -> None:
        """Start the group's ready nodes and wait until every member is finished."""
        remaining = g.remaining
        for nid in g.members:
            if remaining[nid] == 0 and nid not in g.status and nid not in g.started:
                if self._ready(g, nid):
                    self._settle(g, nid)
        if g.pending == 0:
            return
        try:
            await g.finished.wait()
        except asyncio.CancelledError:
            self._abort(g)
            await _await_despite_cancel(g.finished.wait())
            raise

    def _ready(self, g: _Group, nid: str) -> bool:
        """All predecessors finished: start the node, or skip it (returns True if skipped)."""
        st = self._static[nid]
        prev: Any = None
        by_node: dict[str, Any] = {}
        live = False
        status = g.status
        for e in st.in_edges:
            src = e.source
            if src in g.external:
                if e.source_port != "body":
                    continue
                value = g.external[src]
            else:
                s = status.get(src)
                if s is _SUCCESS:
                    ports = g.ports.get(src)
                    if ports is not None and e.source_port not in ports:
                        continue
                elif not (s is _ERROR and src in g.continued):
                    continue
                value = g.outputs[src]
            if not live:
                prev = value
                live = True
            elif isinstance(prev, dict) and isinstance(value, dict):
                prev = {**prev, **value}
            else:
                prev = value
            by_node[src] = value
        if st.in_edges and (not live or nid in g.blocked):
            status[nid] = _SKIPPED
            rec = self.nodes[nid]
            if g.iteration is not None:
                rec.reset_for_iteration(g.iteration)
            self._set_state(rec, _SKIPPED, g)
            return True
        if not live:
            prev = {}
        g.started.add(nid)
        task = asyncio.ensure_future(self._node_task(g, st, prev, by_node))
        g.tasks[nid] = task
        task.add_done_callback(partial(self._task_done, g, nid))
        return False

    def _settle(self, g: _Group, nid: str) -> None:
        """A node finished: count it and make ready successors run (iterative, no recursion)."""
        stack = [nid]
        members = g.member_set
        remaining = g.remaining
        while stack:
            n = stack.pop()
            g.pending -= 1
            self._progress(n)
            if g.aborted:
                continue
            for s in self._static[n].succs:
                if s in members:
                    left = remaining[s] - 1
                    remaining[s] = left
                    if left == 0 and self._ready(g, s):
                        stack.append(s)
        if g.pending <= 0:
            g.finished.set()

    def _task_done(self, g: _Group, nid: str, task: asyncio.Task[None]) -> None:
        g.tasks.pop(nid, None)
        if nid not in g.status:  # cancelled before it ran, or an engine bug
            rec = self.nodes[nid]
            if not task.cancelled() and task.exception() is not None:
                exc = task.exception()
                log.error("node %s crashed the engine", nid, exc_info=exc)
                self._fail(g, self._static[nid], rec, NodeFailure(
                    f"internal error: {type(exc).__name__}: {exc}", error_type="InternalError"))
            else:
                g.status[nid] = _CANCELLED
                self._set_state(rec, _CANCELLED, g)
        self._settle(g, nid)

    def _abort(self, g: _Group) -> None:
        """Stop a group: nodes not started become `cancelled`, running ones are cancelled."""
        if g.aborted:
            return
        g.aborted = True
        for nid in g.members:
            if nid not in g.status and nid not in g.started:
                g.status[nid] = _CANCELLED
                self._set_state(self.nodes[nid], _CANCELLED, g)
                g.pending -= 1
                self._progress(nid)
        for task in list(g.tasks.values()):
            task.cancel()
        if g.pending <= 0:
            g.finished.set()

    def _progress(self, nid: str) -> None:
        done = self._done_nodes
        if nid not in done:
            done.add(nid)
            if self.events.active:
                self.events.emit(Progress(self.id, time.time(), done=len(done),
                                          total=len(self.nodes)))

    # ------------------------------------------------------------------ one node

    async def _node_task(self, g: _Group, st: _Static, prev: Any, by_node: dict[str, Any]) -> None:
        nid = st.id
        rec = self.nodes[nid]
        if g.iteration is not None:
            rec.reset_for_iteration(g.iteration)
        rec.inputs = prev
        loop = asyncio.get_running_loop()
        t_first: list[float] = []

        async def attempt(n: int) -> _Attempt:
            if st.is_loop:  # a loop waits for its body: it must not hold a slot
                if self.state is RunState.PAUSED:
                    await self._resumed.wait()
            else:
                await self._acquire_slot()
            try:
                return await self._attempt(g, st, rec, prev, by_node, n, loop, t_first)
            finally:
                if not st.is_loop:
                    self._slots.release()

        def on_retry(next_attempt: int, delay: float, outcome: _Attempt) -> None:
            if self.events.active:
                err = self.redactor.text(outcome.failure.message) if outcome.failure else None
                self.events.emit(NodeRetryScheduled(self.id, time.time(), node_id=nid,
                                                    attempt=next_attempt, delay_s=delay,
                                                    error=err))

        try:
            outcome = await run_with_retries(st.retry, attempt, _failed, self.sleep, on_retry,
                                             _retry_after)
        except asyncio.CancelledError:
            g.status[nid] = _CANCELLED
            self._end_timing(rec, loop, t_first)
            self._set_state(rec, _CANCELLED, g)
            return
        self._end_timing(rec, loop, t_first)
        g.tasks.pop(nid, None)
        if outcome.failure is not None:
            self._fail(g, st, rec, outcome.failure)
            return
        result = outcome.result
        assert result is not None
        g.outputs[nid] = result.output
        g.ports[nid] = result.ports
        g.status[nid] = _SUCCESS
        rec.output = result.output
        if result.ports is not None:
            rec.details["ports"] = sorted(result.ports)
        self._set_state(rec, _SUCCESS, g)

    async def _attempt(
        self,
        g: _Group,
        st: _Static,
        rec: NodeRecord,
        prev: Any,
        by_node: dict[str, Any],
        n: int,
        loop: asyncio.AbstractEventLoop,
        t_first: list[float],
    ) -> _Attempt:
        now = time.time()
        t0 = loop.time()
        if not t_first:
            t_first.append(t0)
            rec.started_at = now
        rec.attempt = n
        attempt_rec = AttemptRecord(n, now)
        rec.attempts.append(attempt_rec)
        self._set_state(rec, _RUNNING, g)
        ctx = NodeContext(
            node=st.node,
            config=st.config,
            record=rec,
            prev=prev,
            by_node=by_node,
            scope=ex.Scope(self.inputs, self.vars, prev, g.scope_nodes, g.loop, self._env,
                           self._cred_scope),
            attempt=n,
            settings=self.workflow.settings,
            services=self,
            group=g,
        )
        failure: NodeFailure | None = None
        result: Any = None
        try:
            result = await st.block.run(ctx)
        except NodeFailure as exc:
            failure = exc
        except ex.ExpressionError as exc:
            failure = NodeFailure(f"node {st.id}: {exc}", error_type="ExpressionError")
        except Exception as exc:
            failure = NodeFailure(
                f"{type(exc).__name__}: {exc}",
                error_type=type(exc).__name__,
                traceback=traceback.format_exc(),
            )
        attempt_rec.ended_at = time.time()
        attempt_rec.duration_s = loop.time() - t0
        if failure is not None:
            attempt_rec.error = failure.message
            attempt_rec.error_type = failure.error_type
            rec.error = failure.message
            rec.error_type = failure.error_type
            rec.traceback = failure.traceback
            if failure.stderr_tail is not None:
                rec.stderr_tail = failure.stderr_tail
            return _Attempt(None, failure)
        rec.error = rec.error_type = rec.traceback = None
        if not isinstance(result, NodeResult):
            result = NodeResult(result)
        return _Attempt(result, None)

    async def _acquire_slot(self) -> None:
        """Wait until not paused and a slot is free (re-checking pause after the wait)."""
        while True:
            if self.state is RunState.PAUSED and not self._cancel_requested:
                await self._resumed.wait()
            await self._slots.acquire()
            if self.state is not RunState.PAUSED or self._cancel_requested:
                return
            self._slots.release()

    def _end_timing(self, rec: NodeRecord, loop: asyncio.AbstractEventLoop,
                    t_first: list[float]) -> None:
        if t_first:
            rec.ended_at = time.time()
            rec.duration_s = loop.time() - t_first[0]

    def _fail(self, g: _Group, st: _Static, rec: NodeRecord, failure: NodeFailure) -> None:
        """Record a failure and apply the node's error mode to its group."""
        nid = st.id
        self._any_failed = True
        g.status[nid] = _ERROR
        rec.error = failure.message
        rec.error_type = failure.error_type
        if failure.traceback is not None:
            rec.traceback = failure.traceback
        if failure.stderr_tail is not None:
            rec.stderr_tail = failure.stderr_tail
        mode = st.error_mode
        if mode == "continue":
            # `$prev.error` is the message a person reads; the kind is beside it
            out = {"error": failure.message, "error_type": failure.error_type}
            g.outputs[nid] = out
            g.continued.add(nid)
            rec.output = out
        self._set_state(rec, _ERROR, g)
        if mode == "skip-branch":
            g.blocked |= self._descendants_of(nid)
        elif mode == "stop":
            g.stop_failure = (nid, failure.message)
            if g is self._top:
                self._stopped = True
            self._abort(g)

    def _descendants_of(self, nid: str) -> set[str]:
        found = self._descendants.get(nid)
        if found is None:
            found = self._descendants[nid] = nx.descendants(self.plan.graph, nid)
        return found

    def _set_state(
        self, rec: NodeRecord, state: NodeState, g: _Group | None = None
    ) -> None:
        """Set and announce a node's state. Parallel loop iterations share one record, so
        the event's iteration comes from the scheduling group, not the record."""
        rec.state = state
        if self.events.active:
            self.events.emit(
                NodeStateChanged(
                    self.id,
                    time.time(),
                    node_id=rec.node_id,
                    state=state.value,
                    attempt=rec.attempt,
                    started_at=rec.started_at,
                    ended_at=rec.ended_at if state is not _RUNNING else None,
                    duration_ms=rec.duration_ms if state is not _RUNNING else None,
                    error=self.redactor.text(rec.error) if state is _ERROR else None,
                    error_type=rec.error_type if state is _ERROR else None,
                    iteration=rec.iteration if g is None else g.iteration,
                    ports=_event_ports(rec) if state is _SUCCESS else None,
                )
            )

    def _call_handle(self, handle: ScriptHandle, method: str) -> None:
        try:
            getattr(handle, method)()
        except Exception:
            log.exception("script handle %s() failed", method)

    # ------------------------------------------------------------------ the end

    async def _finish(self, loop: asyncio.AbstractEventLoop) -> None:
        unfinished = _CANCELLED if (self._cancel_requested or self._stopped) else _SKIPPED
        for rec in self.nodes.values():
            if rec.state is _PENDING or rec.state is _RUNNING:
                self._set_state(rec, unfinished)
                self._progress(rec.node_id)
        outputs: dict[str, Any] = {}
        for nid in self.plan.order:
            rec = self.nodes[nid]
            if rec.type == "output" and rec.state is _SUCCESS and isinstance(rec.output, dict):
                outputs.update(rec.output)
        self.outputs = outputs
        if self._cancel_requested:
            self.state = RunState.CANCELLED
        elif self._any_failed or self.error is not None:
            self.state = RunState.FAILED
        else:
            self.state = RunState.COMPLETED
        self.ended_at = time.time()
        self.duration_s = loop.time() - self._t0
        try:
            if self._executor is not None and self._owns_executor:
                await self._executor.aclose()
        except Exception:
            log.exception("closing the executor failed")
        for block in self._blocks.values():
            try:
                await block.aclose()
            except Exception:
                log.exception("closing block %s failed", block.type)
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
        if self.events.active:
            first_error = next(
                (f"node {r.node_id}: {r.error}" for r in self.nodes.values()
                 if r.state is _ERROR and r.error), self.error)
            self.events.emit(
                RunFinished(self.id, self.ended_at, status=self.state.value,
                            duration_ms=self.duration_ms or 0,
                            outputs=self.redactor.value(self.outputs),
                            error=self.redactor.text(first_error))
            )


class Engine:
    """Creates runs. Holds what runs share: an optional executor factory.

    Headless and GUI use it the same way; the GUI's loop is qasync's, which the engine
    never needs to know.
    """

    def __init__(self, executor_factory: Callable[[Workflow], Executor] | None = None) -> None:
        self._executor_factory = executor_factory

    def prepare(
        self,
        workflow: Workflow,
        *,
        inputs: Mapping[str, Any] | None = None,
        project_dir: Path | str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Run:
        """Compile and create a run (raises `CompileError`); subscribe, then execute it."""
        executor = self._executor_factory(workflow) if self._executor_factory else None
        return Run(workflow, inputs=inputs, project_dir=project_dir, executor=executor, env=env)

    async def run(
        self,
        workflow: Workflow,
        *,
        inputs: Mapping[str, Any] | None = None,
        project_dir: Path | str | None = None,
        subscribers: Iterable[Callable[[Any], object]] = (),
        env: Mapping[str, str] | None = None,
    ) -> Run:
        """Prepare, subscribe and execute in one call."""
        run = self.prepare(workflow, inputs=inputs, project_dir=project_dir, env=env)
        for sub in subscribers:
            run.events.subscribe(sub)
        return await run.execute()


__all__ = ["Engine", "Run"]


def _event_ports(rec: NodeRecord) -> tuple[str, ...] | None:
    ports = rec.details.get("ports")
    return None if ports is None else tuple(ports)
