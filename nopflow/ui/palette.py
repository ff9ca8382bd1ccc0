"""The block palette: blocks grouped by category, with icons, a search field and dragging.

Dragging an entry carries `BLOCK_MIME` with the block type; the canvas view places the
block where it is dropped. Double-clicking an entry adds it at the centre of the canvas.
Block plugins that could not be loaded are listed under the tree, each with the reason.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nopflow.blocks import all_blocks, plugin_problems
from nopflow.ui.quick_add import matches
from nopflow.ui.theme import icon, icon_pixmap
from nopflow.ui.view import BLOCK_MIME

TYPE_ROLE = Qt.ItemDataRole.UserRole
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 1


def block_mime(block_type: str) -> QMimeData:
    """The drag payload for one block type."""
    mime = QMimeData()
    mime.setData(BLOCK_MIME, block_type.encode("utf-8"))
    mime.setText(block_type)
    return mime


CATEGORY_ORDER = ("Flow", "Code", "Data", "Web", "System", "Files", "AI")


def ordered_blocks() -> list:  # type: ignore[type-arg]
    """Blocks in palette order: categories in a fixed order, entry blocks first, else as
    registered."""
    blocks = all_blocks()
    rank = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    return sorted(blocks, key=lambda b: (rank.get(b.category, len(rank)), not b.is_entry,
                                         blocks.index(b)))


class _BlockTree(QTreeWidget):
    """A tree whose leaves start a block drag."""

    def startDrag(self, actions: Qt.DropAction) -> None:
        item = self.currentItem()
        block_type = item.data(0, TYPE_ROLE) if item else None
        if not block_type:
            return
        drag = QDrag(self)
        drag.setMimeData(block_mime(block_type))
        drag.setPixmap(icon_pixmap(item.data(0, Qt.ItemDataRole.UserRole + 2), 32,
                                   self.devicePixelRatioF()))
        drag.exec(Qt.DropAction.CopyAction)


class Palette(QWidget):
    """Search field over the categorised block list."""

    #: a block was double-clicked or Enter was pressed on it
    activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search blocks")
        self.search.setClearButtonEnabled(True)
        self.tree = _BlockTree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setIconSize(QSize(22, 22))
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QTreeWidget.DragDropMode.DragOnly)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(8)
        self.tree.setUniformRowHeights(True)
        self.tree.setStyleSheet("QTreeWidget::item { padding: 3px 2px; }")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(6)
        lay.addWidget(self.search)
        lay.addWidget(self.tree)
        #: skipped block plugins, said where a person looks for the block they installed
        self.plugin_note = QLabel(self)
        self.plugin_note.setObjectName("pluginProblems")
        self.plugin_note.setWordWrap(True)
        self.plugin_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        problems = plugin_problems()
        if problems:
            n = len(problems)
            self.plugin_note.setText(
                f"⚠ {n} block plugin{'s' if n != 1 else ''} could not be loaded:\n"
                + "\n".join(f"• {p}" for p in problems))
        self.plugin_note.setVisible(bool(problems))
        lay.addWidget(self.plugin_note)
        self.items: dict[str, QTreeWidgetItem] = {}
        groups: dict[str, QTreeWidgetItem] = {}
        for block in ordered_blocks():
            group = groups.get(block.category)
            if group is None:
                group = QTreeWidgetItem(self.tree, [block.category])
                group.setFlags(Qt.ItemFlag.ItemIsEnabled)
                f = group.font(0)
                f.setBold(True)
                group.setFont(0, f)
                groups[block.category] = group
            it = QTreeWidgetItem(group, [block.title])
            it.setIcon(0, icon(block.icon))
            it.setToolTip(0, f"{block.title} ({block.type})\n{block.description}")
            it.setData(0, TYPE_ROLE, block.type)
            it.setData(0, SEARCH_ROLE, f"{block.title} {block.type} {block.description}")
            it.setData(0, Qt.ItemDataRole.UserRole + 2, block.icon)
            it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                        | Qt.ItemFlag.ItemIsDragEnabled)
            self.items[block.type] = it
        self.tree.expandAll()
        self.search.textChanged.connect(self._filter)
        self.tree.itemActivated.connect(self._activate)

    def _filter(self, text: str) -> None:
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            visible = 0
            for j in range(group.childCount()):
                it = group.child(j)
                hide = not matches(text, it.data(0, SEARCH_ROLE))
                it.setHidden(hide)
                visible += not hide
            group.setHidden(visible == 0)

    def _activate(self, item: QTreeWidgetItem) -> None:
        block_type = item.data(0, TYPE_ROLE)
        if block_type:
            self.activated.emit(block_type)
