"""Mouse gestures on the canvas, one small object per gesture.

The view picks a gesture on press (pan, new link, drag-move, rubber band) and forwards
move/release to it, so each gesture's state and rules live together instead of in one
giant mousePressEvent. A gesture ends by pushing at most one undo command via `Editor`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, QSize, QSizeF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QRubberBand

from nopflow.ui.items.edge_item import LinkPreviewItem
from nopflow.ui.items.group_item import GroupItem
from nopflow.ui.items.node_item import NodeItem
from nopflow.ui.items.note_item import MIN_NOTE_H, MIN_NOTE_W, NoteItem
from nopflow.ui.items.port_item import PortRef

if TYPE_CHECKING:
    from nopflow.ui.view import WorkflowView


class Interaction:
    """A gesture in progress; `finish` returns nothing, the view forgets it afterwards."""

    def __init__(self, view: WorkflowView) -> None:
        self.view = view
        self.editor = view.editor
        self.scene = view.editor.scene

    def move(self, event: QMouseEvent) -> None:
        """The mouse moved with the button still down."""

    def finish(self, event: QMouseEvent) -> None:
        """The button was released."""

    def cancel(self) -> None:
        """Escape or focus loss: undo any visual state, push nothing."""


class PanInteraction(Interaction):
    """Middle button, or Space + left button: scroll the view with the hand."""

    def __init__(self, view: WorkflowView, event: QMouseEvent) -> None:
        super().__init__(view)
        self.last = event.position().toPoint()
        view.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)

    def move(self, event: QMouseEvent) -> None:
        pos = event.position().toPoint()
        delta = pos - self.last
        self.last = pos
        h, v = self.view.horizontalScrollBar(), self.view.verticalScrollBar()
        h.setValue(h.value() - delta.x())
        v.setValue(v.value() - delta.y())

    def finish(self, event: QMouseEvent) -> None:
        self.cancel()

    def cancel(self) -> None:
        self.view.viewport().unsetCursor()


class DragMoveInteraction(Interaction):
    """Drag the selected nodes and notes; one MoveCommand when released."""

    def __init__(self, view: WorkflowView, event: QMouseEvent) -> None:
        super().__init__(view)
        self.press = view.mapToScene(event.position().toPoint())
        self.nodes: dict[str, tuple[float, float]] = {}
        self.notes: dict[str, tuple[float, float]] = {}
        #: selected frames (x, y, w, h); the nodes and notes inside them move along
        self.groups: dict[str, tuple[float, float, float, float]] = {}
        scene = self.scene
        for item in scene.selectedItems():
            if isinstance(item, NodeItem):
                self.nodes[item.node_id] = (item.pos().x(), item.pos().y())
            elif isinstance(item, NoteItem):
                self.notes[item.note_id] = (item.pos().x(), item.pos().y())
            elif isinstance(item, GroupItem):
                self.groups[item.group_id] = tuple(self.editor.doc.groups[item.group_id].rect)
                inner_nodes, inner_notes = scene.inside(item.group_id)
                for n in inner_nodes:
                    p = scene.nodes[n].pos()
                    self.nodes[n] = (p.x(), p.y())
                for n in inner_notes:
                    p = scene.notes[n].pos()
                    self.notes[n] = (p.x(), p.y())
        self.edges = self.editor.doc.edges_of(self.nodes)
        self.moved = False

    def _targets(self, delta: QPointF) -> tuple[dict[str, tuple[float, float]],
                                                dict[str, tuple[float, float]]]:
        snap = self.scene.snap
        nodes = {}
        for nid, (x, y) in self.nodes.items():
            p = snap(QPointF(x + delta.x(), y + delta.y()))
            nodes[nid] = (p.x(), p.y())
        notes = {}
        for nid, (x, y) in self.notes.items():
            p = snap(QPointF(x + delta.x(), y + delta.y()))
            notes[nid] = (p.x(), p.y())
        return nodes, notes

    def _group_targets(self, delta: QPointF) -> dict[str, tuple[float, float, float, float]]:
        out = {}
        for gid, (x, y, w, h) in self.groups.items():
            p = self.scene.snap(QPointF(x + delta.x(), y + delta.y()))
            out[gid] = (p.x(), p.y(), w, h)
        return out

    def move(self, event: QMouseEvent) -> None:
        delta = self.view.mapToScene(event.position().toPoint()) - self.press
        if not self.moved and abs(delta.x()) + abs(delta.y()) < 2:
            return
        self.moved = True
        nodes, notes = self._targets(delta)
        for nid, (x, y) in nodes.items():
            self.scene.nodes[nid].setPos(x, y)
        for nid, (x, y) in notes.items():
            self.scene.notes[nid].setPos(x, y)
        for gid, (x, y, _w, _h) in self._group_targets(delta).items():
            self.scene.groups[gid].setPos(x, y)
        self.scene.update_edges(self.edges)

    def finish(self, event: QMouseEvent) -> None:
        if not self.moved:
            return
        delta = self.view.mapToScene(event.position().toPoint()) - self.press
        nodes, notes = self._targets(delta)
        self.editor.move(self.nodes, nodes, self.notes, notes,
                         self.groups, self._group_targets(delta))

    def cancel(self) -> None:
        for nid, (x, y) in self.nodes.items():
            self.scene.nodes[nid].setPos(x, y)
        for nid, (x, y) in self.notes.items():
            self.scene.notes[nid].setPos(x, y)
        for gid, (x, y, _w, _h) in self.groups.items():
            self.scene.groups[gid].setPos(x, y)
        self.scene.update_edges(self.edges)


class NoteResizeInteraction(Interaction):
    """Drag a note's corner grip: the card follows live; one resize command on release."""

    def __init__(self, view: WorkflowView, item: NoteItem, event: QMouseEvent) -> None:
        super().__init__(view)
        self.item = item
        self.press = view.mapToScene(event.position().toPoint())
        self.start = item.size()
        view.viewport().setCursor(Qt.CursorShape.SizeFDiagCursor)

    def _size(self, event: QMouseEvent) -> QSizeF:
        d = self.view.mapToScene(event.position().toPoint()) - self.press
        w, h = self.start.width() + d.x(), self.start.height() + d.y()
        if self.scene.snap_to_grid:  # keep the far corner on the grid, like positions
            corner = self.scene.snap(self.item.pos() + QPointF(w, h)) - self.item.pos()
            w, h = corner.x(), corner.y()
        return QSizeF(max(MIN_NOTE_W, round(w)), max(MIN_NOTE_H, round(h)))

    def move(self, event: QMouseEvent) -> None:
        self.item.set_preview_size(self._size(event))

    def finish(self, event: QMouseEvent) -> None:
        size = self._size(event)
        self.cancel()
        self.editor.resize_note(self.item.note_id, (size.width(), size.height()))

    def cancel(self) -> None:
        self.item.set_preview_size(self.start)
        self.view.viewport().unsetCursor()


