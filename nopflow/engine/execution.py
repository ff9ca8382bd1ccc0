"""Executing one node (docs/execution.md): attempts, retries, error modes, failure recording.

A node holds one of ``max_parallel`` slots only while its block runs — not while it waits
for a retry backoff or, for a block with body ports (a loop), for its body — so loop bodies
share the limit without deadlock. When the node is over, its task settles it with the
scheduler itself (no done-callback round trip through the loop).
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from functools import partial
from typing import TYPE_CHECKING, Any

from nopflow.engine import expressions as ex
from nopflow.engine.caching import NodeCache
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult
from nopflow.engine.events import NodeRetryScheduled
from nopflow.engine.ports import ERROR_PORT
from nopflow.engine.retry import run_with_retries
from nopflow.engine.scheduling import Group, NodePlan, Scheduler
from nopflow.engine.slots import Slots
from nopflow.engine.state import AttemptRecord, NodeRecord, NodeState, RunState

if TYPE_CHECKING:
    from nopflow.engine.runner import Run
    from nopflow.engine.services import BlockServices

log = logging.getLogger(__name__)

_SUCCESS = NodeState.SUCCESS
_ERROR = NodeState.ERROR
_CANCELLED = NodeState.CANCELLED
_RUNNING = NodeState.RUNNING
_PAUSED = RunState.PAUSED
ERROR_PORTS = frozenset({ERROR_PORT})


def _failed(outcome: NodeResult | NodeFailure) -> bool:
    return isinstance(outcome, NodeFailure)


def _retry_after(outcome: NodeResult | NodeFailure) -> float | None:
    return outcome.retry_after_s if isinstance(outcome, NodeFailure) else None


class NodeExecution:
    """Runs nodes for a scheduler: one task per node, each attempt in a slot."""

    def __init__(self, run: Run, scheduler: Scheduler, services: BlockServices) -> None:
        self._run = run
        self._scheduler = scheduler
        self._services = services
        self._nodes = run.nodes
        self._settings = run.workflow.settings
        self._slots = Slots(run.workflow.settings.max_parallel)
        #: a failure happened somewhere (the run ends `failed`)
        self.any_failed = False
        scheduler.start_node = self.run_node
        #: the cache, when the run has one and some node has it on
        self.cache = NodeCache(run, run.cache) if run.cache is not None else None
        if self.cache is not None and not any(self.cache.wants(n) for n in run.plan.nodes):
            self.cache = None

    async def run_node(self, g: Group, st: NodePlan, prev: Any, by_node: dict[str, Any]) -> None:
        """The node's task: its attempts, then its outcome, then settling it."""
        nid = st.id
        g.entered.add(nid)
        rec = self._nodes[nid]
        loop = self._scheduler.loop
        t_first: list[float] = []
        try:
            key = None
            cache = self.cache
            if cache is not None and cache.wants(nid):
                key = cache.key(g, st, by_node)
                hit = cache.lookup(key)
                if hit is not None:
                    g.tasks.pop(nid, None)
                    if g is self._scheduler.top:
                        self._run.output_digests[nid] = hit.digest
                    self._scheduler.end_supplied(g, nid, prev, hit.output, hit.ports,
                                                 "cached", None)
                    return
            if g.iteration is not None:
                rec.reset_for_iteration(g.iteration)
            rec.inputs = prev
            try:
                if not st.retries:
                    outcome = await self._attempt(g, st, rec, prev, by_node, loop, t_first, 1)
                else:
                    outcome = await run_with_retries(
                        st.retry,
                        partial(self._attempt, g, st, rec, prev, by_node, loop, t_first),
                        _failed,
                        self._services.sleep,
                        partial(self._on_retry, nid),
                        _retry_after,
                    )
            except asyncio.CancelledError:
                g.status[nid] = _CANCELLED
                _end_timing(rec, loop, t_first)
                self._scheduler.set_state(rec, _CANCELLED, g)
                return
            rec.ended_at = time.time()  # t_first is set: an attempt ran
            rec.duration_s = loop.time() - t_first[0]
            g.tasks.pop(nid, None)  # over: an abort from here on must not cancel this task
            if isinstance(outcome, NodeFailure):
                self.fail(g, st, rec, outcome)
                return
            ports = outcome.ports if outcome.ports is not None else st.ok_ports
            g.outputs[nid] = outcome.output
            g.ports[nid] = ports
            g.status[nid] = _SUCCESS
            rec.output = outcome.output
            if ports is not None:
                rec.details["ports"] = sorted(ports)
            if key is not None:
                cache.keep(g, nid, key, outcome.output, ports)  # type: ignore[union-attr]
            self._scheduler.set_state(rec, _SUCCESS, g)
        except Exception as exc:  # an engine bug: the node fails, the run goes on cleanly
            if nid not in g.status:
                log.error("node %s crashed the engine", nid, exc_info=exc)
                g.tasks.pop(nid, None)
                self.fail(g, st, rec, NodeFailure(
                    f"internal error: {type(exc).__name__}: {exc}", error_type="InternalError"))
        finally:
            g.tasks.pop(nid, None)
            self._scheduler.settle(g, nid)

    def _on_retry(self, nid: str, next_attempt: int, delay: float,
                  outcome: NodeResult | NodeFailure) -> None:
        events = self._run.events
        if events.active:
            err = (self._run.redactor.text(outcome.message)
                   if isinstance(outcome, NodeFailure) else None)
            events.emit(NodeRetryScheduled(self._run.id, time.time(), node_id=nid,
                                           attempt=next_attempt, delay_s=delay, error=err))

    async def _attempt(
        self,
        g: Group,
        st: NodePlan,
        rec: NodeRecord,
        prev: Any,
        by_node: dict[str, Any],
        loop: asyncio.AbstractEventLoop,
        t_first: list[float],
        n: int,
    ) -> NodeResult | NodeFailure:
        """One attempt: wait for a slot (unless it waits for a body), run the block."""
        run = self._run
        holds_slot = not st.body_ports
        if holds_slot:
            if run.state is _PAUSED or not self._slots.try_take():
                await self._acquire_slot()
        elif run.state is _PAUSED:
            await run._resumed.wait()
        try:
            now = time.time()
            t0 = loop.time()
            if not t_first:
                t_first.append(t0)
                rec.started_at = now
            rec.attempt = n
            attempt_rec = AttemptRecord(n, now)
            rec.attempts.append(attempt_rec)
            self._scheduler.set_state(rec, _RUNNING, g)
            ctx = NodeContext(st.node, st.config, rec, prev, by_node, run.vars, n,
                              self._settings, self._services, g)
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
            else:
                attempt_rec.ended_at = time.time()
                attempt_rec.duration_s = loop.time() - t0
                return result if isinstance(result, NodeResult) else NodeResult(result)
            attempt_rec.ended_at = time.time()
            attempt_rec.duration_s = loop.time() - t0
            attempt_rec.error = failure.message
            attempt_rec.error_type = failure.error_type
            return failure
        finally:
            if holds_slot:
                self._slots.give()

    async def _acquire_slot(self) -> None:
        """Wait until not paused and a slot is free (re-checking pause after the wait)."""
        run = self._run
        while True:
            if run.state is _PAUSED and not run._cancel_requested:
                await run._resumed.wait()
            await self._slots.take()
            if run.state is not _PAUSED or run._cancel_requested:
                return
            self._slots.give()

    def fail(self, g: Group, st: NodePlan, rec: NodeRecord, failure: NodeFailure) -> None:
        """Record a node's failure (after its last attempt) and apply its error mode."""
        nid = st.id
        mode = st.error_mode
        if mode != "route":  # a routed failure is handled: the run can still complete
            self.any_failed = True
        g.status[nid] = _ERROR
        rec.error = failure.message
        rec.error_type = failure.error_type
        rec.traceback = failure.traceback
        if failure.stderr_tail is not None:
            rec.stderr_tail = failure.stderr_tail
        if mode == "route":
            out = {"error": failure.message, "type": failure.error_type, "node": nid,
                   "inputs": rec.inputs}
            g.outputs[nid] = rec.output = out
            g.ports[nid] = ERROR_PORTS
            g.continued.add(nid)
            rec.details["handled"] = True
            rec.details["ports"] = sorted(ERROR_PORTS)
        elif mode == "continue":
            # `$prev.error` is the message a person reads; the kind is beside it
            out = {"error": failure.message, "error_type": failure.error_type}
            g.outputs[nid] = out
            g.continued.add(nid)
            rec.output = out
        self._scheduler.set_state(rec, _ERROR, g)
        if mode == "skip-branch":
            self._scheduler.block_descendants(g, nid)
        elif mode == "stop":
            self._scheduler.stop(g, nid, failure.message)


def _end_timing(rec: NodeRecord, loop: asyncio.AbstractEventLoop, t_first: list[float]) -> None:
    if t_first:
        rec.ended_at = time.time()
        rec.duration_s = loop.time() - t_first[0]
