"""Readiness-driven scheduling of a run's nodes (docs/execution.md): groups, counts, settling.

Every node keeps a count of unfinished predecessors; when a node finishes, its successors'
counts drop and a successor whose count reaches zero starts at once (or is `skipped` when
none of its incoming edges is live). There are no level barriers and no scans over all
nodes, so the cost per node is constant.

A *group* is one set of nodes scheduled together: the top level, or one iteration of a
loop body (the body's direct members, with `$loop` and the item flowing out of the loop's
body port). Groups nest through loop nodes, whose block asks the run to run the body.

Cancellation uses task cancellation, which interrupts any await at once; a group then
waits until its tasks have cleaned up (child processes killed) before it reports back.
"""

from __future__ import annotations

import asyncio
import time
from collections import ChainMap
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import networkx as nx

from nopflow.engine.compiler import Plan
from nopflow.engine.events import NodeStateChanged, Progress
from nopflow.engine.state import NodeRecord, NodeState
from nopflow.model import RetryPolicy

if TYPE_CHECKING:
    from nopflow.blocks import Block
    from nopflow.engine.runner import Run

_SUCCESS = NodeState.SUCCESS
_ERROR = NodeState.ERROR
_SKIPPED = NodeState.SKIPPED
_CANCELLED = NodeState.CANCELLED
_RUNNING = NodeState.RUNNING

#: (members in plan order, the same as a set, initial unfinished-predecessor counts)
GroupShape = tuple[list[str], frozenset[str], dict[str, int]]
#: starts one node's task: (group, node, $prev, live upstream outputs by node id)
NodeStarter = Callable[["Group", "NodePlan", Any, dict[str, Any]], Awaitable[None]]


