"""A small Python code editor: monospace, line numbers, highlighting, Tab = 4 spaces."""

from __future__ import annotations

import keyword
import re

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextDocument,
)
from PySide6.QtWidgets import QPlainTextEdit, QWidget

INDENT = "    "


def _fmt(color: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    f = QTextCharFormat()
    f.setForeground(QColor(color))
    if bold:
        f.setFontWeight(QFont.Weight.Bold)
    f.setFontItalic(italic)
    return f


class PythonHighlighter(QSyntaxHighlighter):
    """Keywords, builtins, strings, numbers, comments and decorators; triple quotes span lines."""

    def __init__(self, doc: QTextDocument, dark: bool = False) -> None:
        super().__init__(doc)
        c = {
            "kw": "#C678DD" if dark else "#A626A4",
            "builtin": "#56B6C2" if dark else "#0184BC",
            "str": "#98C379" if dark else "#50A14F",
            "num": "#D19A66" if dark else "#986801",
            "comment": "#7F848E" if dark else "#A0A1A7",
            "deco": "#E5C07B" if dark else "#C18401",
        }
        builtins = ("print len range dict list set tuple str int float bool open json sys "
                    "isinstance enumerate zip sorted min max sum any all None True False self")
        self.rules = [
            (re.compile(r"\b(" + "|".join(keyword.kwlist) + r")\b"), _fmt(c["kw"], bold=True)),
            (re.compile(r"\b(" + "|".join(builtins.split()) + r")\b"), _fmt(c["builtin"])),
            (re.compile(r"\b\d+(\.\d+)?([eE][-+]?\d+)?\b"), _fmt(c["num"])),
            (re.compile(r"@\w+"), _fmt(c["deco"])),
            (re.compile(r"[rbfu]?'[^'\\\n]*(\\.[^'\\\n]*)*'|[rbfu]?\"[^\"\\\n]*(\\.[^\"\\\n]*)*\""),
             _fmt(c["str"])),
            (re.compile(r"#[^\n]*"), _fmt(c["comment"], italic=True)),
        ]
        self.str_fmt = _fmt(c["str"])
        self.triple = [re.compile("'''"), re.compile('"""')]

    def highlightBlock(self, text: str) -> None:
        for rx, fmt in self.rules:
            for m in rx.finditer(text):
                self.setFormat(m.start(), m.end() - m.start(), fmt)
        # Multi-line strings: state 1/2 = inside ''' / """.
        self.setCurrentBlockState(0)
        start = 0
        state = self.previousBlockState()
        if state in (1, 2):
            rx = self.triple[state - 1]
            m = rx.search(text)
            if m is None:
                self.setFormat(0, len(text), self.str_fmt)
                self.setCurrentBlockState(state)
                return
            self.setFormat(0, m.end(), self.str_fmt)
            start = m.end()
        while True:
            found = [(rx.search(text, start), i) for i, rx in enumerate(self.triple)]
            found = [(m, i) for m, i in found if m is not None]
            if not found:
                return
            m, i = min(found, key=lambda p: p[0].start())
            end = self.triple[i].search(text, m.end())
            if end is None:
                self.setFormat(m.start(), len(text) - m.start(), self.str_fmt)
                self.setCurrentBlockState(i + 1)
                return
            self.setFormat(m.start(), end.end() - m.start(), self.str_fmt)
            start = end.end()


class _LineNumbers(QWidget):
    def __init__(self, editor: CodeEditor) -> None:
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:
        return QSize(self.editor.gutter_width(), 0)

    def paintEvent(self, event: QPaintEvent) -> None:
        self.editor.paint_gutter(event)


class CodeEditor(QPlainTextEdit):
    """Plain-text editor for inline Python source."""

    def __init__(self, parent: QWidget | None = None, dark: bool = False) -> None:
        super().__init__(parent)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSizeF(max(9.0, font.pointSizeF()))
        self.setFont(font)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabStopDistance(self.fontMetrics().horizontalAdvance(" ") * 4)
        self.gutter = _LineNumbers(self)
        self.highlighter = PythonHighlighter(self.document(), dark)
        self.blockCountChanged.connect(self._update_margins)
        self.updateRequest.connect(self._scroll_gutter)
        self._update_margins()

    def gutter_width(self) -> int:
        digits = max(2, len(str(self.blockCount())))
        return 12 + self.fontMetrics().horizontalAdvance("9") * digits

    def _update_margins(self) -> None:
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)

    def _scroll_gutter(self, rect: QRect, dy: int) -> None:
        if dy:
            self.gutter.scroll(0, dy)
        else:
            self.gutter.update(0, rect.y(), self.gutter.width(), rect.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        cr = self.contentsRect()
        self.gutter.setGeometry(QRect(cr.left(), cr.top(), self.gutter_width(), cr.height()))

    def paint_gutter(self, event: QPaintEvent) -> None:
        painter = QPainter(self.gutter)
        pal = self.palette()
        painter.fillRect(event.rect(), pal.alternateBase())
        painter.setPen(pal.placeholderText().color())
        block = self.firstVisibleBlock()
        number = block.blockNumber()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        height = self.fontMetrics().height()
        while block.isValid() and top <= event.rect().bottom():
            if block.isVisible():
                painter.drawText(0, top, self.gutter.width() - 6, height,
                                 Qt.AlignmentFlag.AlignRight, str(number + 1))
            block = block.next()
            top += round(self.blockBoundingRect(block).height()) if block.isValid() else height
            number += 1
        painter.end()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        cursor = self.textCursor()
        if key == Qt.Key.Key_Tab and not cursor.hasSelection():
            cursor.insertText(INDENT)
            return
        if key == Qt.Key.Key_Tab and cursor.hasSelection():
            self._indent_selection(True)
            return
        if key == Qt.Key.Key_Backtab:
            self._indent_selection(False)
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            line = cursor.block().text()
            indent = line[: len(line) - len(line.lstrip(" "))]
            if line.rstrip().endswith(":"):
                indent += INDENT
            cursor.insertText("\n" + indent)
            self.ensureCursorVisible()
            return
        super().keyPressEvent(event)

    def _indent_selection(self, add: bool) -> None:
        cursor = self.textCursor()
        start, end = cursor.selectionStart(), cursor.selectionEnd()
        doc = self.document()
        first, last = doc.findBlock(start), doc.findBlock(max(start, end - 1))
        cursor.beginEditBlock()
        block = first
        while block.isValid():
            c = self.textCursor()
            c.setPosition(block.position())
            if add:
                c.insertText(INDENT)
            else:
                n = len(block.text()) - len(block.text().lstrip(" "))
                for _ in range(min(4, n)):
                    c.deleteChar()
            if block == last:
                break
            block = block.next()
        cursor.endEditBlock()

    def focusNextPrevChild(self, next: bool) -> bool:
        return False  # Tab indents instead of moving focus
