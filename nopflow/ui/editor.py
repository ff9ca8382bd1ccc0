"""Editing operations in the user's terms: add a block, connect, delete, paste, splice.

The view, palette, menus and quick-add all call these; each builds one undo command and
pushes it. Nothing here touches items: the scene follows the document's signals.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QPointF, QRectF, Signal
from PySide6.QtGui import QUndoStack

from nopflow.blocks import get_block
from nopflow.model import Edge, Node, Note, new_id
from nopflow.model.workflow import Group
from nopflow.ui.commands import GraphEdit, GroupFieldCommand, MoveCommand, NoteResizeCommand
from nopflow.ui.document import WorkflowDocument
from nopflow.ui.items.group_item import TITLE_H
from nopflow.ui.items.port_item import HEADER_H, NODE_WIDTH, PortRef, layout_for
from nopflow.ui.scene import WorkflowScene

#: space between a new frame and the nodes it is put around
FRAME_PAD = 30.0


class Editor(QObject):
    """The document, its undo stack and its scene, with high-level edits."""

    #: a one-line message for the status bar (refused connection, pasted 3 nodes, …)
    message = Signal(str)

    def __init__(self, doc: WorkflowDocument | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.doc = doc or WorkflowDocument()
        if self.doc.parent() is None:
            self.doc.setParent(self)  # lives and dies with its window
        self.undo = QUndoStack(self)
        self.scene = WorkflowScene(self.doc, self)

    # ------------------------------------------------------------------ nodes

    def new_node(self, block_type: str, scene_pos: QPointF) -> Node:
        """A fresh node of a block type whose header is centred on `scene_pos`."""
        block = get_block(block_type)
        if block is None:
            raise ValueError(f"unknown block type {block_type!r}")
        top_left = self.scene.snap(scene_pos - QPointF(NODE_WIDTH / 2, HEADER_H / 2))
        return Node(
            id=self.doc.unique_node_id(block.type),
            type=block.type,
            version=block.version,
            title=block.title,
            position=(top_left.x(), top_left.y()),
            config=block.default_config(),
        )

    def add_block(
        self,
        block_type: str,
        scene_pos: QPointF,
        *,
        link_from: PortRef | None = None,
        splice_edge: str | None = None,
    ) -> str:
        """Place a block (one undo step); connect it to `link_from` or splice it into an edge."""
        node = self.new_node(block_type, scene_pos)
        block = get_block(block_type)
        assert block is not None
        edges: list[Edge] = []
        remove: list[str] = []
        text = f"Add {block.title}"
        if link_from is not None:
            edge = self._link_to_new(link_from, node)
            if edge is not None:
                edges.append(edge)
                text += " and connect"
                # says what happened, replacing whatever the drag said on its way here
                self.message.emit(f"Added {block.title}, connected to "
                                  f"{link_from.node_id}.{link_from.name}")
        elif splice_edge is not None and block.inputs and block.outputs:
            old = self.doc.edges.get(splice_edge)
            if old is not None:
                node = self._clear_of(node, old.source)
                remove.append(old.id)
                edges.append(Edge(source=old.source, source_port=old.source_port,
                                  target=node.id, target_port=block.inputs[0].name))
                edges.append(Edge(source=node.id, source_port=block.outputs[0].name,
                                  target=old.target, target_port=old.target_port))
                text += " into link"
        add = GraphEdit(self.doc, text, add_nodes=[node], add_edges=edges,
                        remove_edges=remove)
        room = self._room_for(node, self.doc.edges[splice_edge].target) if remove else {}
        if room:  # one step: the block goes in and the nodes after it step aside
            self.undo.beginMacro(text)
            self.undo.push(add)
            self.undo.push(MoveCommand(self.doc, {n: self.doc.nodes[n].position
                                                  for n in room}, room))
            self.undo.endMacro()
        else:
            self.undo.push(add)
        self.scene.select_only([self.scene.nodes[node.id]])
        return node.id

    def _clear_of(self, node: Node, source: str) -> Node:
        """The node moved right of `source` when placing it would cover that node."""
        src = self.scene.nodes[source].sceneBoundingRect()
        x, y = node.position
        if not QRectF(x, y, NODE_WIDTH, layout_for(node.type).height).intersects(src):
            return node
        return node.model_copy(update={"position": (src.right() + 40, y)})

    def _room_for(self, node: Node, after: str) -> dict[str, tuple[float, float]]:
        """New positions that shift `after` and everything downstream of it right, so a
        block spliced in at `node.position` covers none of them; {} when none is covered."""
        x, y = node.position
        new = QRectF(x, y, NODE_WIDTH, layout_for(node.type).height).adjusted(-20, -20, 20, 20)
        downstream = [after]
        seen = {after}
        for nid in downstream:  # grows while iterating: breadth-first over out edges
            for eid in self.doc.out_edges(nid):
                t = self.doc.edges[eid].target
                if t not in seen:
                    seen.add(t)
                    downstream.append(t)
        covered = [n for n in downstream
                   if new.intersects(self.scene.nodes[n].sceneBoundingRect())]
        if not covered:
            return {}
        dx = new.right() + 40 - min(self.doc.nodes[n].position[0] for n in covered)
        return {n: (self.doc.nodes[n].position[0] + dx, self.doc.nodes[n].position[1])
                for n in downstream}

    def _link_to_new(self, port: PortRef, node: Node) -> Edge | None:
        block = get_block(node.type)
        assert block is not None
        if port.kind == "out":
            if not block.inputs:
                self.message.emit(f"{block.title} has no input to connect to")
                return None
            return Edge(source=port.node_id, source_port=port.name,
                        target=node.id, target_port=block.inputs[0].name)
        if not block.outputs:
            self.message.emit(f"{block.title} has no output to connect from")
            return None
        return Edge(source=node.id, source_port=block.outputs[0].name,
                    target=port.node_id, target_port=port.name)

    def add_note(self, scene_pos: QPointF, text: str = "") -> str:
        """Place a sticky note."""
        p = self.scene.snap(scene_pos)
        note = Note(text=text, position=(p.x(), p.y()))
        self.undo.push(GraphEdit(self.doc, "Add note", add_notes=[note]))
        self.scene.select_only([self.scene.notes[note.id]])
        return note.id

    def resize_note(self, note_id: str, size: tuple[float, float]) -> None:
        """Give a note a new size (one undo step; clamped to the minimum)."""
        from nopflow.ui.items.note_item import MIN_NOTE_H, MIN_NOTE_W

        note = self.doc.notes.get(note_id)
        if note is None:
            return
        new = (max(MIN_NOTE_W, float(size[0])), max(MIN_NOTE_H, float(size[1])))
        if new != tuple(note.size):
            self.undo.push(NoteResizeCommand(self.doc, note_id, tuple(note.size), new))

    # ------------------------------------------------------------------ links

    def connect(self, a: PortRef, b: PortRef) -> str | None:
        """Connect two ports (either order); returns the edge id or None (and says why)."""
        if a.kind == b.kind:
            self.message.emit(
                "cannot connect an input to an input" if a.kind == "in"
                else "cannot connect an output to an output"
            )
            return None
        src, dst = (a, b) if a.kind == "out" else (b, a)
        problem = self.doc.connection_problem(src.node_id, src.name, dst.node_id, dst.name)
        if problem:
            self.message.emit(f"Connection refused: {problem}")
            return None
        edge = Edge(source=src.node_id, source_port=src.name,
                    target=dst.node_id, target_port=dst.name)
        self.undo.push(GraphEdit(self.doc, "Connect", add_edges=[edge]))
        return edge.id

    def disconnect(self, edge_id: str) -> None:
        """Remove one link (one undo step)."""
        if edge_id in self.doc.edges:
            self.undo.push(GraphEdit(self.doc, "Disconnect", remove_edges=[edge_id]))

    def reconnect(self, edge_id: str, target: PortRef) -> str | None:
        """Move a link's input end to another input port: one undo step (disconnect +
        connect). Returns the new edge id, or None (and says why) when refused."""
        old = self.doc.edges.get(edge_id)
        if old is None:
            return None
        if target.kind != "in":
            self.message.emit("a link's input end must go to an input")
            return None
        problem = self.doc.connection_problem(old.source, old.source_port,
                                              target.node_id, target.name)
        if problem:
            self.message.emit(f"Connection refused: {problem}")
            return None
        edge = Edge(source=old.source, source_port=old.source_port,
                    target=target.node_id, target_port=target.name)
        self.undo.push(GraphEdit(self.doc, "Reconnect", remove_edges=[edge_id],
                                 add_edges=[edge]))
        return edge.id

    # ------------------------------------------------------------------ selection edits

    def delete(self, nodes: list[str], edges: list[str], notes: list[str]) -> None:
        """Delete elements (a node's links go with it)."""
        if not (nodes or edges or notes):
            return
        n = len(nodes) + len(edges) + len(notes)
        self.undo.push(GraphEdit(self.doc, f"Delete {n} item{'s' if n != 1 else ''}",
                                 remove_nodes=nodes, remove_edges=edges, remove_notes=notes))

    def delete_selection(self) -> None:
        """Delete whatever is selected on the canvas (a frame's nodes stay)."""
        groups = self.scene.selected_groups()
        if groups:
            nodes, edges, notes = self.scene.selected_ids()
            n = len(nodes) + len(edges) + len(notes) + len(groups)
            self.undo.push(GraphEdit(self.doc, f"Delete {n} item{'s' if n != 1 else ''}",
                                     remove_nodes=nodes, remove_edges=edges,
                                     remove_notes=notes, remove_groups=groups))
            return
        self.delete(*self.scene.selected_ids())

    # ------------------------------------------------------------------ frames

    def frame_selection(self, title: str = "Frame") -> str | None:
        """Put a frame around the selected nodes and notes (one undo step); its id."""
        nodes, _edges, notes = self.scene.selected_ids()
        items = [self.scene.nodes[n] for n in nodes] + [self.scene.notes[n] for n in notes]
        if not items:
            self.message.emit("Select nodes to put a frame around them")
            return None
        rect = QRectF()
        for it in items:
            rect = rect.united(it.sceneBoundingRect())
        rect = rect.adjusted(-FRAME_PAD, -FRAME_PAD - TITLE_H, FRAME_PAD, FRAME_PAD)
        group = Group(title=title, rect=(rect.x(), rect.y(), rect.width(), rect.height()))
        self.undo.push(GraphEdit(self.doc, "Add frame", add_groups=[group]))
        return group.id

    def set_group_field(self, group_id: str, field: str, value: object, text: str) -> None:
        """Change a frame's title or colour (one undo step)."""
        group = self.doc.groups.get(group_id)
        if group is not None and getattr(group, field) != value:
            self.undo.push(GroupFieldCommand(self.doc, group_id, field, value, text))

    def move(
        self,
        old: dict[str, tuple[float, float]],
        new: dict[str, tuple[float, float]],
        old_notes: dict[str, tuple[float, float]] | None = None,
        new_notes: dict[str, tuple[float, float]] | None = None,
        old_groups: dict[str, tuple[float, float, float, float]] | None = None,
        new_groups: dict[str, tuple[float, float, float, float]] | None = None,
    ) -> None:
        """Record a finished drag as one undoable move."""
        if (old == new and (old_notes or {}) == (new_notes or {})
                and (old_groups or {}) == (new_groups or {})):
            return
        self.undo.push(MoveCommand(self.doc, old, new, old_notes, new_notes,
                                   old_groups, new_groups))

    # ------------------------------------------------------------------ arranging

    def _arranged_nodes(self, at_least: int) -> list[str]:
        """The selected nodes, or every node when fewer than `at_least` are selected."""
        selected = self.scene.selected_ids()[0]
        return selected if len(selected) >= at_least else list(self.doc.nodes)

    def _sizes(self, ids: list[str]) -> dict[str, tuple[float, float]]:
        return {n: (NODE_WIDTH, self.scene.nodes[n].layout.height) for n in ids}

    def _move_to(self, new: dict[str, tuple[float, float]], text: str) -> None:
        """Move nodes to `new` as one undo step named `text` (nothing if nothing moves)."""
        old = {n: tuple(self.doc.nodes[n].position) for n in new}
        new = {n: (round(p[0], 1), round(p[1], 1)) for n, p in new.items()}
        changed = {n for n in new if new[n] != old[n]}
        if not changed:
            self.message.emit(f"{text}: nothing to move")
            return
        cmd = MoveCommand(self.doc, {n: old[n] for n in changed},  # type: ignore[misc]
                          {n: new[n] for n in changed})
        cmd.setText(text)
        self.undo.push(cmd)

    def auto_layout(self) -> None:
        """Lay out the selection (two or more nodes) or the whole graph in layered columns,
        left to right, with few crossings: one undo step."""
        from nopflow.ui import arrange  # networkx loads on first use, not at start-up

        ids = self._arranged_nodes(2)
        if not ids:
            return
        pos = {n: tuple(self.doc.nodes[n].position) for n in ids}
        origin = (min(p[0] for p in pos.values()), min(p[1] for p in pos.values()))
        edges = [(e.source, e.target) for e in self.doc.edges.values()]
        new = arrange.layered_layout(ids, edges, self._sizes(ids), origin, pos)  # type: ignore[arg-type]
        n = len(ids)
        self._move_to(new, f"Auto-layout {n} node{'s' if n != 1 else ''}")

    def align_selection(self, edge: str) -> None:
        """Align the selected nodes ("left", "top", "hcenter", …): one undo step."""
        from nopflow.ui import arrange

        ids = self.scene.selected_ids()[0]
        if len(ids) < 2:
            self.message.emit("Select two or more nodes to align them")
            return
        pos = {n: tuple(self.doc.nodes[n].position) for n in ids}
        self._move_to(arrange.align(pos, self._sizes(ids), edge),  # type: ignore[arg-type]
                      f"Align {len(ids)} nodes")

    def distribute_selection(self, axis: str) -> None:
        """Space the selected nodes evenly along "x" or "y": one undo step."""
        from nopflow.ui import arrange

        ids = self.scene.selected_ids()[0]
        if len(ids) < 3:
            self.message.emit("Select three or more nodes to distribute them")
            return
        pos = {n: tuple(self.doc.nodes[n].position) for n in ids}
        self._move_to(arrange.distribute(pos, self._sizes(ids), axis),  # type: ignore[arg-type]
                      f"Distribute {len(ids)} nodes")

    def insert_fragment(
        self, nodes: list[Node], edges: list[Edge], notes: list[Note], offset: QPointF,
        text: str = "Paste",
    ) -> list[str]:
        """Add copies of nodes/edges/notes with fresh ids, shifted by `offset`; select them."""
        remap: dict[str, str] = {}
        taken: set[str] = set()
        new_nodes = []
        for n in nodes:
            nid = self.doc.unique_node_id(n.id, taken)
            taken.add(nid)
            remap[n.id] = nid
            x, y = n.position
            new_nodes.append(n.model_copy(update={
                "id": nid, "position": (x + offset.x(), y + offset.y())}))
        new_edges = [
            e.model_copy(update={"id": new_id(), "source": remap[e.source],
                                 "target": remap[e.target]})
            for e in edges if e.source in remap and e.target in remap
        ]
        new_notes = [
            n.model_copy(update={"id": new_id(), "position": (n.position[0] + offset.x(),
                                                              n.position[1] + offset.y())})
            for n in notes
        ]
        if not (new_nodes or new_notes):
            return []
        self.undo.push(GraphEdit(self.doc, text, add_nodes=new_nodes, add_edges=new_edges,
                                 add_notes=new_notes))
        self.scene.select_only(
            [self.scene.nodes[n.id] for n in new_nodes]
            + [self.scene.notes[n.id] for n in new_notes]
        )
        return [n.id for n in new_nodes]
