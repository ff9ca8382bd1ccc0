"""A frame (`Workflow.groups`): a titled, tinted rectangle drawn behind nodes.

Only the title bar takes clicks (drag it to move the frame with the nodes inside it, double-
click it to rename, right-click for colour); the inside stays canvas, so a rubber band or a
double-click there works as anywhere else.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from nopflow.model.workflow import Group
from nopflow.ui.theme import canvas_theme

#: height of the title bar (scene units), and the default frame colour
TITLE_H = 30.0
DEFAULT_COLOR = "#5B8DEF"
#: colours offered in the frame menu (name, #RRGGBB)
FRAME_COLORS = (("Blue", "#5B8DEF"), ("Green", "#3FA96B"), ("Orange", "#E89B2C"),
                ("Red", "#E5484D"), ("Purple", "#8E6CD8"), ("Grey", "#8A94A6"))


class GroupItem(QGraphicsItem):
    """The picture of one `Group`, behind nodes, notes and edges."""

    def __init__(self, group: Group) -> None:
        super().__init__()
        self.group_id = group.id
        self._size = (0.0, 0.0)
        self.title = ""
        self.color = QColor(DEFAULT_COLOR)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(-2.0)
        self.set_group(group)

    def set_group(self, group: Group) -> None:
        """Refresh from the model."""
        x, y, w, h = group.rect
        if (w, h) != self._size:
            self.prepareGeometryChange()
            self._size = (w, h)
        self.title = group.title or "Frame"
        self.color = QColor((group.color or DEFAULT_COLOR)[:7])
        self.setPos(QPointF(x, y))
        self.update()

    def frame_rect(self) -> QRectF:
        """The whole frame in scene coordinates (what decides which nodes are inside)."""
        return QRectF(self.pos(), QRectF(0, 0, *self._size).size())

    def title_rect(self) -> QRectF:
        return QRectF(0, 0, self._size[0], min(TITLE_H, self._size[1]))

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, *self._size).adjusted(-3, -3, 3, 3)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self.title_rect())
        return path

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        th = canvas_theme()
        rect = QRectF(0, 0, *self._size)
        fill = QColor(self.color)
        fill.setAlphaF(0.16 if th.dark else 0.12)
        bar = QColor(self.color)
        bar.setAlphaF(0.55 if th.dark else 0.4)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(th.pens["selected"] if self.isSelected() else Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, 6, 6)
        painter.fillRect(self.title_rect().adjusted(1, 1, -1, 0), bar)
        if option.levelOfDetailFromTransform(painter.worldTransform()) < 0.15:
            return
        font = QFont()
        font.setPointSizeF(11)
        font.setWeight(QFont.Weight.DemiBold)
        painter.setFont(font)
        painter.setPen(th.text)
        painter.drawText(self.title_rect().adjusted(10, 0, -10, 0),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, self.title)
