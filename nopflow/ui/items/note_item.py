"""A sticky note: a coloured card with wrapped text, saved in the workflow file."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QPainter, QStaticText, QTextOption
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneHoverEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from nopflow.model import Note
from nopflow.ui.theme import canvas_theme

PAD = 10.0
#: the resize grip: a square this big in the bottom-right corner
GRIP = 14.0
#: the smallest a note can be resized to
MIN_NOTE_W, MIN_NOTE_H = 80.0, 40.0


class NoteItem(QGraphicsItem):
    """The picture of one `Note`; edited through the inspector, moved like nodes."""

    def __init__(self, note: Note) -> None:
        super().__init__()
        self.note_id = note.id
        self._text = QStaticText()
        self._text.setTextFormat(Qt.TextFormat.PlainText)
        opt = QTextOption()
        opt.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self._text.setTextOption(opt)
        self._size = QSizeF(200, 120)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(-1.0)
        self.set_note(note)

    def set_note(self, note: Note) -> None:
        """Refresh from the model."""
        size = QSizeF(*note.size)
        if size != self._size:
            self.prepareGeometryChange()
            self._size = size
        self._text.setText(note.text or "Double-click to edit")
        self._text.setTextWidth(max(10.0, size.width() - 2 * PAD))
        self.setPos(QPointF(*note.position))
        self.update()

    def size(self) -> QSizeF:
        """The card's size as drawn now (may run ahead of the model while resizing)."""
        return QSizeF(self._size)

    def set_preview_size(self, size: QSizeF) -> None:
        """Show a size during a resize drag, without touching the model."""
        if size != self._size:
            self.prepareGeometryChange()
            self._size = QSizeF(size)
            self._text.setTextWidth(max(10.0, size.width() - 2 * PAD))
            self.update()

    def grip_rect(self) -> QRectF:
        """The resize grip, in item coordinates."""
        return QRectF(self._size.width() - GRIP, self._size.height() - GRIP, GRIP, GRIP)

    def in_grip(self, scene_pos: QPointF) -> bool:
        """True when a scene point is on the resize grip."""
        return self.grip_rect().adjusted(-2, -2, 3, 3).contains(self.mapFromScene(scene_pos))

    def hoverMoveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        if self.in_grip(event.scenePos()):
            self.setCursor(Qt.CursorShape.SizeFDiagCursor)
        else:
            self.unsetCursor()
        super().hoverMoveEvent(event)

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.unsetCursor()
        super().hoverLeaveEvent(event)

    def boundingRect(self) -> QRectF:
        return QRectF(QPointF(0, 0), self._size).adjusted(-3, -3, 3, 3)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        th = canvas_theme()
        rect = QRectF(QPointF(0, 0), self._size)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(th.pens["selected"] if self.isSelected() else Qt.PenStyle.NoPen)
        painter.setBrush(th.brushes["note"])
        painter.drawRoundedRect(rect, 4, 4)
        if option.levelOfDetailFromTransform(painter.worldTransform()) < 0.4:
            return
        # the resize grip: three short diagonal strokes in the corner
        g = self.grip_rect()
        painter.setPen(th.pens["note"])
        painter.setOpacity(0.45)
        for i in (3.0, 7.0, 11.0):
            painter.drawLine(QPointF(g.right() - i, g.bottom() - 2),
                             QPointF(g.right() - 2, g.bottom() - i))
        painter.setOpacity(1.0)
        painter.setPen(th.pens["note"])
        painter.save()
        painter.setClipRect(rect.adjusted(PAD, PAD, -PAD, -PAD))
        painter.drawStaticText(QPointF(PAD, PAD), self._text)
        painter.restore()
