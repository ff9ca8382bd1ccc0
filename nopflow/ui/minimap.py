"""The minimap: the whole graph in a corner of the canvas, coloured by run state.

It floats over the canvas's bottom-right corner (View ▸ Minimap). Nodes are small boxes in
their state's colour (the card colour before a run), the frame shows what the canvas shows,
and a click or drag centres the canvas there. Repaints are coalesced to one per 80 ms, so
a burst of run events or a big paste costs one paint.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from nopflow.ui.items.port_item import NODE_WIDTH
from nopflow.ui.theme import STATE_COLORS, canvas_theme
from nopflow.ui.view import WorkflowView

SIZE = (220, 150)
MARGIN = 12
_NODE_H = 60.0  # a node's height as the minimap draws it (close enough at this scale)


class Minimap(QWidget):
    """A small overview of one view's scene; click or drag to navigate."""

    def __init__(self, view: WorkflowView) -> None:
        super().__init__(view)
        self.view = view
        self.setObjectName("minimap")
        self.resize(*SIZE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click or drag to move the canvas (View ▸ Minimap hides it)")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(80)
        self._timer.timeout.connect(self.update)
        view.editor.doc.changed.connect(self.schedule)
        view.editor.scene.changed.connect(self.schedule)  # states, moves while dragging
        view.zoomChanged.connect(self.schedule)
        view.horizontalScrollBar().valueChanged.connect(self.schedule)
        view.verticalScrollBar().valueChanged.connect(self.schedule)
        view.installEventFilter(self)
        self._place()

    def schedule(self, *_args: object) -> None:
        """Repaint soon (many calls in a burst make one paint)."""
        if self.isVisible() and not self._timer.isActive():
            self._timer.start()

    # ------------------------------------------------------------------ geometry

    def graph_rect(self) -> QRectF:
        """The scene area shown: every node, note and frame (the canvas's own rectangle is
        drawn over it, cut at the edge, so zooming out does not shrink the graph to dots)."""
        scene = self.view.editor.scene
        rect = QRectF()
        for item in (*scene.nodes.values(), *scene.notes.values(), *scene.groups.values()):
            rect = rect.united(item.sceneBoundingRect())
        if rect.isEmpty():
            rect = self.visible_rect()
        return rect.adjusted(-80, -80, 80, 80)

    def visible_rect(self) -> QRectF:
        """The scene rectangle the canvas shows now."""
        vp = self.view.viewport().rect()
        return self.view.mapToScene(vp).boundingRect()

    def _transform(self) -> tuple[float, QPointF, QRectF]:
        """(scale, offset, graph rect): scene → minimap is `p * scale + offset`."""
        g = self.graph_rect()
        inner = QRectF(self.rect()).adjusted(4, 4, -4, -4)
        scale = min(inner.width() / max(g.width(), 1.0), inner.height() / max(g.height(), 1.0))
        off = QPointF(inner.center().x() - g.center().x() * scale,
                      inner.center().y() - g.center().y() * scale)
        return scale, off, g

    def to_scene(self, p: QPointF) -> QPointF:
        """The scene point under a minimap point."""
        scale, off, _g = self._transform()
        return (p - off) / scale

    def to_map(self, p: QPointF) -> QPointF:
        """The minimap point of a scene point."""
        scale, off, _g = self._transform()
        return p * scale + off

    def _place(self) -> None:
        self.move(self.view.width() - self.width() - MARGIN,
                  self.view.height() - self.height() - MARGIN)

    # ------------------------------------------------------------------ Qt

    def eventFilter(self, obj, event) -> bool:  # type: ignore[no-untyped-def]
        if obj is self.view and event.type() == event.Type.Resize:
            self._place()
            self.schedule()
        return super().eventFilter(obj, event)

    def paintEvent(self, _event: QPaintEvent) -> None:
        th = canvas_theme()
        p = QPainter(self)
        bg = QColor(th.background)
        bg.setAlpha(235)
        p.fillRect(self.rect(), bg)
        p.setPen(QPen(th.node_border, 1))
        p.drawRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5))
        scale, off, _g = self._transform()
        scene = self.view.editor.scene
        for item in scene.groups.values():
            r = item.frame_rect()
            c = QColor(item.color)
            c.setAlphaF(0.25)
            p.fillRect(QRectF(r.topLeft() * scale + off, r.size() * scale), c)
        default = th.node_header if th.dark else th.node_border
        colours = {s: QColor(c) for s, c in STATE_COLORS.items()}
        w = max(4.0, NODE_WIDTH * scale)
        h = max(3.0, _NODE_H * scale)
        for item in scene.nodes.values():
            pos = item.pos()
            p.fillRect(QRectF(pos.x() * scale + off.x(), pos.y() * scale + off.y(), w, h),
                       colours.get(item.state or "", default))
        vis = self.visible_rect()
        p.setClipRect(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        p.setPen(QPen(th.node_selected, 1.5))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(QRectF(vis.topLeft() * scale + off, vis.size() * scale))
        p.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._go(event.position())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._go(event.position())

    def _go(self, p: QPointF) -> None:
        # the transform changes as the view moves (the shown rect is part of it): map once,
        # from the transform as it was when the press or move arrived
        self.view.centerOn(self.to_scene(p))
        self.update()
