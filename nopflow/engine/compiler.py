"""Compile a workflow into an execution plan, or report every problem at once (docs/execution.md).

Validation collects all problems instead of stopping at the first, so a person fixes a
broken workflow in one pass. Each problem names the node or edge it is about; the CLI prints
them as `node <id>: …`, the editor badges the nodes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

import networkx as nx
from pydantic import ValidationError

from nopflow.blocks import Block, BlockConfig, CheckContext, all_blocks, block_types, get_block
from nopflow.engine import expressions as ex
from nopflow.engine.credential_refs import (
    CredentialCatalog,
    CredentialRef,
    catalog_problems,
    node_credential_refs,
)
from nopflow.engine.executor import python_problem
from nopflow.engine.ports import ERROR_PORT, node_output_names
from nopflow.engine.subworkflows import SubworkflowChecks, WorkflowRef
from nopflow.errors import NopflowError
from nopflow.model import Edge, Node, Workflow
from nopflow.model.credentials import Credential, missing_credential_message
from nopflow.triggers.checks import trigger_problems


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a workflow, tied to a node or an edge where there is one."""

    message: str
    node_id: str | None = None
    edge_id: str | None = None
    kind: str = "invalid"
    #: what the problem is about besides the node (a missing credential's name)
    subject: str | None = None
    #: the trigger the problem is about (docs/triggers.md)
    trigger_id: str | None = None

    def __str__(self) -> str:
        if self.node_id is not None:
            return f"node {self.node_id}: {self.message}"
        if self.trigger_id is not None:
            return f"trigger {self.trigger_id}: {self.message}"
        if self.edge_id is not None:
            return f"edge {self.edge_id}: {self.message}"
        return f"workflow: {self.message}"


class CompileError(NopflowError):
    """The workflow cannot run; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class LoopBody:
    """The subgraph a loop node runs once per item."""

    loop_id: str
    #: every node reached from the loop's `body` port (nested loops' bodies included)
    members: set[str]
    #: members whose innermost enclosing loop is this one (what this loop schedules)
    direct: set[str] = field(default_factory=set)
    #: direct members with no outgoing edge inside the body, in topological order; the last
    #: one that succeeded gives the item's result
    sinks: list[str] = field(default_factory=list)


@dataclass
class CompiledNode:
    """A node ready to run: its model, block class and validated config."""

    node: Node
    block: type[Block]
    config: BlockConfig
    in_edges: list[Edge] = field(default_factory=list)
    out_edges: list[Edge] = field(default_factory=list)
    #: the innermost loop whose body holds this node, or None at the top level
    loop: str | None = None

    @property
    def id(self) -> str:
        return self.node.id

    def out_edges_by_port(self) -> dict[str, list[Edge]]:
        """Outgoing edges grouped by source port."""
        ports: dict[str, list[Edge]] = defaultdict(list)
        for e in self.out_edges:
            ports[e.source_port].append(e)
        return ports


class Ancestors(Mapping[str, set[str]]):
    """Node id -> the ids of every node upstream of it, worked out when first asked for.

    Only nodes whose expressions name `$node.ID` need theirs, so computing every node's
    set up front (quadratic in time and memory on a long chain: 640 MB for 5,000 nodes)
    is not done.
    """

    def __init__(self, graph: nx.MultiDiGraph) -> None:
        self._graph = graph
        self._found: dict[str, set[str]] = {}

    def __getitem__(self, node_id: str) -> set[str]:
        found = self._found.get(node_id)
        if found is None:
            if node_id not in self._graph:
                raise KeyError(node_id)
            found = self._found[node_id] = nx.ancestors(self._graph, node_id)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._graph)

    def __len__(self) -> int:
        return len(self._graph)


@dataclass
class Plan:
    """The compiled form the runner executes."""

    workflow: Workflow
    graph: nx.MultiDiGraph
    nodes: dict[str, CompiledNode]
    order: list[str]
    starts: list[str]
    loops: dict[str, LoopBody]
    #: nodes run by the top-level scheduler (not inside any loop body)
    top_level: list[str]
    ancestors: Ancestors
    #: every use of a stored credential (the run resolves these names before it starts)
    credentials: list[CredentialRef] = field(default_factory=list)
    #: the workflows from the one a run starts from down to this one (sub-workflows)
    lineage: tuple[WorkflowRef, ...] = ()
    #: the top project folder, that sub-workflow files are named relative to
    root: Path | None = None
    #: resolved file -> plan of each literal sub-workflow path (compiled with this plan)
    subworkflows: dict[str, Plan] = field(default_factory=dict)

    @property
    def credential_names(self) -> list[str]:
        """Names of the credentials this plan uses, sorted."""
        return sorted({ref.name for ref in self.credentials})

    def preds(self, node_id: str) -> list[str]:
        """Distinct predecessor ids, in edge order."""
        return list(dict.fromkeys(e.source for e in self.nodes[node_id].in_edges))


def _config_problems(node: Node, exc: ValidationError) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err.get("loc", ()))
        msg = err.get("msg", "invalid value")
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif err.get("type") == "missing":
            msg = "required field is missing"
        where = f"config.{loc}" if loc else "config"
        out.append(Problem(f"{where}: {msg}", node_id=node.id, kind="config"))
    return out


@cache
def _widget_fields(block: type[Block], widget: str) -> tuple[str, ...]:
    """Config fields whose ``json_schema_extra`` widget hint is ``widget`` (per block class)."""
    return tuple(
        name
        for name, info in block.Config.model_fields.items()
        if isinstance(info.json_schema_extra, dict)
        and info.json_schema_extra.get("widget") == widget
    )


@cache
def _credential_fields(block: type[Block]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Config fields that name a credential, with the credential types each accepts."""
    out = []
    for name in _widget_fields(block, "credential"):
        extra = block.Config.model_fields[name].json_schema_extra
        types = extra.get("credential_types", ()) if isinstance(extra, dict) else ()
        out.append((name, tuple(types)))  # type: ignore[arg-type]
    return tuple(out)