class RubberBandInteraction(Interaction):
    """Drag on empty canvas: select what the rectangle touches (Ctrl adds to the selection)."""

    def __init__(self, view: WorkflowView, event: QMouseEvent) -> None:
        super().__init__(view)
        self.origin = event.position().toPoint()
        self.additive = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        self.before = list(self.scene.selectedItems()) if self.additive else []
        self.band = QRubberBand(QRubberBand.Shape.Rectangle, view.viewport())
        self.band.setGeometry(QRect(self.origin, QSize()))
        self.band.show()

    def _rect(self, pos: QPoint) -> QRect:
        return QRect(self.origin, pos).normalized()

    def move(self, event: QMouseEvent) -> None:
        self.band.setGeometry(self._rect(event.position().toPoint()))

    def finish(self, event: QMouseEvent) -> None:
        rect = self._rect(event.position().toPoint())
        self.band.hide()
        self.band.deleteLater()
        if rect.width() < 3 and rect.height() < 3:
            if not self.additive:
                self.scene.select_only([])
            return
        area: QRectF = self.view.mapToScene(rect).boundingRect()
        chosen = [it for it in self.scene.items(area, Qt.ItemSelectionMode.IntersectsItemShape)
                  if isinstance(it, (NodeItem, NoteItem))]
        ids = {it.node_id for it in chosen if isinstance(it, NodeItem)}
        edges = [self.scene.edges[e] for e in self.editor.doc.edges_of(ids)
                 if e in self.scene.edges
                 and self.editor.doc.edges[e].source in ids
                 and self.editor.doc.edges[e].target in ids]
        self.scene.select_only([*self.before, *chosen, *edges])

    def cancel(self) -> None:
        self.band.hide()
        self.band.deleteLater()


