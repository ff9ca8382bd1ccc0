"""The run-side services a block asks for through its context (`context.RunServices`).

Sleeping (the clock stops while paused, cancel interrupts at once), running a script on the
run's executor (paused and killed with the run), running a loop body, setting ``$vars``,
logging, and the run's private temp folder.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nopflow.engine import expressions as ex
from nopflow.engine.context import NodeContext, NodeFailure
from nopflow.engine.events import NodeLog
from nopflow.engine.executor import ScriptHandle, ScriptOutcome, ScriptRequest
from nopflow.engine.scheduling import Group, Scheduler, await_despite_cancel
from nopflow.engine.state import NodeState, RunState
from nopflow.engine.subruns import child_output, prepare_child, run_child
from nopflow.engine.subworkflows import display_path
from nopflow.model.credentials import Credential

if TYPE_CHECKING:
    from nopflow.engine.runner import Run

log = logging.getLogger(__name__)

_SUCCESS = NodeState.SUCCESS


def _wake(fut: asyncio.Future[str], why: str) -> None:
    if not fut.done():
        fut.set_result(why)


class BlockServices:
    """Implements `RunServices` for one run; pauses and resumes the work it started."""

    def __init__(self, run: Run, scheduler: Scheduler) -> None:
        self._run = run
        self._scheduler = scheduler
        self._sleepers: set[asyncio.Future[str]] = set()
        self._handles: set[ScriptHandle] = set()
        #: sub-workflow runs going on (paused, resumed and cancelled with this run)
        self._children: set[Run] = set()
        self._temp_dir: Path | None = None

    @property
    def project_dir(self) -> Path:
        return self._run.project_dir

    # ------------------------------------------------------------------ pause / resume

    def pause_work(self) -> None:
        """Stop sleep and backoff clocks and suspend running scripts."""
        for fut in list(self._sleepers):
            _wake(fut, "pause")
        for handle in list(self._handles):
            _call_handle(handle, "pause")
        for child in list(self._children):
            child.pause()

    def resume_work(self) -> None:
        for handle in list(self._handles):
            _call_handle(handle, "resume")
        for child in list(self._children):
            child.resume()

    def cleanup(self) -> None:
        """After the run: remove the temp folder."""
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    # ------------------------------------------------------------------ services

    async def sleep(self, seconds: float) -> None:
        """Wait; the clock stops while paused; cancellation interrupts at once."""
        if seconds <= 0:
            return
        run = self._run
        loop = asyncio.get_running_loop()
        remaining = float(seconds)
        while remaining > 0:
            if run.state is RunState.PAUSED:
                await run._resumed.wait()
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
        run = self._run
        executor = run._script_executor()
        handle = await executor.start_script(request, partial(self.log, ctx.node_id))
        self._handles.add(handle)
        if run.state is RunState.PAUSED:
            _call_handle(handle, "pause")
        try:
            return await handle.wait()
        except asyncio.CancelledError:
            _call_handle(handle, "resume")
            await await_despite_cancel(handle.cancel())
            raise
        finally:
            self._handles.discard(handle)

    async def run_loop_body(self, ctx: NodeContext, items: list[Any], parallel: int) -> list[Any]:
        """Run loop ``ctx.node_id``'s body once per item; results in item order."""
        lid = ctx.node_id
        parent = ctx.group
        assert isinstance(parent, Group)
        sched = self._scheduler
        shape = sched.shapes[lid]
        n = len(items)
        results: list[Any] = [None] * n
        if not shape[0] or n == 0:
            return results
        sinks = sched.plan.loops[lid].sinks
        next_index = 0
        failure: tuple[int, str, str] | None = None
        active: set[Group] = set()

        async def worker() -> None:
            nonlocal next_index, failure
            while failure is None and next_index < n:
                i = next_index
                next_index += 1
                item = items[i]
                group = Group(
                    shape,
                    parent.scope_nodes,
                    {"item": item, "index": i, "first": i == 0, "last": i == n - 1},
                    {lid: item},
                    i,
                )
                active.add(group)
                try:
                    await sched.run_group(group)
                finally:
                    active.discard(group)
                if group.stop_failure is not None:
                    if failure is None:
                        failure = (i, *group.stop_failure)
                        for other in list(active):
                            sched.abort(other)
                    continue
                for sink in reversed(sinks):
                    if group.status.get(sink) is _SUCCESS or (
                            sink in group.outputs and sink not in group.continued):
                        # success, or a disabled sink passing its input through
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
                await await_despite_cancel(asyncio.wait(tasks))
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

    async def run_subworkflow(self, ctx: NodeContext, path: Path, inputs: Mapping[str, Any]
                              ) -> Any:
        """Run the workflow file at ``path`` as a child run of this node; its `outputs`."""
        run = self._run
        if run.state is RunState.PAUSED:
            await run._resumed.wait()
        file = str(path.resolve())
        child = prepare_child(run, ctx.node_id, path, inputs)
        ctx.note("subworkflow", {"run_id": child.id, "workflow_id": child.workflow.id,
                                 "file": file})
        self._children.add(child)
        try:
            await run_child(run, ctx.node_id, child, file)
        finally:
            self._children.discard(child)
        return child_output(child, display_path(file, run.plan.root))

    def credential(self, name: str) -> Credential:
        """A credential the plan references (the compiler made sure it was resolved)."""
        try:
            return self._run._creds[name]
        except KeyError:
            raise NodeFailure(f"credential '{name}' was not resolved for this run: name it "
                              "in a credential field or $creds.NAME.FIELD",
                              error_type="CredentialError") from None

    def scope_for(self, ctx: NodeContext) -> ex.Scope:
        """The expression scope of a node attempt: the run's inputs, `$vars` at its start,
        its `$prev`, the outputs its group sees, `$loop`, the environment, credentials."""
        run = self._run
        g = ctx.group
        assert isinstance(g, Group)
        return ex.Scope(run.inputs, ctx.vars, ctx.prev, g.scope_nodes, g.loop, run._env,
                        run._cred_scope, run.trigger)

    def set_vars(self, values: Mapping[str, Any]) -> None:
        """Copy-on-write so scopes already handed out keep the values they started with."""
        run = self._run
        run.vars = {**run.vars, **values}

    def log(self, node_id: str, line: str, stream: str = "stderr") -> None:
        """A node's log line: kept in the record's tail and sent as an event."""
        run = self._run
        line = run.redactor.text(line.rstrip("\n")) or ""
        run.nodes[node_id].logs.append(line)
        if run.events.active:
            run.events.emit(NodeLog(run.id, time.time(), node_id=node_id, line=line,
                                    stream=stream))

    def script_environment(self, key: str) -> str | None:
        return self._run.environments.get(key)

    def state_dir(self) -> Path:
        return self._run.state_dir

    def temp_dir(self) -> Path:
        if self._temp_dir is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix=f"nopflow-run-{self._run.id[:8]}-"))
        return self._temp_dir


def _call_handle(handle: ScriptHandle, method: str) -> None:
    try:
        getattr(handle, method)()
    except Exception:
        log.exception("script handle %s() failed", method)
