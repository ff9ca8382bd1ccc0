"""Undo commands. Each one changes only the document model; the scene follows its signals.

One general `GraphEdit` (remove some things, add some things) covers add, delete, connect,
disconnect, paste, quick-add-and-connect and splice-into-edge, so all of them undo the same
exact way: removed elements come back with their original order keys.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QUndoCommand

from nopflow.model import Edge, Node, Note
from nopflow.model.workflow import Group
from nopflow.ui.document import WorkflowDocument

#: QUndoCommand ids that may merge with the previous command of the same id.
MERGE_FIELD = 1001
MERGE_HEADER = 1002


class GraphEdit(QUndoCommand):
    """Remove edges/nodes/notes, then add nodes/edges/notes — and the reverse on undo."""

    def __init__(
        self,
        doc: WorkflowDocument,
        text: str,
        *,
        add_nodes: list[Node] = (),  # type: ignore[assignment]
        add_edges: list[Edge] = (),  # type: ignore[assignment]
        add_notes: list[Note] = (),  # type: ignore[assignment]
        remove_nodes: list[str] = (),  # type: ignore[assignment]
        remove_edges: list[str] = (),  # type: ignore[assignment]
        remove_notes: list[str] = (),  # type: ignore[assignment]
        add_groups: list[Group] = (),  # type: ignore[assignment]
        remove_groups: list[str] = (),  # type: ignore[assignment]
    ) -> None:
        super().__init__(text)
        self.doc = doc
        self.add_nodes = list(add_nodes)
        self.add_edges = list(add_edges)
        self.add_notes = list(add_notes)
        # Removing a node removes its edges too; capture everything (with order keys) now.
        rm_edges = set(remove_edges) | doc.edges_of(remove_nodes)
        self.rm_edges = sorted(
            ((doc.edges[e], doc.edge_order(e)) for e in rm_edges), key=lambda p: p[1]
        )
        self.rm_nodes = sorted(
            ((doc.nodes[n], doc.node_order(n)) for n in dict.fromkeys(remove_nodes)),
            key=lambda p: p[1],
        )
        self.rm_notes = sorted(
            ((doc.notes[n], doc.note_order(n)) for n in dict.fromkeys(remove_notes)),
            key=lambda p: p[1],
        )
        self._add_keys: tuple[list[int], list[int], list[int]] | None = None
        self.add_groups = list(add_groups)
        self.rm_groups = sorted(
            ((doc.groups[g], doc.group_order(g)) for g in dict.fromkeys(remove_groups)),
            key=lambda p: p[1],
        )
        self._group_keys: list[int] | None = None

    def redo(self) -> None:
        d = self.doc
        d.remove_edges([e.id for e, _ in self.rm_edges])
        d.remove_nodes([n.id for n, _ in self.rm_nodes])
        d.remove_notes([n.id for n, _ in self.rm_notes])
        keys = self._add_keys
        d.add_nodes(self.add_nodes, keys[0] if keys else None)
        d.add_edges(self.add_edges, keys[1] if keys else None)
        d.add_notes(self.add_notes, keys[2] if keys else None)
        d.remove_groups([g.id for g, _ in self.rm_groups])
        d.add_groups(self.add_groups, self._group_keys)
        self._group_keys = [d.group_order(g.id) for g in self.add_groups]
        if keys is None:  # remember keys so a redo after undo lands in the same place
            self._add_keys = (
                [d.node_order(n.id) for n in self.add_nodes],
                [d.edge_order(e.id) for e in self.add_edges],
                [d.note_order(n.id) for n in self.add_notes],
            )

    def undo(self) -> None:
        d = self.doc
        d.remove_groups([g.id for g in self.add_groups])
        d.add_groups([g for g, _ in self.rm_groups], [k for _, k in self.rm_groups])
        d.remove_notes([n.id for n in self.add_notes])
        d.remove_edges([e.id for e in self.add_edges])
        d.remove_nodes([n.id for n in self.add_nodes])
        d.add_notes([n for n, _ in self.rm_notes], [k for _, k in self.rm_notes])
        d.add_nodes([n for n, _ in self.rm_nodes], [k for _, k in self.rm_nodes])
        d.add_edges([e for e, _ in self.rm_edges], [k for _, k in self.rm_edges])


class MoveCommand(QUndoCommand):
    """Move nodes and notes; one command per drag gesture."""

    def __init__(
        self,
        doc: WorkflowDocument,
        old: dict[str, tuple[float, float]],
        new: dict[str, tuple[float, float]],
        old_notes: dict[str, tuple[float, float]] | None = None,
        new_notes: dict[str, tuple[float, float]] | None = None,
        old_groups: dict[str, tuple[float, float, float, float]] | None = None,
        new_groups: dict[str, tuple[float, float, float, float]] | None = None,
    ) -> None:
        n = len(new) + len(new_notes or {}) + len(new_groups or {})
        super().__init__(f"Move {n} item{'s' if n != 1 else ''}")
        self.doc = doc
        self.old, self.new = old, new
        self.old_notes, self.new_notes = old_notes or {}, new_notes or {}
        self.old_groups, self.new_groups = old_groups or {}, new_groups or {}

    def _apply(self, nodes: dict[str, Any], notes: dict[str, Any],
               groups: dict[str, Any]) -> None:
        for gid, rect in groups.items():
            self.doc.update_group(gid, rect=rect)
        self.doc.move_nodes(nodes)
        for nid, pos in notes.items():
            self.doc.update_note(nid, position=pos)

    def redo(self) -> None:
        self._apply(self.new, self.new_notes, self.new_groups)

    def undo(self) -> None:
        self._apply(self.old, self.old_notes, self.old_groups)


class NodeFieldCommand(QUndoCommand):
    """Change one field of a node (title, config, retry, error_mode).

    Consecutive edits of the same node field merge, so typing a word is one undo step.
    """

    def __init__(
        self,
        doc: WorkflowDocument,
        node_id: str,
        field: str,
        value: Any,
        text: str = "",
        merge_key: str = "",
    ) -> None:
        super().__init__(text or f"Change {field} of {node_id}")
        self.doc = doc
        self.node_id = node_id
        self.field = field
        #: edits merge only while they touch the same thing (e.g. "config.code")
        self.merge_key = merge_key or field
        self.old = getattr(doc.nodes[node_id], field)
        self.new = value

    def id(self) -> int:
        return MERGE_FIELD

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, NodeFieldCommand):
            return False
        if other.node_id != self.node_id or other.merge_key != self.merge_key:
            return False
        self.new = other.new
        if self.new == self.old:
            self.setObsolete(True)  # typed and deleted back: nothing left to undo
        return True

    def redo(self) -> None:
        self.doc.update_node(self.node_id, **{self.field: self.new})

    def undo(self) -> None:
        self.doc.update_node(self.node_id, **{self.field: self.old})


class NodesFieldCommand(QUndoCommand):
    """Set one field to one value on several nodes (Disable 3 nodes); never merges."""

    def __init__(self, doc: WorkflowDocument, node_ids: list[str], field: str, value: Any,
                 text: str) -> None:
        super().__init__(text)
        self.doc, self.field, self.new = doc, field, value
        self.old = {nid: getattr(doc.nodes[nid], field) for nid in node_ids}

    def redo(self) -> None:
        for nid in self.old:
            self.doc.update_node(nid, **{self.field: self.new})

    def undo(self) -> None:
        for nid, value in self.old.items():
            self.doc.update_node(nid, **{self.field: value})


class GroupFieldCommand(QUndoCommand):
    """Change a frame's title or colour (never merges: each change is one step)."""

    def __init__(self, doc: WorkflowDocument, group_id: str, field: str, value: Any,
                 text: str) -> None:
        super().__init__(text)
        self.doc, self.group_id, self.field = doc, group_id, field
        self.old = getattr(doc.groups[group_id], field)
        self.new = value

    def redo(self) -> None:
        self.doc.update_group(self.group_id, **{self.field: self.new})

    def undo(self) -> None:
        self.doc.update_group(self.group_id, **{self.field: self.old})


