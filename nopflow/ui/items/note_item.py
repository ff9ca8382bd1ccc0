"""A sticky note: a coloured card with wrapped text, saved in the workflow file."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QPainter, QStaticText, QTextOption
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from nopflow.model import Note
from nopflow.ui.theme import canvas_theme

PAD = 10.0


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
        painter.setPen(th.pens["note"])
        painter.save()
        painter.setClipRect(rect.adjusted(PAD, PAD, -PAD, -PAD))
        painter.drawStaticText(QPointF(PAD, PAD), self._text)
        painter.restore()
