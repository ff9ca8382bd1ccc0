"""The canvas scene: builds and updates items by listening to the document model.

The scene never changes the document. It mirrors it: one `NodeItem` per node, one
`EdgeItem` per edge, one `NoteItem` per note, kept in dicts by id so every update is
O(1) per changed element. A reset (open/new) rebuilds everything in one batch with the
index switched off while adding. It also carries the presentation-only state: run states
(`set_node_state`), validation badges (`set_problems`) and link-drag port highlighting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from PySide6.QtCore import QLineF, QPointF, QRectF, QTimer
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

from nopflow.ui.document import WorkflowDocument
from nopflow.ui.items.edge_item import EdgeItem
from nopflow.ui.items.group_item import GroupItem
from nopflow.ui.items.node_item import NodeItem
from nopflow.ui.items.note_item import NoteItem
from nopflow.ui.items.port_item import PORT_HIT, PortRef
from nopflow.ui.theme import canvas_theme

GRID = 20.0
#: above this many items per change, drop the BSP index and rebuild it once afterwards
BULK = 300
#: the canvas always extends at least this far around the items (room to drop and pan)
MARGIN = 2000.0


class WorkflowScene(QGraphicsScene):
    """Items for one `WorkflowDocument`, plus presentation state."""

    def __init__(self, doc: WorkflowDocument, parent: object | None = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self.doc = doc
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[str, EdgeItem] = {}
        self.notes: dict[str, NoteItem] = {}
        self.groups: dict[str, GroupItem] = {}
        #: how near (scene units) a point must be to a port to hit it; the view keeps it a
        #: constant size on screen as it zooms (see WorkflowView._keep_hit_size)
        self.port_hit_radius = PORT_HIT
        self.snap_to_grid = False
        self.show_grid = True
        self._running: set[NodeItem] = set()
        self._anim = QTimer(self)
        self._anim.setInterval(80)
        self._anim.timeout.connect(self._tick)
        doc.reset.connect(self.rebuild)
        doc.nodesAdded.connect(self._on_nodes_added)
        doc.nodesRemoved.connect(self._on_nodes_removed)
        doc.nodeChanged.connect(self._on_node_changed)
        doc.nodesMoved.connect(self._on_nodes_moved)
        doc.edgesAdded.connect(self._on_edges_added)
        doc.edgesRemoved.connect(self._on_edges_removed)
        doc.notesAdded.connect(self._on_notes_added)
        doc.notesRemoved.connect(self._on_notes_removed)
        doc.noteChanged.connect(self._on_note_changed)
        doc.groupsAdded.connect(self._add_groups)
        doc.groupsRemoved.connect(self._on_groups_removed)
        doc.groupChanged.connect(self._on_group_changed)
        self.rebuild()

    # ------------------------------------------------------------------ building

    def rebuild(self) -> None:
        """Drop every item and build the document's items in one batch."""
        self._running.clear()
        self._anim.stop()
        self.clear()
        self.nodes, self.edges, self.notes = {}, {}, {}
        self.groups = {}
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self._add_nodes(self.doc.nodes)
        self._add_edges(self.doc.edges)
        self._add_notes(self.doc.notes)
        self._add_groups(self.doc.groups)
        # BSP indexing pays off for hit tests and partial repaints with many items; it is
        # built once after the batch instead of being updated per insertion.
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self.fit_scene_rect()

    def fit_scene_rect(self) -> None:
        """Make the scrollable area the items plus a generous margin (never shrinks mid-edit)."""
        rect = self.itemsBoundingRect() if self.nodes or self.notes else QRectF(0, 0, 1, 1)
        rect = rect.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)
        self.setSceneRect(rect.united(self.sceneRect()) if self.nodes else rect)

    def _add_nodes(self, ids: Iterable[str]) -> None:
        for nid in ids:
            item = NodeItem(self.doc.nodes[nid])
            self.nodes[nid] = item
            self.addItem(item)

    def _add_edges(self, ids: Iterable[str]) -> None:
        for eid in ids:
            e = self.doc.edges[eid]
            src, dst = self.nodes.get(e.source), self.nodes.get(e.target)
            if src is None or dst is None:
                continue  # edge to a missing node: the validator reports it
            item = EdgeItem(eid, e.source, e.target)
            item.set_ends(
                src.port_scene_pos("out", e.source_port), dst.port_scene_pos("in", e.target_port)
            )
            self.edges[eid] = item
            self.addItem(item)

    def _add_notes(self, ids: Iterable[str]) -> None:
        for nid in ids:
            item = NoteItem(self.doc.notes[nid])
            self.notes[nid] = item
            self.addItem(item)

    def _add_groups(self, ids: Iterable[str]) -> None:
        for gid in ids:
            item = GroupItem(self.doc.groups[gid])
            self.groups[gid] = item
            self.addItem(item)

    def _on_groups_removed(self, ids: list[str]) -> None:
        self._remove_items([it for gid in ids if (it := self.groups.pop(gid, None))])

    def _on_group_changed(self, gid: str) -> None:
        item = self.groups.get(gid)
        if item is not None:
            item.set_group(self.doc.groups[gid])

    def inside(self, group_id: str) -> tuple[list[str], list[str]]:
        """(node ids, note ids) whose centre lies in a frame: what moves with it."""
        rect = self.groups[group_id].frame_rect()
        nodes = [n for n, it in self.nodes.items()
                 if rect.contains(it.sceneBoundingRect().center())]
        notes = [n for n, it in self.notes.items()
                 if rect.contains(it.sceneBoundingRect().center())]
        return nodes, notes

    def selected_groups(self) -> list[str]:
        """Ids of the selected frames, in document order."""
        ids = [it.group_id for it in self.selectedItems() if isinstance(it, GroupItem)]
        return sorted(ids, key=self.doc.group_order)

    # ------------------------------------------------------------------ document signals

    def _batched(self, count: int, add: Callable[[], None]) -> None:
        """Run `add` with the index off when many items arrive (paste, undo of a big delete)."""
        if count <= BULK:
            add()
            return
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        try:
            add()
        finally:
            self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)

    def _on_nodes_added(self, ids: list[str]) -> None:
        self._batched(len(ids), lambda: self._add_nodes(ids))
        self._grow(ids)

    def _remove_items(self, items: list[QGraphicsItem]) -> None:
        """Remove many items at once: one selectionChanged, no per-item index updates."""
        if not items:
            return
        was_selected = any(it.isSelected() for it in items)
        bulk = len(items) > BULK
        if bulk:
            self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.blockSignals(True)  # Qt emits selectionChanged per removed selected item
        try:
            for it in items:
                self.removeItem(it)
        finally:
            self.blockSignals(False)
        if bulk:
            self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        if was_selected:
            self.selectionChanged.emit()

    def _on_nodes_removed(self, ids: list[str]) -> None:
        items: list[QGraphicsItem] = []
        for nid in ids:
            item = self.nodes.pop(nid, None)
            if item is not None:
                self._running.discard(item)
                items.append(item)
        self._remove_items(items)

    def _on_node_changed(self, nid: str) -> None:
        item = self.nodes.get(nid)
        if item is not None:
            item.set_node(self.doc.nodes[nid])

    def _on_nodes_moved(self, ids: list[str]) -> None:
        for nid in ids:
            item = self.nodes.get(nid)
            if item is not None:
                item.setPos(QPointF(*self.doc.nodes[nid].position))
        self.update_edges(self.doc.edges_of(ids))
        self._grow(ids)

    def _on_edges_added(self, ids: list[str]) -> None:
        self._batched(len(ids), lambda: self._add_edges(ids))

    def _on_edges_removed(self, ids: list[str]) -> None:
        items: list[QGraphicsItem] = []
        for eid in ids:
            item = self.edges.pop(eid, None)
            if item is not None:
                items.append(item)
        self._remove_items(items)

    def _on_notes_added(self, ids: list[str]) -> None:
        self._batched(len(ids), lambda: self._add_notes(ids))

    def _on_notes_removed(self, ids: list[str]) -> None:
        items: list[QGraphicsItem] = []
        for nid in ids:
            item = self.notes.pop(nid, None)
            if item is not None:
                items.append(item)
        self._remove_items(items)

    def _on_note_changed(self, nid: str) -> None:
        item = self.notes.get(nid)
        if item is not None:
            item.set_note(self.doc.notes[nid])

    def _grow(self, node_ids: Iterable[str]) -> None:
        rect = self.sceneRect()
        for nid in node_ids:
            item = self.nodes.get(nid)
            if item is not None:
                r = item.sceneBoundingRect().adjusted(-MARGIN / 2, -MARGIN / 2, MARGIN / 2,
                                                      MARGIN / 2)
                if not rect.contains(r):
                    rect = rect.united(r)
        if rect != self.sceneRect():
            self.setSceneRect(rect)

    # ------------------------------------------------------------------ geometry helpers

    def update_edges(self, edge_ids: Iterable[str]) -> None:
        """Recompute the curves of these edges from their nodes' current item positions."""
        for eid in edge_ids:
            item = self.edges.get(eid)
            e = self.doc.edges.get(eid)
            if item is None or e is None:
                continue
            src, dst = self.nodes.get(e.source), self.nodes.get(e.target)
            if src is not None and dst is not None:
                item.set_ends(
                    src.port_scene_pos("out", e.source_port),
                    dst.port_scene_pos("in", e.target_port),
                )

    def snap(self, p: QPointF) -> QPointF:
        """A point on the grid when snapping is on, else the point itself."""
        if not self.snap_to_grid:
            return p
        return QPointF(round(p.x() / GRID) * GRID, round(p.y() / GRID) * GRID)

    def port_at(self, scene_pos: QPointF) -> PortRef | None:
        """The port under a scene point (ports stick out of nodes, so look slightly around)."""
        r = self.port_hit_radius
        area = QRectF(scene_pos.x() - r - 1, scene_pos.y() - r - 1, 2 * r + 2, 2 * r + 2)
        for item in self.items(area):
            if isinstance(item, NodeItem):
                ref = item.port_at(scene_pos, r)
                if ref is not None:
                    return ref
        return None

    def node_at(self, scene_pos: QPointF) -> NodeItem | None:
        """The topmost node under a scene point."""
        for item in self.items(scene_pos):
            if isinstance(item, NodeItem):
                return item
        return None

    def edge_at(self, scene_pos: QPointF) -> EdgeItem | None:
        """An edge passing under a scene point."""
        for item in self.items(scene_pos):
            if isinstance(item, EdgeItem):
                return item
        return None

    def selected_ids(self) -> tuple[list[str], list[str], list[str]]:
        """(node ids, edge ids, note ids) selected now, in document order."""
        nodes, edges, notes = [], [], []
        for item in self.selectedItems():
            if isinstance(item, NodeItem):
                nodes.append(item.node_id)
            elif isinstance(item, EdgeItem):
                edges.append(item.edge_id)
            elif isinstance(item, NoteItem):
                notes.append(item.note_id)
        nodes.sort(key=self.doc.node_order)
        edges.sort(key=self.doc.edge_order)
        notes.sort(key=self.doc.note_order)
        return nodes, edges, notes

    def select_only(self, items: Iterable[QGraphicsItem]) -> None:
        """Replace the selection (one selectionChanged signal)."""
        self.blockSignals(True)
        self.clearSelection()
        for it in items:
            it.setSelected(True)
        self.blockSignals(False)
        self.selectionChanged.emit()

    # ------------------------------------------------------------------ presentation state

    def set_node_state(
        self,
        node_id: str,
        state: str | None,
        *,
        elapsed: float | None = None,
        attempt: int | None = None,
        error: str | None = None,
    ) -> None:
        """Show a run state on a node: pending/running/success/error/skipped/cancelled/None.

        Cheap (no layout, one repaint of the node); unknown ids are ignored, so the
        live-run bridge can forward every engine event without checking.
        """
        item = self.nodes.get(node_id)
        if item is None:
            return
        item.set_state(state, elapsed=elapsed, attempt=attempt, error=error)
        if state == "running":
            self._running.add(item)
            if not self._anim.isActive():
                self._anim.start()
        else:
            self._running.discard(item)

    def set_paused(self, paused: bool) -> None:
        """Freeze (or restart) running nodes' elapsed clocks and animation.

        A paused run's scripts are stopped and their timeout clocks too (docs/execution.md), so
        the canvas must not keep counting either.
        """
        now = time.monotonic()
        for item in self._running:
            item.pause_clock(paused, now)
        if paused:
            self._anim.stop()
        elif self._running and not self._anim.isActive():
            self._anim.start()

    def clear_states(self) -> None:
        """Remove every run state (before a new run, or when leaving run view)."""
        for item in self.nodes.values():
            if item.state is not None:
                item.set_state(None)
        self._running.clear()
        self._anim.stop()

    def set_problems(self, by_node: dict[str, list[str]]) -> None:
        """Badge problem nodes; nodes not in `by_node` lose their badge."""
        for nid, item in self.nodes.items():
            item.set_problems(by_node.get(nid, []))

    def mark_ports(self, marks: dict[str, dict[tuple[str, str], bool]]) -> None:
        """Highlight compatible ports (True) and dim incompatible ones (False)."""
        for nid, item in self.nodes.items():
            m = marks.get(nid, {})
            if m != item.port_marks:
                item.port_marks = m
                item.update()

    def _tick(self) -> None:
        if not self._running:
            self._anim.stop()
            return
        phase = (time.monotonic() * 24.0) % 16.0
        for item in self._running:
            item.phase = phase
            item.update()

    # ------------------------------------------------------------------ background

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        th = canvas_theme()
        painter.fillRect(rect, th.background)
        if not self.show_grid:
            return
        scale = painter.worldTransform().m11()
        step = GRID if scale >= 0.6 else GRID * 5
        if step * scale < 6:
            return
        left = int(rect.left() // step) * step
        top = int(rect.top() // step) * step
        minor, major = [], []
        x = left
        while x < rect.right():
            (major if round(x / GRID) % 5 == 0 else minor).append(
                QLineF(x, rect.top(), x, rect.bottom())
            )
            x += step
        y = top
        while y < rect.bottom():
            (major if round(y / GRID) % 5 == 0 else minor).append(
                QLineF(rect.left(), y, rect.right(), y)
            )
            y += step
        painter.setPen(th.pens["grid_minor"])
        painter.drawLines(minor)
        painter.setPen(th.pens["grid_major"])
        painter.drawLines(major)