def _bare_expressions(block: type[Block] | None, config: dict[str, Any]) -> list[ex.Expr]:
    """Parsed bare expressions of a node's config (raises ExpressionError on bad syntax)."""
    if block is None:
        return []
    return [
        ex.parse_condition(config[name])
        for name in _widget_fields(block, "expression")
        if isinstance(config.get(name), str) and not ex.is_template(config[name])
    ]


def templated_config(block: type[Block] | None, config: dict[str, Any]) -> dict[str, Any]:
    """The part of a config that may hold `{{ }}` templates (everything but source code)."""
    if block is None:
        return config
    skip = _widget_fields(block, "code")
    return {k: v for k, v in config.items() if k not in skip} if skip else config


def _walk_config(config: dict[str, Any], node: Node, block: type[Block],
                 env_allow: Collection[str]) -> list[Problem]:
    """Expression problems of a node's config: syntax, and `$env` names not allow-listed."""
    out = []
    bare = _widget_fields(block, "expression")
    for key, value in templated_config(block, config).items():
        where = f"config.{key}"
        if key in bare and isinstance(value, str) and not ex.is_template(value):
            try:
                ex.parse_condition(value)
            except ex.ExpressionError as err:
                out.append(Problem(str(err.with_context(where)), node_id=node.id,
                                   kind="expression"))
            for err in ex.env_problems(value, env_allow, where, bare=True):
                out.append(Problem(str(err), node_id=node.id, kind="env"))
            continue
        for err in ex.check_value(value, context=where):
            out.append(Problem(str(err), node_id=node.id, kind="expression"))
        for err in ex.env_problems(value, env_allow, where):
            out.append(Problem(str(err), node_id=node.id, kind="env"))
    return out


def validate(wf: Workflow, project_dir: Path | None = None,
             credentials: CredentialCatalog | None = None, *,
             workflow_file: str | Path | None = None) -> list[Problem]:
    """Every problem that keeps `wf` from running; empty when it can run.

    With a credential catalog, credentials that do not exist (or have the wrong type or
    fields) are problems too; so are the triggers' (they do not stop a run by hand).
    """
    problems: list[Problem] = []
    try:
        compile_workflow(wf, project_dir, credentials, workflow_file=workflow_file)
    except CompileError as exc:
        problems = list(exc.problems)
    problems += [Problem(message, trigger_id=tid, kind="trigger")
                 for tid, message in trigger_problems(wf, project_dir, credentials)]
    return problems


def _version_problem(have: int, block_type: str, installed: int) -> str:
    """A node whose config is not for the installed block (a loader without blocks= got it)."""
    if have > installed:
        return (f"written for version {have} of block '{block_type}', but the installed block "
                f"is version {installed}: update nopflow or the plugin that provides it")
    return (f"config is for version {have} of block '{block_type}' (installed: {installed}); "
            "load the file with blocks=get_block so the block migrates it")


