"""The asyncio runner: one `Run` per execution of a compiled workflow (docs/execution.md).

`Run` is the public face: it compiles, holds the run's state and records, takes the
controls (pause / resume / cancel) and ends the run. The work is done by three parts:
`scheduling` (readiness counts, groups, settling, abort), `execution` (a node's attempts,
retries, slots, error modes) and `services` (what blocks ask the run for).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from nopflow.engine import expressions as ex
from nopflow.engine.compiler import Plan, compile_workflow, resolved_credentials
from nopflow.engine.events import EventBus, RunFinished, RunPaused, RunResumed, RunStarted
from nopflow.engine.execution import NodeExecution
from nopflow.engine.executor import Executor, create_executor
from nopflow.engine.reuse import OutputCache, Seeds
from nopflow.engine.scheduling import Scheduler, await_despite_cancel
from nopflow.engine.services import BlockServices
from nopflow.engine.state import NodeRecord, NodeState, RunState
from nopflow.engine.subworkflows import ParentLink
from nopflow.model import Workflow
from nopflow.model.credentials import Credential
from nopflow.model.redact import REDACTED, Redactor, run_secrets

log = logging.getLogger(__name__)

_SUCCESS = NodeState.SUCCESS
_ERROR = NodeState.ERROR
_SKIPPED = NodeState.SKIPPED
_CANCELLED = NodeState.CANCELLED


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
        parent: ParentLink | None = None,
        trigger: Mapping[str, Any] | None = None,
        environments: Mapping[str, str] | None = None,
        seeds: Seeds | None = None,
        pins: Mapping[str, Any] | None = None,
        cache: OutputCache | None = None,
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
        #: outputs from outside the run (docs/partial-runs.md): past runs', pinned, the cache
        self.seeds = seeds or Seeds()
        self.pins: Mapping[str, Any] = dict(pins or {})
        self.cache = cache
        self.vars.update(self.seeds.vars)
        #: top-level nodes' output digests, as the store knows them (the cache fills it)
        self.output_digests: dict[str, str] = {
            nid: s.digest for nid, s in self.seeds.nodes.items() if s.digest}
        #: cache-key parts per node that has the cache on, for the store and the inspector
        self.cache_parts: dict[str, dict[str, str]] = {}
        self.outputs: dict[str, Any] = {}
        #: `$trigger`: what started this run (kept on the record as "trigger")
        self.trigger: dict[str, Any] = dict(trigger) if trigger else {"type": "manual"}
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
        #: what `$env` sees: only the names listed in settings.env_allow (docs/credentials.md)
        self._env = ex.allowed_env(wf.settings.env_allow, os.environ if env is None else env)
        #: PEP 723 header key -> interpreter of the environment built for it before the run
        self.environments: dict[str, str] = dict(environments or {})
        #: hides the run's secret values in everything that leaves it (events, logs,
        #: `result()`, history, the editor's panels)
        secrets = run_secrets(wf.secret_inputs(), self.inputs, self._env)
        secrets.extend(v for cred in self._creds.values() for v in cred.fields.values())
        self.redactor = Redactor(secrets)
        self._cred_scope = {name: dict(c.fields) for name, c in self._creds.items()}
        #: the parent run and node when this is a sub-workflow's run
        self.parent = parent
        self._child_watchers: tuple[Callable[[Run, str], object], ...] = ()
        self._cancel_requested = False
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._t0 = 0.0
        self._scheduler = Scheduler(self)
        self._services = BlockServices(self, self._scheduler)
        self._execution = NodeExecution(self, self._scheduler, self._services)

    # ------------------------------------------------------------------ public API

    @property
    def project_dir(self) -> Path:
        """Where scripts run: the workflow file's folder, or a scratch folder if unsaved."""
        if self._project_dir is None:
            from nopflow.storage.locations import scratch_project_dir

            self._project_dir = scratch_project_dir(self.workflow.id)
        return self._project_dir

    @property
    def state_dir(self) -> Path:
        """The workflow's folder for state blocks keep across runs (in the data dir)."""
        from nopflow.storage.locations import workflow_state_dir

        return workflow_state_dir(self.workflow.id)

    @property
    def status(self) -> str:
        return self.state.value

    @property
    def duration_ms(self) -> int | None:
        return None if self.duration_s is None else round(self.duration_s * 1000)

    def result(self) -> dict[str, Any]:
        """The `--json` result shape (docs/cli.md), secrets redacted."""
        return {
            "run_id": self.id,
            "status": self.state.value,
            "duration_ms": self.duration_ms,
            "outputs": self.redactor.value(self.outputs),
            "trigger": self.redactor.value(self.trigger),
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
        self._services.pause_work()
        if self.events.active:
            self.events.emit(RunPaused(self.id, time.time()))

    def resume(self) -> None:
        """Continue a paused run."""
        if self.state is not RunState.PAUSED:
            return
        self.state = RunState.RUNNING
        self._services.resume_work()
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
        if self._scheduler.top is not None:
            self._scheduler.abort(self._scheduler.top)

    def watch_children(self, callback: Callable[[Run, str], object]) -> None:
        """Call ``callback(child, file)`` for each sub-workflow run this run creates, before
        it starts (history keeps each child run, linked to this one)."""
        self._child_watchers = (*self._child_watchers, callback)

    def make_child(self, plan: Plan, inputs: Mapping[str, Any], project_dir: Path,
                   link: ParentLink, file: str) -> Run:
        """A sub-workflow's run: this run's credentials, environment and executor."""
        shares = any(cn.block.needs_executor for cn in plan.nodes.values())
        child = Run(plan, inputs=inputs, project_dir=project_dir,
                    executor=self._script_executor() if shares else None, env=self._env,
                    credentials=self._creds, parent=link)
        child.redactor = child.redactor.joined(self.redactor)
        for watcher in self._child_watchers:
            try:
                watcher(child, file)
            except Exception:
                log.exception("a child-run watcher failed")
        return child

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
            cn.block.needs_executor for cn in self.plan.nodes.values()
        ):
            # Create it now, not at the first script: the local executor warms the sandbox
            # up in the background while the nodes before the first script run.
            self._executor = self._make_executor()
        interrupted = False
        try:
            if not self._cancel_requested:
                await self._scheduler.run_top()
        except asyncio.CancelledError:
            interrupted = True
            self._cancel_requested = True
        except Exception as exc:  # an engine bug must still end the run cleanly
            log.exception("run %s failed inside the engine", self.id)
            self.error = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            await await_despite_cancel(self._finish(loop))
        if interrupted:
            raise asyncio.CancelledError
        return self

    # ------------------------------------------------------------------ executor

    def _make_executor(self) -> Executor:
        return create_executor(self.workflow.settings.executor)

    def _script_executor(self) -> Executor:
        """The executor scripts run on (made at the first script if none was given)."""
        if self._executor is None:
            self._executor = self._make_executor()
        return self._executor

    # ------------------------------------------------------------------ the end

    async def _finish(self, loop: asyncio.AbstractEventLoop) -> None:
        stopped = self._cancel_requested or self._scheduler.stopped
        self._scheduler.end_unfinished(_CANCELLED if stopped else _SKIPPED)
        outputs: dict[str, Any] = {}
        for nid in self.plan.order:
            rec = self.nodes[nid]
            if (self.plan.nodes[nid].block.contributes_result and rec.state is _SUCCESS
                    and isinstance(rec.output, dict)):
                outputs.update(rec.output)
        self.outputs = outputs
        if self._cancel_requested:
            self.state = RunState.CANCELLED
        elif self._execution.any_failed or self.error is not None:
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
        for block in self._scheduler.blocks.values():
            try:
                await block.aclose()
            except Exception:
                log.exception("closing block %s failed", block.type)
        self._services.cleanup()
        if self.events.active:
            first_error = next(
                (f"node {r.node_id}: {r.error}" for r in self.nodes.values()
                 if r.state is _ERROR and r.error and not r.details.get("handled")),
                self.error)
            self.events.emit(
                RunFinished(self.id, self.ended_at, status=self.state.value,
                            duration_ms=self.duration_ms or 0,
                            outputs=self.redactor.value(self.outputs),
                            error=self.redactor.text(first_error))
            )



__all__ = ["Run"]