class LinkInteraction(Interaction):
    """Drag from a port: a live preview curve; drop on a port to connect.

    Compatible ports light up and incompatible ones dim. Dropping on empty canvas opens
    quick-add, which places a block and connects it to the starting port.
    """

    #: an existing edge picked up by its input end (see `RerouteInteraction`)
    detached: str | None = None

    def __init__(self, view: WorkflowView, port: PortRef) -> None:
        super().__init__(view)
        self.port = port
        node = self.scene.nodes[port.node_id]
        self.anchor = node.port_scene_pos(port.kind, port.name)
        self.preview = LinkPreviewItem()
        self.scene.addItem(self.preview)
        self.preview.set_ends(self.anchor, self.anchor, True)
        self._mark_ports()

    def _mark_ports(self) -> None:
        """Compute compatibility once per drag: O(nodes + edges), not a cycle check per port."""
        doc = self.editor.doc
        p = self.port
        # Dragging from an output of S: targets upstream of S would close a cycle.
        # Dragging from an input of T: sources downstream of T would.
        blocked = self._closure(p.node_id, upstream=p.kind == "out")
        existing: set[tuple[str, str]] = set()
        for eid in doc.out_edges(p.node_id) if p.kind == "out" else doc.in_edges(p.node_id):
            e = doc.edges[eid]
            if p.kind == "out" and e.source_port == p.name:
                existing.add((e.target, e.target_port))
            elif p.kind == "in" and e.target_port == p.name:
                existing.add((e.source, e.source_port))
        if self.detached is not None:  # the picked-up link may be dropped back where it was
            old = doc.edges[self.detached]
            existing.discard((old.target, old.target_port))
        want = "in" if p.kind == "out" else "out"
        marks: dict[str, dict[tuple[str, str], bool]] = {}
        for nid, item in self.scene.nodes.items():
            lay = item.layout
            ports = lay.inputs if want == "in" else lay.outputs
            ok = nid not in blocked
            m = {(want, name): ok and (nid, name) not in existing for name, _ in ports}
            other = lay.outputs if want == "in" else lay.inputs
            m.update({(p.kind, name): False for name, _ in other})
            marks[nid] = m
        self.marks = marks
        self.scene.mark_ports(marks)

    def _closure(self, start: str, upstream: bool) -> set[str]:
        doc = self.editor.doc
        seen, stack = {start}, [start]
        while stack:
            cur = stack.pop()
            for eid in doc.in_edges(cur) if upstream else doc.out_edges(cur):
                e = doc.edges[eid]
                nxt = e.source if upstream else e.target
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    def _target(self, scene_pos: QPointF) -> PortRef | None:
        ref = self.scene.port_at(scene_pos)
        if ref == self.port:
            return None  # still on the port the drag started from: nothing to refuse
        if ref is not None:
            return ref
        node = self.scene.node_at(scene_pos)
        if node is None or node.node_id == self.port.node_id:
            return None
        # Dropped on a node's body: take its first compatible port.
        want = "in" if self.port.kind == "out" else "out"
        ports = node.layout.inputs if want == "in" else node.layout.outputs
        for name, _ in ports:
            if self.marks.get(node.node_id, {}).get((want, name)):
                return PortRef(node.node_id, want, name)
        return PortRef(node.node_id, want, ports[0][0]) if ports else None

    def move(self, event: QMouseEvent) -> None:
        pos = self.view.mapToScene(event.position().toPoint())
        target = self._target(pos)
        valid = True
        end = pos
        if target is not None:
            valid = bool(self.marks.get(target.node_id, {}).get((target.kind, target.name)))
            end = self.scene.nodes[target.node_id].port_scene_pos(target.kind, target.name)
            if not valid:
                a, b = (self.port, target) if self.port.kind == "out" else (target, self.port)
                reason = (
                    "cannot connect two ports of the same kind" if a.kind == b.kind
                    else self.editor.doc.connection_problem(a.node_id, a.name, b.node_id, b.name)
                )
                self.view.show_message(f"Cannot connect here: {reason or 'not allowed'}")
        if self.port.kind == "out":
            self.preview.set_ends(self.anchor, end, valid)
        else:
            self.preview.set_ends(end, self.anchor, valid)

    def finish(self, event: QMouseEvent) -> None:
        pos = self.view.mapToScene(event.position().toPoint())
        target = self._target(pos)
        if target is None and self.scene.node_at(pos) is None:
            # The dangling link stays drawn while quick-add is open, so it is clear what
            # the new block will be connected to; it goes when the popup does.
            self.scene.mark_ports({})
            if self.port.kind == "out":
                self.preview.set_ends(self.anchor, pos, True)
            else:
                self.preview.set_ends(pos, self.anchor, True)
            popup = self.view.open_quick_add(pos, link_from=self.port)
            # a lambda, not a bound method: this gesture object is gone once it finishes
            preview, scene = self.preview, self.scene
            popup.closed.connect(
                lambda: scene.removeItem(preview) if preview.scene() is scene else None)
            return
        self.cancel()
        if target is not None:
            self.editor.connect(self.port, target)

    def _drop_preview(self) -> None:
        if self.preview.scene() is not None:
            self.scene.removeItem(self.preview)

    def cancel(self) -> None:
        self._drop_preview()
        self.scene.mark_ports({})