def compile_workflow(wf: Workflow, project_dir: Path | None = None,
                     credentials: CredentialCatalog | None = None, *,
                     workflow_file: str | Path | None = None,
                     chain: tuple[WorkflowRef, ...] = (), root: Path | None = None) -> Plan:
    """Build the plan, or raise `CompileError` listing every problem found.

    ``workflow_file`` names this workflow in sub-workflow problems; ``chain`` and ``root``
    are given when compiling a sub-workflow (the workflows above it, the top folder).
    """
    problems: list[Problem] = []
    cred_refs: list[CredentialRef] = []
    nodes: dict[str, CompiledNode] = {}
    seen: set[str] = set()
    me = WorkflowRef(wf.id, str(Path(workflow_file).resolve()) if workflow_file else None)
    children = SubworkflowChecks(_compile_child, (*chain, me),
                                 root if root is not None else project_dir, credentials)
    check_ctx = CheckContext(project_dir=project_dir, python=wf.settings.python,
                             check_python=partial(python_problem, wf.settings.executor),
                             subworkflows=children)
    env_allow = frozenset(wf.settings.env_allow)

    for node in wf.nodes:
        if node.id in seen:
            problems.append(Problem("duplicate node id", node_id=node.id, kind="duplicate"))
            continue
        seen.add(node.id)
        block = get_block(node.type)
        if block is None:
            problems.append(
                Problem(
                    f"unknown block type '{node.type}' (known: {', '.join(block_types())})",
                    node_id=node.id,
                    kind="unknown-type",
                )
            )
            continue
        if node.version is not None and node.version != block.version:
            problems.append(Problem(_version_problem(node.version, node.type, block.version),
                                    node_id=node.id, kind="version"))
            continue
        try:
            config = block.Config.model_validate(node.config)
        except ValidationError as exc:
            problems.extend(_config_problems(node, exc))
            problems.extend(_walk_config(node.config, node, block, env_allow))
            continue
        problems.extend(_walk_config(node.config, node, block, env_allow))
        for msg in block.check(config, check_ctx.for_node(node.id)):
            problems.append(Problem(msg, node_id=node.id, kind="check"))
        refs, cred_problems = node_credential_refs(
            node.id, templated_config(block, node.config), _credential_fields(block),
            _widget_fields(block, "expression"))
        cred_refs.extend(refs)
        problems.extend(Problem(m, node_id=node.id, kind=k) for m, k in cred_problems)
        nodes[node.id] = CompiledNode(node=node, block=block, config=config)
    cred_refs.extend(children.credential_refs)  # checked by the children's own compile
    if credentials is not None:
        problems.extend(Problem(m, node_id=nid, kind=k, subject=name)
                        for nid, m, k, name in catalog_problems(cred_refs, credentials))

    graph = nx.MultiDiGraph()
    graph.add_nodes_from(n.id for n in wf.nodes)
    # Every edge between existing nodes, broken or not: cycles and reachability are judged
    # on what the person drew, so a node with a bad config is not also called unreachable.
    drawn = nx.DiGraph()
    drawn.add_nodes_from(n.id for n in wf.nodes)
    edge_ids: set[str] = set()
    pairs: set[tuple[str, str, str, str]] = set()
    for edge in wf.edges:
        bad = False
        owner = edge.source if edge.source in seen else (
            edge.target if edge.target in seen else None)
        if edge.source in seen and edge.target in seen:
            drawn.add_edge(edge.source, edge.target)
        if edge.id in edge_ids:
            problems.append(Problem(f"edge {edge.id}: duplicate edge id", node_id=owner,
                                    edge_id=edge.id, kind="duplicate"))
            bad = True
        edge_ids.add(edge.id)
        for end, nid, port, outgoing in (
            ("source", edge.source, edge.source_port, True),
            ("target", edge.target, edge.target_port, False),
        ):
            if nid not in seen:
                problems.append(
                    Problem(f"edge {edge.id}: {end} node '{nid}' does not exist",
                            node_id=owner, edge_id=edge.id, kind="edge")
                )
                bad = True
                continue
            cn = nodes.get(nid)
            if cn is None:  # the node itself is broken; its problem is reported already
                bad = True
                continue
            names = (node_output_names(cn.node, cn.block) if outgoing
                     else cn.block.input_names())
            if port not in names:
                kind = "output" if outgoing else "input"
                valid = ", ".join(names) if names else "none"
                hint = ""
                if outgoing and port == ERROR_PORT:
                    hint = "; set the node's error_mode to \"route\" to give it one"
                problems.append(
                    Problem(
                        f"edge {edge.id}: {cn.node.type} has no {kind} port '{port}' "
                        f"(its {kind} ports: {valid}){hint}",
                        node_id=nid,
                        edge_id=edge.id,
                        kind="edge",
                    )
                )
                bad = True
        key = (edge.source, edge.source_port, edge.target, edge.target_port)
        if not bad and key in pairs:
            problems.append(
                Problem(
                    f"edge {edge.id}: duplicate connection {edge.source}.{edge.source_port} "
                    f"-> {edge.target}.{edge.target_port}",
                    node_id=owner,
                    edge_id=edge.id,
                    kind="duplicate",
                )
            )
            bad = True
        pairs.add(key)
        if edge.source == edge.target and edge.source in seen:
            problems.append(
                Problem(f"cycle: {edge.source} -> {edge.source}", node_id=edge.source,
                        kind="cycle")
            )
            bad = True
        if bad:
            continue
        graph.add_edge(edge.source, edge.target, key=edge.id, edge=edge)
        nodes[edge.source].out_edges.append(edge)
        nodes[edge.target].in_edges.append(edge)

    for component in nx.strongly_connected_components(drawn):
        if len(component) > 1:
            sub = drawn.subgraph(component)
            cycle = [u for u, _v, *_ in nx.find_cycle(sub)]
            ring = " -> ".join([*cycle, cycle[0]])
            problems.append(Problem(f"cycle: {ring}", node_id=cycle[0], kind="cycle"))

    entry = {n.id for n in wf.nodes if _is_entry(n.type)}
    starts = [n.id for n in wf.nodes if n.id in entry and n.id in nodes]
    drawn_starts = [n.id for n in wf.nodes if n.id in entry]
    if not drawn_starts:
        names = ", ".join(f"'{b.type}'" for b in all_blocks() if b.is_entry) or "an entry"
        problems.append(Problem(f"no start node: add a {names} block", kind="no-start"))
    else:
        reachable: set[str] = set(drawn_starts)
        for start in drawn_starts:
            reachable |= nx.descendants(drawn, start)
        for n in wf.nodes:
            if n.id not in reachable and n.id not in entry:
                problems.append(
                    Problem("not reachable from a start node: connect its input",
                            node_id=n.id, kind="unreachable")
                )

    acyclic = not any(p.kind == "cycle" for p in problems)
    order: list[str] = []
    ancestors = Ancestors(graph)
    loops: dict[str, LoopBody] = {}
    if acyclic:
        order = list(nx.lexicographical_topological_sort(graph, key=_order_key(wf)))
        loops, loop_problems = _loop_bodies(graph, nodes, order)
        problems.extend(loop_problems)
        problems.extend(_reference_problems(wf, nodes, ancestors, loops))

    if problems:
        raise CompileError(_dedupe(problems))

    innermost: dict[str, str] = {}
    for lid in order:  # outer loops come first in topological order
        if lid in loops:
            for m in loops[lid].members:
                innermost[m] = lid
    for nid, lid in innermost.items():
        nodes[nid].loop = lid
        loops[lid].direct.add(nid)
    for body in loops.values():
        body.sinks = [
            n for n in order
            if n in body.direct and not any(e.target in body.direct for e in nodes[n].out_edges)
        ]
    top_level = [n for n in order if nodes[n].loop is None]
    return Plan(
        workflow=wf,
        graph=graph,
        nodes=nodes,
        order=order,
        starts=starts,
        loops=loops,
        top_level=top_level,
        ancestors=ancestors,
        credentials=cred_refs,
        lineage=children.chain,
        root=children.root,
        subworkflows=children.plans,
    )


