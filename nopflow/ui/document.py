"""The editable workflow document: the one place the editor's state lives.

Why a separate model: the scene, inspector, validator and autosave all need the same
graph, and undo must be exact. Every change goes through the few mutators below (called
only by undo commands), which keep indexes (node/edge/note by id, in/out adjacency) so no
edit costs O(n), and announce the change with a signal. Views listen; nobody edits items.

Order matters for an exact undo (the file lists nodes in order), so every element keeps an
order key; removing and re-adding with the same key restores the original position.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QObject, Signal

from nopflow.blocks import get_block
from nopflow.model import Edge, Node, Note, Workflow
from nopflow.model.workflow import Group


class WorkflowDocument(QObject):
    """A workflow being edited, with O(1) lookups and change signals."""

    #: the whole document was replaced (bulk load): rebuild everything, no per-item signals
    reset = Signal()
    nodesAdded = Signal(list)  # list[str] node ids
    nodesRemoved = Signal(list)  # list[str]
    nodeChanged = Signal(str)  # title/config/retry/error_mode of one node
    nodesMoved = Signal(list)  # list[str]
    edgesAdded = Signal(list)  # list[str] edge ids
    edgesRemoved = Signal(list)  # list[str]
    notesAdded = Signal(list)
    notesRemoved = Signal(list)
    noteChanged = Signal(str)
    groupsAdded = Signal(list)  # list[str] group (frame) ids
    groupsRemoved = Signal(list)
    groupChanged = Signal(str)  # title, rect or colour of one frame
    workflowChanged = Signal()  # name/settings/variables/inputs
    #: any change at all (for dirty tracking, autosave and validation)
    changed = Signal()

    def __init__(self, workflow: Workflow | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._order = itertools.count()
        self.nodes: dict[str, Node] = {}
        self.edges: dict[str, Edge] = {}
        self.notes: dict[str, Note] = {}
        self.groups: dict[str, Group] = {}
        self._group_key: dict[str, int] = {}
        self._node_key: dict[str, int] = {}
        self._edge_key: dict[str, int] = {}
        self._note_key: dict[str, int] = {}
        self._out: dict[str, set[str]] = {}
        self._in: dict[str, set[str]] = {}
        self._head: Workflow = Workflow()
        self._id_hint: dict[str, int] = {}
        self.load(workflow or Workflow())

    # ------------------------------------------------------------------ reading

    @property
    def header(self) -> Workflow:
        """The workflow without nodes/edges/notes/groups: id, name, settings, variables…"""
        return self._head

    def snapshot(self) -> Workflow:
        """The document as a plain Workflow (immutable copy safe to hand to a thread)."""
        nodes = sorted(self.nodes.values(), key=lambda n: self._node_key[n.id])
        edges = sorted(self.edges.values(), key=lambda e: self._edge_key[e.id])
        notes = sorted(self.notes.values(), key=lambda n: self._note_key[n.id])
        groups = sorted(self.groups.values(), key=lambda g: self._group_key[g.id])
        return self._head.model_copy(update={"nodes": nodes, "edges": edges, "notes": notes,
                                             "groups": groups})

    def node_order(self, node_id: str) -> int:
        """The order key of a node (kept by delete commands for an exact undo)."""
        return self._node_key[node_id]

    def edge_order(self, edge_id: str) -> int:
        """The order key of an edge."""
        return self._edge_key[edge_id]

    def note_order(self, note_id: str) -> int:
        """The order key of a note."""
        return self._note_key[note_id]

    def group_order(self, group_id: str) -> int:
        """The order key of a frame."""
        return self._group_key[group_id]

    def out_edges(self, node_id: str) -> set[str]:
        """Ids of edges leaving a node."""
        return self._out.get(node_id, set())

    def in_edges(self, node_id: str) -> set[str]:
        """Ids of edges entering a node."""
        return self._in.get(node_id, set())

    def edges_of(self, node_ids: Iterable[str]) -> set[str]:
        """Every edge touching any of these nodes."""
        out: set[str] = set()
        for nid in node_ids:
            out |= self._out.get(nid, set())
            out |= self._in.get(nid, set())
        return out

    def connection_problem(
        self, source: str, source_port: str, target: str, target_port: str
    ) -> str | None:
        """Why this connection may not be made, or None when it may (cost: reachable set)."""
        if source == target:
            return "a node cannot connect to itself"
        src, dst = self.nodes.get(source), self.nodes.get(target)
        if src is None or dst is None:
            return "node no longer exists"
        sb, db = get_block(src.type), get_block(dst.type)
        if sb is None or source_port not in sb.output_names():
            return f"'{source_port}' is not an output of {src.label}"
        if db is None or target_port not in db.input_names():
            return f"'{target_port}' is not an input of {dst.label}"
        for eid in self._out.get(source, ()):
            e = self.edges[eid]
            if e.target == target and e.source_port == source_port and e.target_port == target_port:
                return "these ports are already connected"
        if self.reaches(target, source):
            return "that connection would make a cycle"
        return None

    def reaches(self, start: str, goal: str) -> bool:
        """True when `goal` is downstream of `start` (iterative DFS over the out index)."""
        stack, seen = [start], {start}
        while stack:
            cur = stack.pop()
            if cur == goal:
                return True
            for eid in self._out.get(cur, ()):
                nxt = self.edges[eid].target
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return False

    def unique_node_id(self, base: str, taken: set[str] | None = None) -> str:
        """A node id not used yet (nor in `taken`), derived from `base`: python, python_2…"""
        base = "".join(c if c.isalnum() or c in "_-" else "_" for c in base) or "node"
        base = re.sub(r"_\d+$", "", base) or "node"
        if base[0] == "-":
            base = "n" + base
        taken = taken or set()
        if base not in self.nodes and base not in taken:
            return base
        # Start from the last suffix handed out for this base so adding stays O(1) with
        # thousands of same-type nodes (freed numbers are simply not reused).
        for i in itertools.count(self._id_hint.get(base, 2)):
            cand = f"{base}_{i}"
            if cand not in self.nodes and cand not in taken:
                self._id_hint[base] = i
                return cand
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ bulk

    def load(self, workflow: Workflow) -> None:
        """Replace everything (open/new/recover). One `reset` signal, no per-item signals."""
        self._order = itertools.count()
        self._head = workflow.model_copy(update={"nodes": [], "edges": [], "notes": [],
                                                 "groups": []})
        self.nodes = {n.id: n for n in workflow.nodes}
        self._node_key = {n.id: next(self._order) for n in workflow.nodes}
        self.notes = {n.id: n for n in workflow.notes}
        self._note_key = {n.id: next(self._order) for n in workflow.notes}
        self.groups = {g.id: g for g in workflow.groups}
        self._group_key = {g.id: next(self._order) for g in workflow.groups}
        self.edges = {}
        self._edge_key = {}
        self._out = {nid: set() for nid in self.nodes}
        self._in = {nid: set() for nid in self.nodes}
        for e in workflow.edges:
            self._index_edge(e, next(self._order))
        self.reset.emit()
        self.changed.emit()

    # ------------------------------------------------------------------ mutators
    # Called by undo commands only. Each takes explicit order keys so undo is exact.

    def add_nodes(self, nodes: list[Node], keys: list[int] | None = None) -> None:
        """Insert nodes (new ones get fresh order keys at the end)."""
        for i, n in enumerate(nodes):
            self.nodes[n.id] = n
            self._node_key[n.id] = keys[i] if keys is not None else next(self._order)
            self._out.setdefault(n.id, set())
            self._in.setdefault(n.id, set())
        if nodes:
            self.nodesAdded.emit([n.id for n in nodes])
            self.changed.emit()

    def remove_nodes(self, node_ids: list[str]) -> None:
        """Remove nodes; their edges must have been removed first (commands do that)."""
        for nid in node_ids:
            assert not self._out.get(nid) and not self._in.get(nid), "remove edges first"
        # Signal before forgetting, so listeners can still look the nodes up.
        self.nodesRemoved.emit(list(node_ids))
        for nid in node_ids:
            self.nodes.pop(nid, None)
            self._node_key.pop(nid, None)
            self._out.pop(nid, None)
            self._in.pop(nid, None)
        if node_ids:
            self.changed.emit()

    def add_edges(self, edges: list[Edge], keys: list[int] | None = None) -> None:
        """Insert edges between existing nodes."""
        for i, e in enumerate(edges):
            self._index_edge(e, keys[i] if keys is not None else next(self._order))
        if edges:
            self.edgesAdded.emit([e.id for e in edges])
            self.changed.emit()

    def remove_edges(self, edge_ids: list[str]) -> None:
        """Remove edges by id."""
        if not edge_ids:
            return
        self.edgesRemoved.emit(list(edge_ids))
        for eid in edge_ids:
            e = self.edges.pop(eid, None)
            self._edge_key.pop(eid, None)
            if e is not None:
                self._out.get(e.source, set()).discard(eid)
                self._in.get(e.target, set()).discard(eid)
        self.changed.emit()

    def move_nodes(self, positions: dict[str, tuple[float, float]]) -> None:
        """Set node positions (one signal for the whole selection)."""
        for nid, pos in positions.items():
            self.nodes[nid] = self.nodes[nid].model_copy(update={"position": pos})
        if positions:
            self.nodesMoved.emit(list(positions))
            self.changed.emit()

    def update_node(self, node_id: str, **fields: Any) -> None:
        """Replace some fields of one node (title, config, retry, error_mode)."""
        self.nodes[node_id] = self.nodes[node_id].model_copy(update=fields)
        self.nodeChanged.emit(node_id)
        self.changed.emit()

    def add_notes(self, notes: list[Note], keys: list[int] | None = None) -> None:
        """Insert sticky notes."""
        for i, n in enumerate(notes):
            self.notes[n.id] = n
            self._note_key[n.id] = keys[i] if keys is not None else next(self._order)
        if notes:
            self.notesAdded.emit([n.id for n in notes])
            self.changed.emit()

    def remove_notes(self, note_ids: list[str]) -> None:
        """Remove sticky notes."""
        if not note_ids:
            return
        self.notesRemoved.emit(list(note_ids))
        for nid in note_ids:
            self.notes.pop(nid, None)
            self._note_key.pop(nid, None)
        self.changed.emit()

    def update_note(self, note_id: str, **fields: Any) -> None:
        """Replace some fields of a note (text, position, size)."""
        self.notes[note_id] = self.notes[note_id].model_copy(update=fields)
        self.noteChanged.emit(note_id)
        self.changed.emit()

    def add_groups(self, groups: list[Group], keys: list[int] | None = None) -> None:
        """Insert frames."""
        for i, g in enumerate(groups):
            self.groups[g.id] = g
            self._group_key[g.id] = keys[i] if keys is not None else next(self._order)
        if groups:
            self.groupsAdded.emit([g.id for g in groups])
            self.changed.emit()

    def remove_groups(self, group_ids: list[str]) -> None:
        """Remove frames (their nodes stay)."""
        if not group_ids:
            return
        self.groupsRemoved.emit(list(group_ids))
        for gid in group_ids:
            self.groups.pop(gid, None)
            self._group_key.pop(gid, None)
        self.changed.emit()

    def update_group(self, group_id: str, **fields: Any) -> None:
        """Replace some fields of a frame (title, rect, color)."""
        self.groups[group_id] = self.groups[group_id].model_copy(update=fields)
        self.groupChanged.emit(group_id)
        self.changed.emit()

    def update_header(self, **fields: Any) -> None:
        """Replace workflow-level fields: name, settings, variables, inputs (id: Save As)."""
        self._head = self._head.model_copy(update=fields)
        self.workflowChanged.emit()
        self.changed.emit()

    # ------------------------------------------------------------------ internals

    def _index_edge(self, e: Edge, key: int) -> None:
        self.edges[e.id] = e
        self._edge_key[e.id] = key
        self._out.setdefault(e.source, set()).add(e.id)
        self._in.setdefault(e.target, set()).add(e.id)
