"""Find (Ctrl+F): nodes by title, type, id or config text, stepped through on the canvas.

A small bar floats over the canvas's top-right corner (so opening it moves nothing). Enter
and the arrows step through the hits in reading order of the graph (left to right, then top
to bottom); each hit is selected and centred. Escape closes it and leaves the last hit
selected.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QToolButton

from nopflow.blocks import get_block
from nopflow.model import Node
from nopflow.ui.view import WorkflowView


def node_matches(node: Node, needle: str) -> bool:
    """True when `needle` (lower case) is in the node's title, id, type or config text."""
    block = get_block(node.type)
    hay = [node.title, node.id, node.type, block.title if block else ""]
    for value in node.config.values():  # code, expressions, URLs, queries…
        hay.append(value if isinstance(value, str) else json.dumps(value, default=str))
    return any(needle in h.lower() for h in hay)


class FindBar(QFrame):
    """The Find bar of one canvas view."""

    def __init__(self, view: WorkflowView) -> None:
        super().__init__(view)
        self.view = view
        self.setObjectName("findBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 4, 4, 4)
        lay.setSpacing(4)
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText("Find nodes: title, type, id, code…")
        self.edit.setClearButtonEnabled(True)
        self.edit.setMinimumWidth(240)
        self.edit.textChanged.connect(self._search)
        self.edit.installEventFilter(self)
        self.count = QLabel(self)
        self.count.setMinimumWidth(70)
        self.prev_button = self._button("▲", "Previous hit (Shift+Enter)", self.previous)
        self.next_button = self._button("▼", "Next hit (Enter)", self.next)
        close = self._button("✕", "Close (Esc)", self.close_bar)
        for w in (self.edit, self.count, self.prev_button, self.next_button, close):
            lay.addWidget(w)
        self.hits: list[str] = []
        self.index = -1
        self.hide()
        view.editor.doc.changed.connect(self._refresh)
        view.installEventFilter(self)  # follow the view's size (top-right corner)

    def _button(self, text: str, tip: str, slot) -> QToolButton:  # type: ignore[no-untyped-def]
        b = QToolButton(self)
        b.setText(text)
        b.setToolTip(tip)
        b.setAutoRaise(True)
        b.clicked.connect(lambda _c=False: slot())
        return b

    # ------------------------------------------------------------------ public

    def open_bar(self) -> None:
        """Show the bar with its text selected (Ctrl+F again re-selects it)."""
        self.show()
        self.raise_()
        self._place()
        self.edit.setFocus()
        self.edit.selectAll()
        self._search()

    def close_bar(self) -> None:
        """Hide the bar and give the keyboard back to the canvas."""
        self.hide()
        self.view.setFocus()

    def next(self) -> None:
        """Go to the next hit (wrapping)."""
        self._step(1)

    def previous(self) -> None:
        """Go to the previous hit (wrapping)."""
        self._step(-1)

    # ------------------------------------------------------------------ internals

    def _search(self) -> None:
        self._collect()
        self.index = -1
        if self.hits:
            self._step(1)
        else:
            self._show_count()

    def _refresh(self) -> None:
        """The document changed: keep the hit list true without jumping the view."""
        if not self.isVisible():
            return
        current = self.hits[self.index] if 0 <= self.index < len(self.hits) else None
        self._collect()
        self.index = self.hits.index(current) if current in self.hits else -1
        self._show_count()

    def _collect(self) -> None:
        needle = self.edit.text().strip().lower()
        nodes = self.view.editor.doc.nodes.values()
        found = [n for n in nodes if node_matches(n, needle)] if needle else []
        found.sort(key=lambda n: (n.position[0], n.position[1], n.id))
        self.hits = [n.id for n in found]

    def _step(self, delta: int) -> None:
        if not self.hits:
            return
        self.index = (self.index + delta) % len(self.hits)
        self.view.center_on_node(self.hits[self.index])
        self._show_count()

    def _show_count(self) -> None:
        text = self.edit.text().strip()
        if not text:
            self.count.setText("")
        elif not self.hits:
            self.count.setText("no matches")
        else:
            pos = f"{self.index + 1}" if self.index >= 0 else "–"
            self.count.setText(f"{pos} of {len(self.hits)}")
        self.prev_button.setEnabled(bool(self.hits))
        self.next_button.setEnabled(bool(self.hits))

    def _place(self) -> None:
        self.adjustSize()
        self.move(self.view.width() - self.width() - 12, 8)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.view and event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        if obj is self.edit and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key, mods = event.key(), event.modifiers()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.previous() if mods & Qt.KeyboardModifier.ShiftModifier else self.next()
                return True
            if key == Qt.Key.Key_Down:
                self.next()
                return True
            if key == Qt.Key.Key_Up:
                self.previous()
                return True
            if key == Qt.Key.Key_Escape:
                self.close_bar()
                return True
        return super().eventFilter(obj, event)

