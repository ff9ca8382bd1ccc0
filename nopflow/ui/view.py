"""The canvas view: zoom around the cursor, pan, fit, drops from the palette, gestures.

Mouse presses choose an `Interaction` (see interactions.py) and forward the rest of the
gesture to it; the view itself only decides which gesture starts.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QContextMenuEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFocusEvent,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsView, QInputDialog, QMenu, QToolTip, QWidget

from nopflow.blocks import all_blocks, get_block
from nopflow.ui import hover_preview
from nopflow.ui.commands import GraphEdit
from nopflow.ui.editor import Editor
from nopflow.ui.interactions import (
    DragMoveInteraction,
    Interaction,
    LinkInteraction,
    NoteResizeInteraction,
    PanInteraction,
    RerouteInteraction,
    RubberBandInteraction,
)
from nopflow.ui.items.edge_item import EdgeItem
from nopflow.ui.items.group_item import FRAME_COLORS, GroupItem
from nopflow.ui.items.node_item import NodeItem
from nopflow.ui.items.note_item import NoteItem
from nopflow.ui.items.port_item import PORT_HIT, PortRef
from nopflow.ui.node_menu import NodeMenu
from nopflow.ui.quick_add import QuickAddPopup
from nopflow.ui.theme import canvas_theme, icon

#: the mime type a palette drag carries (payload: the block type, UTF-8)
BLOCK_MIME = "application/x-nopflow-block"
MIN_SCALE, MAX_SCALE = 0.05, 3.0
#: the widest a port's hit area gets (scene units) however far out the view is zoomed
MAX_PORT_HIT = 28.0
EMPTY_HINT = ("Drag a block here from the palette\n"
              "or press Tab (or double-click) to add one by name")


class WorkflowView(QGraphicsView):
    """Shows an Editor's scene and turns mouse/keyboard input into edits."""

    message = Signal(str)
    #: a node was double-clicked (the window focuses the inspector on it)
    nodeActivated = Signal(str)
    #: a sticky note was double-clicked (the window focuses its text in the inspector)
    noteActivated = Signal(str)
    zoomChanged = Signal(float)
    #: a workflow file was dropped from outside (the window opens it)
    fileDropped = Signal(str)

    def __init__(self, editor: Editor, parent: QWidget | None = None) -> None:
        super().__init__(editor.scene, parent)
        self.editor = editor
        self._gesture: Interaction | None = None
        self._space = False
        self.quick_add: QuickAddPopup | None = None
        #: the right-click menu of nodes (other parts of the editor add entries to it)
        self.node_menu = NodeMenu(editor, self)
        self.rename_dialog: QInputDialog | None = None  # the open frame Rename dialog
        #: values of the run shown, for port and edge hover text (set by the run controller)
        self.hover_values: hover_preview.ValueSource | None = None
        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.TextAntialiasing
                            | QPainter.RenderHint.SmoothPixmapTransform)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing)
        self.setAcceptDrops(True)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        # Panning is by hand (middle button / Space+drag); scroll bars only add clutter.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._last_mouse = QPoint()
        editor.message.connect(self.message)
        self.zoomChanged.connect(self._keep_hit_size)
        # The empty-canvas hint is drawn in view coordinates, outside any item: repaint the
        # whole viewport when the canvas becomes empty or stops being empty, or its text
        # stays behind under the first blocks.
        self._empty = self._is_empty()
        editor.doc.changed.connect(self._check_empty)

    # ------------------------------------------------------------------ helpers

    def show_message(self, text: str) -> None:
        """Say something in the status bar."""
        self.message.emit(text)

    def cursor_scene_pos(self) -> QPointF:
        """Where new things go: under the mouse if it is over the canvas, else the centre."""
        local = self.viewport().mapFromGlobal(self.cursor().pos())
        if self.viewport().rect().contains(local):
            return self.mapToScene(local)
        return self.mapToScene(self.viewport().rect().center())

    def _keep_hit_size(self, zoom: float) -> None:
        """Ports stay as easy to hit on screen when zoomed out (up to MAX_PORT_HIT scene
        units, so far out a click on a tiny node still grabs the node, not a port)."""
        self.editor.scene.port_hit_radius = min(MAX_PORT_HIT, PORT_HIT / min(1.0, zoom))

    def cursor_on_canvas(self) -> QPointF | None:
        """The scene point under the mouse, or None when the mouse is not over the canvas."""
        local = self.viewport().mapFromGlobal(self.cursor().pos())
        return self.mapToScene(local) if self.viewport().rect().contains(local) else None

    def zoom(self) -> float:
        """The current scale (1.0 = 100 %)."""
        return self.transform().m11()

    def set_zoom(self, scale: float) -> None:
        """Zoom to an absolute scale around the view centre."""
        scale = max(MIN_SCALE, min(MAX_SCALE, scale))
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.scale(scale / self.zoom(), scale / self.zoom())
        self.setTransformationAnchor(anchor)
        self.zoomChanged.emit(self.zoom())

    def fit_all(self) -> None:
        """Fit every node, note and frame in view (F); never magnify beyond 100 %."""
        scene = self.editor.scene
        items = [*scene.nodes.values(), *scene.notes.values(), *scene.groups.values()]
        if not items:
            self.resetTransform()
            self.centerOn(0, 0)
            return
        rect = QRectF()
        for it in items:
            rect = rect.united(it.sceneBoundingRect())
        rect = rect.adjusted(-40, -40, 40, 40)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.0:
            self.set_zoom(1.0)
        elif self.zoom() < MIN_SCALE:
            self.set_zoom(MIN_SCALE)
        self.centerOn(rect.center())
        self.zoomChanged.emit(self.zoom())

    def center_on_node(self, node_id: str) -> None:
        """Select a node and bring it into the middle of the view."""
        item = self.editor.scene.nodes.get(node_id)
        if item is None:
            return
        self.editor.scene.select_only([item])
        self.centerOn(item.sceneBoundingRect().center())

    def open_quick_add(self, scene_pos: QPointF, link_from: PortRef | None = None) -> QuickAddPopup:
        """Show the quick-add popup; the chosen block lands at `scene_pos`."""
        only = None
        if link_from is not None:  # only blocks that can take this link
            need_in = link_from.kind == "out"
            only = {
                b.type for b in all_blocks() if (b.inputs if need_in else b.outputs)
            }
        popup = QuickAddPopup(self, only)
        popup.chosen.connect(
            lambda t: self.editor.add_block(t, scene_pos, link_from=link_from)
        )
        popup.popup_at(self.viewport().mapToGlobal(self.mapFromScene(scene_pos)))
        self.quick_add = popup
        return popup

    def _is_empty(self) -> bool:
        doc = self.editor.doc
        return not (doc.nodes or doc.notes)

    def _check_empty(self) -> None:
        empty = self._is_empty()
        if empty != self._empty:
            self._empty = empty
            self.viewport().update()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        if self._empty:  # the hint stays put while the grid scrolls: repaint, don't blit
            self.viewport().update()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        """On an empty canvas, say how to start (drawn in view coordinates)."""
        if not self._is_empty():
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(canvas_theme().text_dim)
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        painter.setFont(font)
        painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, EMPTY_HINT)
        painter.restore()

    # ------------------------------------------------------------------ mouse

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self._gesture is not None:  # a release got lost (popup, focus change): drop it
            self._gesture.cancel()
            self._gesture = None
        button = event.button()
        pos = event.position().toPoint()
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space
        ):
            self._gesture = PanInteraction(self, event)
            return
        if button != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        scene = self.editor.scene
        sp = self.mapToScene(pos)
        port = scene.port_at(sp)
        ctrl = bool(event.modifiers() & (Qt.KeyboardModifier.ControlModifier
                                         | Qt.KeyboardModifier.ShiftModifier))
        if port is not None:
            # A connected input picks up its (newest) link; Ctrl/Shift starts a new one.
            linked = None if ctrl or port.kind != "in" else self._link_into(port)
            if linked is not None:
                self._gesture = RerouteInteraction(self, linked)
            else:
                self._gesture = LinkInteraction(self, port)
            return
        item = self._item_at(pos)
        if item is None:
            self._gesture = RubberBandInteraction(self, event)
            return
        if ctrl:
            item.setSelected(not item.isSelected())
            return
        if isinstance(item, NoteItem) and item.in_grip(sp):
            scene.select_only([item])
            self._gesture = NoteResizeInteraction(self, item, event)
            return
        if not item.isSelected():
            scene.select_only([item])
        if isinstance(item, (NodeItem, NoteItem, GroupItem)):
            self._gesture = DragMoveInteraction(self, event)

    def _link_into(self, port: PortRef) -> str | None:
        """The most recently made link into an input port, if any."""
        doc = self.editor.doc
        ids = [e for e in doc.in_edges(port.node_id) if doc.edges[e].target_port == port.name]
        return max(ids, key=doc.edge_order) if ids else None

    def _item_at(self, pos: QPoint) -> NodeItem | NoteItem | EdgeItem | GroupItem | None:
        for it in self.items(pos):
            if isinstance(it, (NodeItem, NoteItem, EdgeItem, GroupItem)):
                return it
        return None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._last_mouse = event.position().toPoint()
        if self._gesture is not None:
            self._gesture.move(event)
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        gesture, self._gesture = self._gesture, None
        if gesture is not None:
            gesture.finish(event)
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        pos = event.position().toPoint()
        item = self._item_at(pos)
        if item is None:
            self.open_quick_add(self.mapToScene(pos))
        elif isinstance(item, NodeItem):
            self.nodeActivated.emit(item.node_id)
        elif isinstance(item, NoteItem):
            self.editor.scene.select_only([item])
            self.noteActivated.emit(item.note_id)
        elif isinstance(item, GroupItem):
            self.open_frame_rename(item.group_id)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        """Right-click: add a block or a note here, or act on what is under the cursor."""
        pos = event.pos()
        sp = self.mapToScene(pos)
        item = self._item_at(pos)
        if item is not None and not item.isSelected():
            self.editor.scene.select_only([item])
        if isinstance(item, NodeItem):
            self.node_menu_for(item.node_id).exec(event.globalPos())
            return
        if isinstance(item, GroupItem):
            self.frame_menu(item.group_id).exec(event.globalPos())
            return
        menu = QMenu(self)
        add = menu.addMenu("Add Block")
        for block in all_blocks():
            a = add.addAction(icon(block.icon), block.title)
            a.triggered.connect(lambda _c=False, t=block.type: self.editor.add_block(t, sp))
        menu.addAction("Add Note").triggered.connect(lambda: self.editor.add_note(sp))
        if self.editor.scene.selectedItems():
            menu.addSeparator()
            for a in self.actions():  # copy, cut, paste, duplicate, delete from the window
                if a.text() and not a.text().startswith("&Fit"):
                    menu.addAction(a)
        menu.exec(event.globalPos())

    def frame_menu(self, group_id: str) -> QMenu:
        """Right-click on a frame's title: rename, colour, delete (nodes stay)."""
        menu = QMenu(self)
        menu.addAction("Rename…").triggered.connect(
            lambda _c=False: self.open_frame_rename(group_id))
        colours = menu.addMenu("Colour")
        for name, value in FRAME_COLORS:
            colours.addAction(name).triggered.connect(
                lambda _c=False, v=value: self.editor.set_group_field(
                    group_id, "color", v, "Colour frame"))
        menu.addAction("Delete Frame").triggered.connect(
            lambda _c=False: self.editor.undo.push(GraphEdit(
                self.editor.doc, "Delete frame", remove_groups=[group_id])))
        return menu

    def open_frame_rename(self, group_id: str) -> QInputDialog | None:
        """Ask for a frame's title (non-modal); OK renames it as one undo step."""
        group = self.editor.doc.groups.get(group_id)
        if group is None:
            return None
        dlg = QInputDialog(self)
        dlg.setWindowTitle("Rename frame")
        dlg.setLabelText("Frame title:")
        dlg.setTextValue(group.title)
        dlg.textValueSelected.connect(lambda t: self.editor.set_group_field(
            group_id, "title", t.strip(), "Rename frame"))
        dlg.finished.connect(dlg.deleteLater)
        self.rename_dialog = dlg
        dlg.open()
        return dlg

    def node_menu_for(self, node_id: str) -> QMenu:
        """The node menu for a right-click on `node_id`: it and the other selected nodes."""
        selected = self.editor.scene.selected_ids()[0]
        return self.node_menu.build([node_id, *selected])

    def hover_text(self, scene_pos: QPointF) -> str | None:
        """What a tooltip says at a scene point: a port or an edge (and its run value)."""
        scene = self.editor.scene
        port = scene.port_at(scene_pos)
        if port is not None:
            return hover_preview.port_text(port, self.hover_values)
        edge = scene.edge_at(scene_pos)
        if edge is not None and edge.edge_id in self.editor.doc.edges:
            return hover_preview.edge_text(self.editor.doc.edges[edge.edge_id],
                                           self.hover_values)
        return None

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            assert isinstance(event, QHelpEvent)
            text = self.hover_text(self.mapToScene(event.pos()))
            if text is not None:
                QToolTip.showText(event.globalPos(), text, self.viewport())
                return True
        return super().viewportEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            super().wheelEvent(event)  # shift+wheel scrolls
            return
        delta = event.angleDelta().y() or event.angleDelta().x()
        if not delta:
            return
        factor = 1.0015 ** delta
        target = self.zoom() * factor
        self.zoom_at(event.position().toPoint(), target)

    def zoom_at(self, view_pos: QPoint, scale: float) -> None:
        """Zoom to `scale` keeping the scene point under `view_pos` where it is."""
        scale = max(MIN_SCALE, min(MAX_SCALE, scale))
        before = self.mapToScene(view_pos)
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        factor = scale / self.zoom()
        self.scale(factor, factor)
        after = self.mapToScene(view_pos)
        # scroll so `before` is back under the cursor (scroll bars hold the offset)
        delta = (after - before) * self.zoom()
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() - round(delta.x()))
        v.setValue(v.value() - round(delta.y()))
        self.setTransformationAnchor(anchor)
        self.zoomChanged.emit(self.zoom())

    # ------------------------------------------------------------------ keyboard

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if key == Qt.Key.Key_Escape and self._gesture is not None:
            self._gesture.cancel()
            self._gesture = None
            return
        if key == Qt.Key.Key_Tab and not event.modifiers():
            self.open_quick_add(self.cursor_scene_pos())
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().unsetCursor()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        # The Space release may go to another widget; don't stay in pan mode.
        if self._space:
            self._space = False
            self.viewport().unsetCursor()
        super().focusOutEvent(event)

    def focusNextPrevChild(self, next: bool) -> bool:
        return False  # Tab belongs to quick-add on the canvas

    # ------------------------------------------------------------------ drops from the palette

    @staticmethod
    def _workflow_file(event: QDropEvent | QDragMoveEvent | QDragEnterEvent) -> str | None:
        """A workflow file dragged in from the file manager, if that is what comes."""
        for url in event.mimeData().urls():
            if url.isLocalFile() and url.toLocalFile().endswith(".json"):
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(BLOCK_MIME) or self._workflow_file(event):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasFormat(BLOCK_MIME) or self._workflow_file(event):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        data = event.mimeData()
        if not data.hasFormat(BLOCK_MIME):
            path = self._workflow_file(event)
            if path:
                event.acceptProposedAction()
                self.fileDropped.emit(path)
                return
            super().dropEvent(event)
            return
        block_type = bytes(data.data(BLOCK_MIME).data()).decode("utf-8")
        if get_block(block_type) is None:
            event.ignore()
            return
        pos = self.mapToScene(event.position().toPoint())
        scene = self.editor.scene
        edge = None if scene.node_at(pos) else scene.edge_at(pos)
        self.editor.add_block(block_type, pos, splice_edge=edge.edge_id if edge else None)
        event.acceptProposedAction()
        self.setFocus()