class NodePlan:
    """What the run needs about a node, computed once per run (not per start)."""

    __slots__ = (
        "block",
        "body_ports",
        "config",
        "disabled",
        "error_mode",
        "id",
        "in_edges",
        "node",
        "ok_ports",
        "pass_ports",
        "retries",
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
        self.retries = self.retry.max_attempts > 1
        #: ports whose reach runs once per item: such a node waits for its body slot-free
        self.body_ports: frozenset[str] = block.body_ports
        #: `"disabled": true`: not run; the input passes through its first non-body port
        self.disabled = cn.node.disabled
        outs = [p for p in block.output_names() if p not in block.body_ports]
        self.pass_ports = frozenset(outs[:1])
        #: ports a success fires when the block says "all" (a routed node: not `error`)
        self.ok_ports: frozenset[str] | None = (
            frozenset(block.output_names()) if self.error_mode == "route" else None)


class Group:
    """Runtime state of one scheduling group (top level or one loop iteration)."""

    __slots__ = (
        "aborted",
        "blocked",
        "continued",
        "entered",
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
        "status",
        "stop_failure",
        "tasks",
    )

    def __init__(
        self,
        shape: GroupShape,
        scope_parent: Mapping[str, Any] | None,
        loop: dict[str, Any] | None,
        external: dict[str, Any],
        iteration: int | None,
    ) -> None:
        members, member_set, remaining = shape
        self.members = members
        self.member_set = member_set
        self.remaining = dict(remaining)
        self.outputs: dict[str, Any] = {}
        self.scope_nodes: Mapping[str, Any] = (
            self.outputs if scope_parent is None else ChainMap(self.outputs, scope_parent)
        )
        self.status: dict[str, NodeState] = {}
        self.ports: dict[str, frozenset[str] | None] = {}
        self.continued: set[str] = set()
        self.blocked: set[str] = set()
        #: running nodes' tasks (a node has a task, or a status, once it started)
        self.tasks: dict[str, asyncio.Task[None]] = {}
        #: nodes whose task has begun running (a task cancelled before that never runs)
        self.entered: set[str] = set()
        self.pending = len(members)
        self.finished = asyncio.Event()
        self.aborted = False
        #: (node id, message) of the failure that stopped this group (error mode `stop`)
        self.stop_failure: tuple[str, str] | None = None
        self.loop = loop
        self.external = external
        self.iteration = iteration


async def await_despite_cancel(aw: Awaitable[Any]) -> Any:
    """Await cleanup to the end even if our task is cancelled again meanwhile."""
    task = asyncio.ensure_future(aw)
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                return task.result()


class Scheduler:
    """Starts nodes as they become ready, settles them, aborts groups; owns node states."""

    def __init__(self, run: Run) -> None:
        plan = run.plan
        self._run = run
        self._events = run.events
        self._nodes = run.nodes
        self.plan = plan
        #: the coroutine that executes one node: node execution sets it when it is made
        self.start_node: NodeStarter = _unbound
        self.top: Group | None = None
        self.loop: asyncio.AbstractEventLoop  # set by run_top, before any node starts
        #: a top-level `stop` failure ended the run (unfinished nodes become cancelled)
        self.stopped = False
        self._done: set[str] = set()
        self._descendants: dict[str, set[str]] = {}
        #: some nodes may end without running (pins, seeds): `ready` asks `supply`
        self.supplied = bool(run.pins or run.seeds.nodes or run.seeds.left_out)
        #: one instance per block class in the plan (closed when the run ends)
        self.blocks: dict[type[Block], Block] = {}
        blocks = self.blocks
        self.static: dict[str, NodePlan] = {}
        for nid in plan.order:
            cls = plan.nodes[nid].block
            inst = blocks.get(cls)
            if inst is None:
                inst = blocks[cls] = cls()
            self.static[nid] = NodePlan(plan, nid, inst)
        #: members and initial predecessor counts per group kind (None = top level)
        self.shapes: dict[str | None, GroupShape] = {None: self._shape(plan.top_level)}
        for lid, body in plan.loops.items():
            self.shapes[lid] = self._shape([n for n in plan.order if n in body.direct])

    def _shape(self, members: list[str]) -> GroupShape:
        member_set = frozenset(members)
        remaining = {
            nid: len({e.source for e in self.static[nid].in_edges if e.source in member_set})
            for nid in members
        }
        return members, member_set, remaining

    # ------------------------------------------------------------------ groups

    async def run_top(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.top = Group(self.shapes[None], None, None, {}, None)
        await self.run_group(self.top)

    async def run_group(self, g: Group) -> None:
        """Start the group's ready nodes and wait until every member is finished."""
        remaining = g.remaining
        for nid in g.members:
            if remaining[nid] == 0 and nid not in g.status and nid not in g.tasks:
                if self.ready(g, nid):
                    self.settle(g, nid)
        if g.pending == 0:
            return
        try:
            await g.finished.wait()
        except asyncio.CancelledError:
            self.abort(g)
            await await_despite_cancel(g.finished.wait())
            raise

    def ready(self, g: Group, nid: str) -> bool:
        """All predecessors finished: start the node, or end it now — skipped, pinned or
        reused (returns True when it ended, for the caller to settle)."""
        st = self.static[nid]
        prev: Any = None
        by_node: dict[str, Any] = {}
        live = False
        status = g.status
        external = g.external
        for e in st.in_edges:
            src = e.source
            if src in external:
                if e.source_port not in self.static[src].body_ports:
                    continue
                value = external[src]
            else:
                s = status.get(src)
                if (s is _SUCCESS or (s is _ERROR and src in g.continued)
                        or (s is _SKIPPED and src in g.outputs)):  # a disabled pass-through
                    ports = g.ports.get(src)
                    if ports is not None and e.source_port not in ports:
                        continue
                else:
                    continue
                value = g.outputs[src]
            if not live:
                prev = value
                live = True
            elif value is prev:  # one output reached us twice (a diamond): nothing to merge
                pass
            elif isinstance(prev, dict) and isinstance(value, dict):
                prev = {**prev, **value}
            else:
                prev = value
            by_node[src] = value
        if st.disabled or (st.in_edges and (not live or nid in g.blocked)):
            status[nid] = _SKIPPED
            rec = self._nodes[nid]
            if g.iteration is not None:
                rec.reset_for_iteration(g.iteration)
            if st.disabled:
                rec.details["reason"] = "disabled"
                if (live or not st.in_edges) and nid not in g.blocked:
                    out = prev if live else {}
                    g.outputs[nid] = rec.inputs = rec.output = out
                    g.ports[nid] = st.pass_ports
            self.set_state(rec, _SKIPPED, g)
            return True
        if not live:
            prev = {}
        if self.supplied and self.supply(g, nid, prev):
            return True
        g.tasks[nid] = self.loop.create_task(self.start_node(g, st, prev, by_node))
        return False

    def supply(self, g: Group, nid: str, prev: Any) -> bool:
        """A pinned, reused or left-out node ends here without running (True), else False."""
        run = self._run
        pins = run.pins
        if nid in pins:
            self.end_supplied(g, nid, prev, pins[nid], None, "pinned", None)
            return True
        if g is not self.top:
            return False
        seed = run.seeds.nodes.get(nid)
        if seed is not None:
            self.end_supplied(g, nid, prev, seed.output, seed.ports, "reused", seed.run_id)
            return True
        if nid in run.seeds.left_out:
            g.status[nid] = _SKIPPED
            self.set_state(self._nodes[nid], _SKIPPED, g)
            return True
        return False

    def end_supplied(self, g: Group, nid: str, prev: Any, output: Any,
                     ports: frozenset[str] | None, source: str, reused_from: str | None) -> None:
        """The node succeeds with an output it did not compute (its caller settles it)."""
        rec = self._nodes[nid]
        if g.iteration is not None:
            rec.reset_for_iteration(g.iteration)
        rec.started_at = rec.ended_at = time.time()
        rec.duration_s = 0.0
        rec.inputs = prev
        rec.output = output
        rec.source = source
        rec.reused_from = reused_from
        if ports is not None:
            rec.details["ports"] = sorted(ports)
        g.outputs[nid] = output
        g.ports[nid] = ports
        g.status[nid] = _SUCCESS
        self.set_state(rec, _SUCCESS, g)

    def settle(self, g: Group, nid: str) -> None:
        """A node finished: count it and make ready successors run (iterative, no recursion:
        a successor that is skipped settles through the same loop)."""
        members = g.member_set
        remaining = g.remaining
        static = self.static
        skipped: list[str] | None = None
        n: str | None = nid
        while n is not None:
            g.pending -= 1
            self.progress(n)
            if not g.aborted:
                for s in static[n].succs:
                    if s in members:
                        left = remaining[s] - 1
                        remaining[s] = left
                        if left == 0 and self.ready(g, s):
                            if skipped is None:
                                skipped = []
                            skipped.append(s)
            n = skipped.pop() if skipped else None
        if g.pending <= 0:
            g.finished.set()

    def abort(self, g: Group) -> None:
        """Stop a group: nodes not running become `cancelled`, running ones are cancelled."""
        if g.aborted:
            return
        g.aborted = True
        for nid in g.members:
            if nid not in g.status and nid not in g.entered:
                # never started, or its task has not begun: that task never runs its body
                g.status[nid] = _CANCELLED
                self.set_state(self._nodes[nid], _CANCELLED, g)
                g.pending -= 1
                self.progress(nid)
        for task in list(g.tasks.values()):
            task.cancel()
        if g.pending <= 0:
            g.finished.set()

    def stop(self, g: Group, nid: str, message: str) -> None:
        """Error mode `stop`: the failure ends the group (and the run, at the top level)."""
        g.stop_failure = (nid, message)
        if g is self.top:
            self.stopped = True
        self.abort(g)

    def block_descendants(self, g: Group, nid: str) -> None:
        """Error mode `skip-branch`: everything downstream of ``nid`` is skipped."""
        found = self._descendants.get(nid)
        if found is None:
            found = self._descendants[nid] = nx.descendants(self.plan.graph, nid)
        g.blocked |= found

    # ------------------------------------------------------------------ node states

    def progress(self, nid: str) -> None:
        done = self._done
        if nid not in done:
            done.add(nid)
            if self._events.active:
                self._events.emit(Progress(self._run.id, time.time(), len(done),
                                           len(self._nodes)))

    def set_state(self, rec: NodeRecord, state: NodeState, g: Group | None = None) -> None:
        """Set and announce a node's state. Parallel loop iterations share one record, so
        the event's iteration comes from the scheduling group, not the record."""
        rec.state = state
        if self._events.active:
            over = state is not _RUNNING
            error = state is _ERROR
            self._events.emit(
                NodeStateChanged(  # by position (field order): twice per node with a listener
                    self._run.id,
                    time.time(),
                    rec.node_id,
                    state.value,
                    rec.attempt,
                    rec.started_at,
                    rec.ended_at if over else None,
                    rec.duration_ms if over else None,
                    self._run.redactor.text(rec.error) if error else None,
                    rec.error_type if error else None,
                    rec.iteration if g is None else g.iteration,
                    _event_ports(rec) if state is _SUCCESS else None,
                    rec.source,
                    rec.reused_from,
                )
            )

    def end_unfinished(self, state: NodeState) -> None:
        """The run is over: nodes still pending or running get ``state``."""
        for rec in self._nodes.values():
            if rec.state is NodeState.PENDING or rec.state is _RUNNING:
                self.set_state(rec, state)
                self.progress(rec.node_id)


async def _unbound(g: Group, st: NodePlan, prev: Any, by_node: dict[str, Any]) -> None:
    raise RuntimeError("no node execution is bound to this scheduler")


def _event_ports(rec: NodeRecord) -> tuple[str, ...] | None:
    ports = rec.details.get("ports")
    return None if ports is None else tuple(ports)
