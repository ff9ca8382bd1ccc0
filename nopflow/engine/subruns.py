"""Running a sub-workflow node's child run (docs/blocks.md), linked to its parent run.

Pause, resume and cancel of the parent reach the child (the parent's services hold it);
its start and progress are announced on the parent's event bus for the editor's n/total.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nopflow.blocks import get_block
from nopflow.engine.compiler import CompileError, compile_workflow
from nopflow.engine.context import NodeFailure
from nopflow.engine.events import Event, SubworkflowProgress, SubworkflowStarted
from nopflow.engine.scheduling import await_despite_cancel
from nopflow.engine.subworkflows import ParentLink, WorkflowRef, chain_problem, display_path
from nopflow.errors import NopflowError
from nopflow.model import load_workflow

if TYPE_CHECKING:
    from nopflow.engine.runner import Run


def _forward(parent: Run, node_id: str, child_id: str) -> Callable[[Event], None]:
    def on_event(event: Event) -> None:
        if event.kind == "progress" and parent.events.active:
            parent.events.emit(SubworkflowProgress(
                parent.id, time.time(), node_id=node_id, child_run_id=child_id,
                done=event.done, total=event.total))  # type: ignore[attr-defined]
    return on_event


def prepare_child(parent: Run, node_id: str, path: Path, inputs: Mapping[str, Any]) -> Run:
    """The child run of ``parent``'s node for the workflow file at ``path`` (not started).

    A literal path's plan was compiled with the parent's; a templated one is loaded and
    checked here (cycle, depth, problems). Any problem is the node's `NodeFailure`.
    """
    file = str(path.resolve())
    root = parent.plan.root
    chain = parent.plan.lineage
    shown = display_path(file, root)
    plan = parent.plan.subworkflows.get(file)
    if plan is None:  # a templated path: the checks the compiler could not make
        try:
            wf = load_workflow(file, blocks=get_block)
        except NopflowError as exc:
            raise NodeFailure(f"sub-workflow {shown} does not load: {exc}",
                              error_type="SubworkflowError") from None
        problem = chain_problem(chain, WorkflowRef(wf.id, file), root)
        if problem is not None:
            raise NodeFailure(problem, error_type="SubworkflowError")
        try:
            plan = compile_workflow(wf, path.resolve().parent, workflow_file=file,
                                    chain=chain, root=root)
        except CompileError as exc:
            listed = "; ".join(str(p) for p in exc.problems)
            raise NodeFailure(f"sub-workflow {shown} cannot run: {listed}",
                              error_type="SubworkflowError") from None
    link = ParentLink(parent.id, parent.workflow.id, node_id)
    try:
        return parent.make_child(plan, inputs, path.resolve().parent, link, file)
    except CompileError as exc:  # a credential the parent did not resolve
        listed = "; ".join(str(p) for p in exc.problems)
        raise NodeFailure(f"sub-workflow {shown} cannot run: {listed}",
                          error_type="SubworkflowError") from None


async def run_child(parent: Run, node_id: str, child: Run, file: str) -> None:
    """Execute ``child``, announcing it and its progress on the parent's bus.

    A cancelled node cancels the child and waits until it has ended (and is recorded).
    """
    child.events.subscribe(_forward(parent, node_id, child.id))
    if parent.events.active:
        parent.events.emit(SubworkflowStarted(
            parent.id, time.time(), node_id=node_id, child_run_id=child.id,
            workflow_id=child.workflow.id, file=file, total=len(child.nodes)))
    task = asyncio.ensure_future(child.execute())
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        child.cancel()
        await await_despite_cancel(task)
        raise


def child_output(child: Run, shown: str) -> Any:
    """The child's `outputs`, or the node's failure naming the child's failed node."""
    if child.state.value == "completed":
        return child.outputs
    failed = next(((nid, rec) for nid, rec in child.nodes.items()
                   if rec.state.value == "error"), None)
    if failed is not None:
        nid, rec = failed
        raise NodeFailure(f"sub-workflow {shown} failed at node {nid}: {rec.error}",
                          error_type="SubworkflowFailed", traceback=rec.traceback,
                          stderr_tail=rec.to_data().stderr_tail)
    why = f": {child.error}" if child.error else ""
    raise NodeFailure(f"sub-workflow {shown} {child.state.value}{why}",
                      error_type="SubworkflowFailed")
