"""Quick-add: a small search popup that places a block by typing its name.

Opened with Tab, a double-click on empty canvas, or by dropping a dragged link on
empty canvas. Enter places the highlighted block (and connects it when opened from a link).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QGuiApplication, QHideEvent, QKeyEvent
from PySide6.QtWidgets import QFrame, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from nopflow.blocks import all_blocks
from nopflow.ui.theme import icon


def matches(query: str, *texts: str) -> bool:
    """Case-insensitive match of every word of `query` somewhere in `texts`."""
    hay = " ".join(texts).lower()
    return all(word in hay for word in query.lower().split())


def score(query: str, title: str, block_type: str) -> int:
    """Higher is better: a title that starts with the query beats a description match."""
    q = query.strip().lower()
    if not q:
        return 0
    t, bt = title.lower(), block_type.lower()
    if t.startswith(q) or bt.startswith(q):
        return 3
    if q in t or q in bt:
        return 2
    return 1


class QuickAddPopup(QFrame):
    """A frameless popup: search field over a filtered list of blocks."""

    chosen = Signal(str)  # block type
    #: the popup went away (a block was chosen, Esc, or a click elsewhere)
    closed = Signal()

    def __init__(self, parent: QWidget | None = None, only: set[str] | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("quickAdd")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.only = only
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(4)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Add block…  (type to search, Enter to place)")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget(self)
        self.list.setMinimumWidth(300)
        self.list.setMinimumHeight(220)
        lay.addWidget(self.search)
        lay.addWidget(self.list)
        for block in all_blocks():
            if only is not None and block.type not in only:
                continue
            it = QListWidgetItem(icon(block.icon), f"{block.title}    ·  {block.category}")
            it.setData(Qt.ItemDataRole.UserRole, block.type)
            it.setData(Qt.ItemDataRole.UserRole + 1, f"{block.title} {block.type} "
                       f"{block.category} {block.description}")
            it.setData(Qt.ItemDataRole.UserRole + 2, block.title)
            it.setData(Qt.ItemDataRole.UserRole + 3, self.list.count())  # palette order
            it.setToolTip(block.description)
            self.list.addItem(it)
        self.search.textChanged.connect(self._filter)
        self.search.installEventFilter(self)
        self.list.itemActivated.connect(self._activate)
        self._filter("")

    def popup_at(self, global_pos: QPoint) -> None:
        """Show at a screen position with the search field focused, kept on the screen
        (near the bottom or right edge it opens above / left of the point instead)."""
        self.adjustSize()
        pos = QPoint(global_pos)
        screen = QGuiApplication.screenAt(global_pos) or self.screen()
        if screen is not None:
            area = screen.availableGeometry()
            size = self.sizeHint().expandedTo(self.size())
            if pos.x() + size.width() > area.right():
                pos.setX(max(area.left(), global_pos.x() - size.width()))
            if pos.y() + size.height() > area.bottom():
                pos.setY(max(area.top(), global_pos.y() - size.height()))
        self.move(pos)
        self.show()
        self.search.setFocus()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.closed.emit()

    def _filter(self, text: str) -> None:
        """Show the matches, best first (ties keep palette order), and select the best."""
        items = [self.list.takeItem(0) for _ in range(self.list.count())]
        ranked = []
        for it in items:
            hide = not matches(text, it.data(Qt.ItemDataRole.UserRole + 1))
            it.setHidden(hide)
            sc = -1 if hide else score(text, it.data(Qt.ItemDataRole.UserRole + 2),
                                       it.data(Qt.ItemDataRole.UserRole))
            ranked.append((-sc, it.data(Qt.ItemDataRole.UserRole + 3), it))
        ranked.sort(key=lambda r: (r[0], r[1]))
        for _neg, _order, it in ranked:
            self.list.addItem(it)
            it.setHidden(_neg > 0)  # re-adding an item resets its hidden flag
        best = ranked[0][2] if ranked and ranked[0][0] <= 0 else None
        self.list.setCurrentItem(best)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.search and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.accept_current()
                return True
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                row = self.list.currentRow()
                step = 1 if key == Qt.Key.Key_Down else -1
                r = row + step
                while 0 <= r < self.list.count() and self.list.item(r).isHidden():
                    r += step
                if 0 <= r < self.list.count():
                    self.list.setCurrentRow(r)
                return True
            if key == Qt.Key.Key_Escape:
                self.close()
                return True
        return super().eventFilter(obj, event)

    def accept_current(self) -> None:
        """Place the highlighted block (what Enter does)."""
        it = self.list.currentItem()
        if it is not None and not it.isHidden():
            self._activate(it)

    def _activate(self, it: QListWidgetItem) -> None:
        block_type = it.data(Qt.ItemDataRole.UserRole)
        self.close()
        self.chosen.emit(block_type)