class RerouteInteraction(LinkInteraction):
    """Press on a connected input port: pick up its link by that end (as node editors do).

    The link keeps its source and follows the mouse. Drop on another compatible input and
    it moves there (one undo step: disconnect + connect); drop back on its own port and
    nothing changes; drop on empty canvas and it is removed — detaching is the point of the
    gesture, so it takes one drop rather than a drop plus dismissing quick-add (dragging from
    the output still opens quick-add). Esc, or dropping on a port that refuses it, puts the
    link back.
    """

    def __init__(self, view: WorkflowView, edge_id: str) -> None:
        edge = view.editor.doc.edges[edge_id]
        self.detached = edge_id
        self.old = edge
        self.item = view.editor.scene.edges.get(edge_id)
        super().__init__(view, PortRef(edge.source, "out", edge.source_port))
        if self.item is not None:
            # hidden items get no hover-leave: without this the link came back (Esc, refused
            # drop) still drawn as hovered
            self.item.hovered = False
            self.item.setVisible(False)

    def finish(self, event: QMouseEvent) -> None:
        pos = self.view.mapToScene(event.position().toPoint())
        target = self._target(pos)
        self.cancel()
        old = self.old
        if target is None:
            if self.scene.node_at(pos) is None:
                self.editor.disconnect(old.id)
            return
        if (target.node_id, target.kind, target.name) == (old.target, "in", old.target_port):
            return
        self.editor.reconnect(old.id, target)

    def cancel(self) -> None:
        super().cancel()
        if self.item is not None:
            self.item.setVisible(True)
