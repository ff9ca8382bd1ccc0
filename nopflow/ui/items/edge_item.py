"""A connection drawn as a smooth cubic curve from an output port to an input port.

The path is recomputed only when an endpoint moves (`set_ends`), and the wider hit shape
is built lazily the first time something asks for it, so panning and repainting thousands
of edges costs one `drawPath` each.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPainterPath, QPainterPathStroker
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneHoverEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from nopflow.ui.theme import canvas_theme

#: below this scale edges are drawn as straight lines
LOD_LINE = 0.15


def curve(p1: QPointF, p2: QPointF) -> QPainterPath:
    """The cubic Bézier the editor uses for every link (horizontal tangents at both ends)."""
    dx = max(50.0, abs(p2.x() - p1.x()) * 0.5)
    path = QPainterPath(p1)
    path.cubicTo(QPointF(p1.x() + dx, p1.y()), QPointF(p2.x() - dx, p2.y()), p2)
    return path


class EdgeItem(QGraphicsItem):
    """The picture of one `Edge`."""

    def __init__(self, edge_id: str, source: str, target: str) -> None:
        super().__init__()
        self.edge_id = edge_id
        self.source = source
        self.target = target
        self._path = QPainterPath()
        self._p1 = self._p2 = QPointF()
        self._shape: QPainterPath | None = None
        self._bounds = QRectF()
        #: True while/after data went along this edge in the run shown (the live-run view)
        self.live: bool | None = None
        self.hovered = False
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)  # only the edge under the cursor gets these
        self.setZValue(0.0)

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.hovered = True
        self.update()

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.hovered = False
        self.update()

    def set_live(self, live: bool | None) -> None:
        """Light the edge up (it carried data in the run shown) or back to normal."""
        if live != self.live:
            self.live = live
            self.update()

    def set_ends(self, p1: QPointF, p2: QPointF) -> None:
        """Recompute the curve for new endpoint positions."""
        self.prepareGeometryChange()
        self._p1, self._p2 = QPointF(p1), QPointF(p2)
        self._path = curve(p1, p2)
        self._shape = None
        self._bounds = self._path.boundingRect().adjusted(-4, -4, 4, 4)

    def path(self) -> QPainterPath:
        """The centre line (used to splice a dropped block into this edge)."""
        return self._path

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(10.0)
            self._shape = stroker.createStroke(self._path)
        return self._shape

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        th = canvas_theme()
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, lod >= 0.4)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if self.isSelected() or self.hovered:
            painter.setPen(th.pens["edge_selected"])
        elif self.live:
            painter.setPen(th.pens["edge_live"])
        else:
            painter.setPen(th.pens["edge"])
        if lod < LOD_LINE:  # a few pixels long: a straight line reads the same, far cheaper
            painter.drawLine(self._p1, self._p2)
        else:
            painter.drawPath(self._path)


class LinkPreviewItem(QGraphicsItem):
    """The dashed curve that follows the cursor while a link is being dragged."""

    def __init__(self) -> None:
        super().__init__()
        self._path = QPainterPath()
        self._bounds = QRectF()
        self.valid = True
        self.setZValue(10.0)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_ends(self, p1: QPointF, p2: QPointF, valid: bool) -> None:
        """Follow the cursor; `valid=False` paints it red (the drop would be refused)."""
        self.prepareGeometryChange()
        self._path = curve(p1, p2)
        self._bounds = self._path.boundingRect().adjusted(-4, -4, 4, 4)
        self.valid = valid
        self.update()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        th = canvas_theme()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(th.pens["edge_preview" if self.valid else "invalid"])
        painter.drawPath(self._path)