def _compile_child(wf: Workflow, project_dir: Path, credentials: CredentialCatalog | None,
                   file: str, chain: tuple[WorkflowRef, ...], root: Path | None
                   ) -> tuple[Plan | None, list[Problem]]:
    """A sub-workflow's plan, or its problems (`SubworkflowChecks` reports them)."""
    try:
        return compile_workflow(wf, project_dir, credentials, workflow_file=file, chain=chain,
                                root=root), []
    except CompileError as exc:
        return None, exc.problems


def _is_entry(type_name: str) -> bool:
    block = get_block(type_name)
    return block is not None and block.is_entry


def _order_key(wf: Workflow):  # type: ignore[no-untyped-def]
    position = {n.id: i for i, n in enumerate(wf.nodes)}
    return lambda nid: f"{position.get(nid, 0):09d}"


def _loop_bodies(
    graph: nx.MultiDiGraph, nodes: dict[str, CompiledNode], order: list[str]
) -> tuple[dict[str, LoopBody], list[Problem]]:
    """Find each loop's body and refuse bodies fed from outside (they could never run)."""
    loops: dict[str, LoopBody] = {}
    problems: list[Problem] = []
    for lid in order:
        cn = nodes.get(lid)
        if cn is None or not cn.block.body_ports:
            continue
        body_ports = cn.block.body_ports
        after = " or ".join(
            f"'{p}'" for p in cn.block.output_names() if p not in body_ports
        ) or "last"
        entries = [e.target for e in cn.out_edges if e.source_port in body_ports]
        members: set[str] = set()
        for entry in entries:
            members.add(entry)
            members |= nx.descendants(graph, entry)
        body = LoopBody(loop_id=lid, members=members)
        loops[lid] = body
        for e in cn.out_edges:
            if e.source_port not in body_ports and e.target in members:
                problems.append(
                    Problem(
                        f"node {e.target} is both inside loop {lid}'s body and after its "
                        f"'{e.source_port}' port; give the body and the rest of the flow "
                        "separate nodes",
                        node_id=e.target,
                        kind="loop",
                    )
                )
        for m in sorted(members):
            for e in nodes[m].in_edges if m in nodes else []:
                if e.source == lid and e.source_port in body_ports:
                    continue
                if e.source not in members:
                    problems.append(
                        Problem(
                            f"inside loop {lid}'s body but also fed by {e.source}, which is "
                            f"outside the body; connect it after the loop's {after} port "
                            "or read it with $node." + e.source,
                            node_id=m,
                            kind="loop",
                        )
                    )
    return loops, problems


