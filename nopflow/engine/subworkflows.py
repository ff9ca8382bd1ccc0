"""Sub-workflows (docs/blocks.md): a node runs another workflow file as a child run.

Compile time: `SubworkflowChecks` loads and compiles each literal child file, so cycles,
nesting deeper than `MAX_DEPTH` and broken children are problems naming the files, and the
child plans (with their credentials) travel in the parent's plan. Run time: `run_child`
runs the child (`subruns`) as its own `Run` linked to the parent by a `ParentLink`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nopflow.blocks import get_block
from nopflow.errors import NopflowError
from nopflow.model import load_workflow

if TYPE_CHECKING:
    from nopflow.engine.compiler import Plan
    from nopflow.engine.credential_refs import CredentialCatalog, CredentialRef

#: Most sub-workflow levels below the workflow a run starts from.
MAX_DEPTH = 8


@dataclass(frozen=True)
class WorkflowRef:
    """One workflow of a chain of sub-workflows: its id and file (None: not saved)."""

    workflow_id: str
    file: str | None

    def label(self, root: Path | None) -> str:
        return display_path(self.file, root) if self.file else f"workflow {self.workflow_id}"


@dataclass(frozen=True)
class ParentLink:
    """What ties a child run to its parent: the parent run and the node that ran it."""

    run_id: str
    workflow_id: str
    node_id: str

    def to_dict(self) -> dict[str, Any]:
        """The `"parent"` of the child's history record."""
        return {"run_id": self.run_id, "workflow_id": self.workflow_id, "node_id": self.node_id}


def display_path(file: str | Path, root: Path | None) -> str:
    """A file as a person reads it: relative to the top project folder when inside it."""
    p = Path(file)
    if root is not None:
        try:
            return p.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return p.name


def chain_problem(chain: tuple[WorkflowRef, ...], child: WorkflowRef,
                  root: Path | None) -> str | None:
    """A cycle through ``child`` or nesting deeper than `MAX_DEPTH`, said with the files."""
    for i, ref in enumerate(chain):
        same = (ref.file is not None and ref.file == child.file) or (
            ref.file is None and ref.workflow_id == child.workflow_id)
        if same:
            ring = " → ".join(r.label(root) for r in (*chain[i:], child))
            return f"sub-workflow cycle: {ring}"
    if len(chain) > MAX_DEPTH:
        ring = " → ".join(r.label(root) for r in (*chain, child))
        return f"sub-workflows nest deeper than {MAX_DEPTH} levels: {ring}"
    return None


#: compiles a child: (workflow, project dir, catalog, file, chain, root) -> (plan, problems)
Compile = Callable[..., "tuple[Plan | None, list[Any]]"]


@dataclass
class SubworkflowChecks:
    """Compile-time checks of a workflow's literal sub-workflow paths (`CheckContext`)."""

    compile: Compile
    chain: tuple[WorkflowRef, ...]
    #: the top project folder: files are named relative to it
    root: Path | None
    credentials: CredentialCatalog | None = None
    #: resolved child file -> its plan
    plans: dict[str, Plan] = field(default_factory=dict)
    #: the children's credential uses, as uses by the node that runs them
    credential_refs: list[CredentialRef] = field(default_factory=list)

    def problems(self, node_id: str, path: Path, where: str) -> list[str]:
        """What keeps the child file at ``path`` from running under node ``node_id``."""
        file = str(path.resolve())
        parent = self.chain[-1].label(self.root) if self.chain else "this workflow"
        shown = display_path(file, self.root)
        if file in self.plans:
            return []
        try:
            wf = load_workflow(file, blocks=get_block)
        except NopflowError as exc:
            return [f"{where}: sub-workflow {shown} (used by {parent}) does not load: {exc}"]
        child = WorkflowRef(wf.id, file)
        problem = chain_problem(self.chain, child, self.root)
        if problem is not None:
            return [f"{where}: {problem}"]
        plan, found = self.compile(wf, path.resolve().parent, self.credentials, file,
                                   (*self.chain,), self.root)
        if plan is None:
            listed = "; ".join(str(p) for p in found)
            return [f"{where}: sub-workflow {shown} (used by {parent}) cannot run: {listed}"]
        self.plans[file] = plan
        self.credential_refs.extend(_as_node_refs(plan, node_id, shown))
        return []


def _as_node_refs(plan: Plan, node_id: str, shown: str) -> list[CredentialRef]:
    return [replace(ref, node_id=node_id, where=f"{shown}, node {ref.node_id}, {ref.where}")
            for ref in plan.credentials]