class NoteFieldCommand(QUndoCommand):
    """Change a note's text or size (typing merges like node fields)."""

    def __init__(self, doc: WorkflowDocument, note_id: str, field: str, value: Any) -> None:
        super().__init__(f"Edit note {field}")
        self.doc, self.note_id, self.field = doc, note_id, field
        self.old = getattr(doc.notes[note_id], field)
        self.new = value

    def id(self) -> int:
        return MERGE_FIELD

    def mergeWith(self, other: QUndoCommand) -> bool:
        if isinstance(other, NoteFieldCommand) and (other.note_id, other.field) == (
            self.note_id,
            self.field,
        ):
            self.new = other.new
            return True
        return False

    def redo(self) -> None:
        self.doc.update_note(self.note_id, **{self.field: self.new})

    def undo(self) -> None:
        self.doc.update_note(self.note_id, **{self.field: self.old})


class NoteResizeCommand(QUndoCommand):
    """Resize a note: one command per resize gesture (never merges)."""

    def __init__(self, doc: WorkflowDocument, note_id: str,
                 old: tuple[float, float], new: tuple[float, float]) -> None:
        super().__init__("Resize note")
        self.doc, self.note_id, self.old, self.new = doc, note_id, old, new

    def redo(self) -> None:
        self.doc.update_note(self.note_id, size=self.new)

    def undo(self) -> None:
        self.doc.update_note(self.note_id, size=self.old)


class HeaderCommand(QUndoCommand):
    """Change a workflow-level field (name, settings, variables, inputs)."""

    def __init__(self, doc: WorkflowDocument, field: str, value: Any, text: str = "") -> None:
        super().__init__(text or f"Change workflow {field}")
        self.doc, self.field = doc, field
        self.old = getattr(doc.header, field)
        self.new = value

    def id(self) -> int:
        return MERGE_HEADER

    def mergeWith(self, other: QUndoCommand) -> bool:
        if isinstance(other, HeaderCommand) and other.field == self.field:
            self.new = other.new
            return True
        return False

    def redo(self) -> None:
        self.doc.update_header(**{self.field: self.new})

    def undo(self) -> None:
        self.doc.update_header(**{self.field: self.old})


class HeaderStepCommand(HeaderCommand):
    """A header change that is an undo step of its own (adding or removing a trigger),
    never merged with typing in the same field."""

    def id(self) -> int:
        return -1