def _reference_problems(
    wf: Workflow,
    nodes: dict[str, CompiledNode],
    ancestors: Ancestors,
    loops: dict[str, LoopBody],
) -> list[Problem]:
    """`$node.ID` must name an ancestor; `$loop` only inside a loop body."""
    problems: list[Problem] = []
    in_body: set[str] = set()
    for body in loops.values():
        in_body |= body.members
    for nid, cn in nodes.items():
        config = templated_config(cn.block, cn.node.config)
        try:
            refs = set(ex.node_refs(config))
            roots = set(ex.roots_used(config))
            for expr in _bare_expressions(cn.block, config):
                refs |= expr.node_refs
                roots |= expr.roots
        except ex.ExpressionError:
            continue  # syntax problems are reported already
        for ref in sorted(refs):
            if ref not in nodes and wf.node(ref) is None:
                problems.append(
                    Problem(f"expression refers to $node.{ref}, which does not exist",
                            node_id=nid, kind="expression")
                )
            elif ref not in ancestors.get(nid, set()):
                problems.append(
                    Problem(
                        f"expression refers to $node.{ref}, which does not run before this "
                        "node; connect it upstream",
                        node_id=nid,
                        kind="expression",
                    )
                )
        problems.extend(_item_root_problems(nid, cn.block, config))
        if "loop" in roots and nid not in in_body:
            problems.append(
                Problem("$loop is only available inside a loop body", node_id=nid,
                        kind="expression")
            )
    return problems


def _item_root_problems(nid: str, block: type[Block], config: dict[str, Any]) -> list[Problem]:
    """`$item` / `$index` only in the fields a block evaluates once per item."""
    bare = _widget_fields(block, "expression")
    out = []
    for key, value in config.items():
        if key in block.item_fields:
            continue
        try:
            roots = ex.roots_used(value, bare=key in bare and not ex.is_template(value))
        except ex.ExpressionError:
            continue
        for root in sorted(roots & {"item", "index"}):
            where = ", ".join(f"{b.type}'s {f}" for b in all_blocks()
                              for f in sorted(b.item_fields))
            out.append(Problem(f"config.{key}: ${root} is only available in a field evaluated "
                               f"once per item ({where})", node_id=nid, kind="expression"))
    return out


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str | None, str | None]] = set()
    out = []
    for p in problems:
        key = (p.message, p.node_id, p.edge_id)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def resolved_credentials(
    plan: Plan, given: Mapping[str, Credential]
) -> dict[str, Credential]:
    """The credentials a plan uses, taken from ``given``; CompileError naming each missing
    one (before any node runs), so a run never starts without what it needs."""
    missing = [ref for ref in plan.credentials if ref.name not in given]
    if missing:
        raise CompileError([
            Problem(f"{ref.where}: {missing_credential_message(ref.name)}",
                    node_id=ref.node_id, kind="credential-missing", subject=ref.name)
            for ref in missing])
    return {name: given[name] for name in plan.credential_names}
