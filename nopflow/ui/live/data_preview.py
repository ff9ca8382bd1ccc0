"""Run details' data preview: a list of objects in a node's value shown as a sortable table.

Rows are found by shape, not by block type (SQL `rows`, an HTTP JSON `body`, CSV `content`,
a script's list all look alike), so plugin blocks get the table too. Bounded for big
outputs: a sort orders every row, but only the first `MAX_ROWS` are shown and columns come
from the first `SCAN_ROWS` rows.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHeaderView, QLabel, QMenu, QTableView, QVBoxLayout, QWidget

#: rows the table shows (a sort still orders all of them)
MAX_ROWS = 10_000
#: rows whose keys make up the columns, and the most columns shown
SCAN_ROWS = 1_000
MAX_COLUMNS = 100
#: characters of a cell's text and of its tooltip
CELL_CHARS = 200
TIP_CHARS = 2_000

_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class FoundRows:
    """A list of objects inside a value: where it is, the rows, and their columns."""

    path: str
    rows: list[dict[str, Any]]
    columns: list[str]


def _is_rows(value: Any) -> bool:
    return (isinstance(value, list) and bool(value) and isinstance(value[0], dict)
            and all(isinstance(r, dict) for r in value[:SCAN_ROWS]))


def _columns(rows: list[dict[str, Any]], declared: Any = None) -> list[str]:
    seen: dict[str, None] = {}
    if isinstance(declared, list):
        seen.update((str(c), None) for c in declared)
    for row in rows[:SCAN_ROWS]:
        for key in row:
            seen.setdefault(str(key), None)
    return list(seen)[:MAX_COLUMNS]


def find_rows(value: Any) -> FoundRows | None:
    """The first list of objects in ``value``: itself, a key of it, or a key of a key.

    An empty list counts when a sibling `columns` list names its columns (a query that
    matched nothing still shows its header).
    """
    if _is_rows(value):
        return FoundRows("", value, _columns(value))
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("columns"), list) and value["columns"]:
        for key, child in value.items():
            if isinstance(child, list) and (not child or _is_rows(child)):
                return FoundRows(str(key), child, _columns(child, value["columns"]))
    for key, child in value.items():
        if _is_rows(child):
            return FoundRows(str(key), child, _columns(child))
    for key, child in value.items():
        if isinstance(child, dict):
            for sub, grandchild in child.items():
                if _is_rows(grandchild):
                    return FoundRows(f"{key}.{sub}", grandchild, _columns(grandchild))
    return None


def cell_text(value: Any) -> str:
    """A cell as one line: text as is, other values as compact JSON, cut to CELL_CHARS."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
    text = text.replace("\n", " ⏎ ")
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS] + "…"


def sort_key(value: Any) -> tuple[int, Any]:
    """Numbers before text before other values; empty cells last (in either order)."""
    if isinstance(value, bool):
        return (2, str(value))
    if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
        return (0, value)
    if isinstance(value, str):
        return (1, value.casefold())
    if value is None:
        return (3, 0)
    return (2, json.dumps(value, sort_keys=True, default=str))


class RowsModel(QAbstractTableModel):
    """The rows of a `FoundRows`, in their own order or sorted by one column."""

    def __init__(self, found: FoundRows, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.found = found
        self.order = list(range(len(found.rows)))

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else min(len(self.order), MAX_ROWS)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.found.columns)

    def row_value(self, row: int) -> dict[str, Any]:
        """The object shown on table row ``row``."""
        return self.found.rows[self.order[row]]

    def value(self, row: int, column: int) -> Any:
        item = self.row_value(row)
        return item.get(self.found.columns[column]) if isinstance(item, dict) else None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        value = self.value(index.row(), index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return cell_text(value)
        if role == Qt.ItemDataRole.ToolTipRole and value is not None:
            text = value if isinstance(value, str) else json.dumps(
                value, indent=2, ensure_ascii=False, default=str)
            return text if len(text) <= TIP_CHARS else text[:TIP_CHARS] + "…"
        if role == Qt.ItemDataRole.TextAlignmentRole and isinstance(value, (int, float)) \
                and not isinstance(value, bool):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.found.columns[section]
        return str(self.order[section] + 1)  # the row's place in the output, sorted or not

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Order every row (not only the shown ones) by ``column``; empty cells stay last."""
        if not 0 <= column < len(self.found.columns):
            return
        name = self.found.columns[column]
        rows = self.found.rows
        self.layoutAboutToBeChanged.emit()
        filled = [i for i in range(len(rows)) if rows[i].get(name) is not None]
        empty = [i for i in range(len(rows)) if rows[i].get(name) is None]
        filled.sort(key=lambda i: sort_key(rows[i].get(name)),
                    reverse=order == Qt.SortOrder.DescendingOrder)
        self.order = filled + empty
        self.layoutChanged.emit()

    def csv_text(self) -> str:
        """Every row, in the shown order, as CSV (nested values as JSON)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.found.columns)
        for i in self.order:
            row = self.found.rows[i]
            writer.writerow(["" if row.get(c) is None else row[c] if isinstance(row[c], str)
                             else json.dumps(row[c], ensure_ascii=False, default=str)
                             for c in self.found.columns])
        return out.getvalue()


class DataTable(QWidget):
    """A caption ("rows: 8 rows × 3 columns") over a sortable table of the rows."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: gray;")
        self.view = QTableView(self)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.setWordWrap(False)
        self.view.setMinimumHeight(140)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.view.horizontalHeader().setSortIndicatorShown(True)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.caption)
        lay.addWidget(self.view)
        self.model: RowsModel | None = None

    def set_rows(self, found: FoundRows) -> None:
        """Show ``found`` in its own order (a header click sorts)."""
        self.view.setSortingEnabled(False)
        old = self.model
        self.model = RowsModel(found, self)
        self.view.setModel(self.model)
        if old is not None:
            old.deleteLater()
        header = self.view.horizontalHeader()
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.view.setSortingEnabled(True)
        n, cols = len(found.rows), len(found.columns)
        where = f"{found.path}: " if found.path else ""
        text = f"{where}{n:,} row{'s' if n != 1 else ''} × {cols} column{'s' if cols != 1 else ''}"
        if n > MAX_ROWS:
            text += f" — showing the first {MAX_ROWS:,} (a sort orders all of them; Copy gives all)"
        self.caption.setText(text + " · click a header to sort")
        for c in range(min(cols, 30)):  # sizing reads shown rows only; cap the work
            self.view.resizeColumnToContents(c)
            header.resizeSection(c, min(header.sectionSize(c), 260))

    def _menu(self, pos: Any) -> None:
        if self.model is None:
            return
        index = self.view.indexAt(pos)
        menu = QMenu(self)
        if index.isValid():
            row = self.model.row_value(index.row())
            menu.addAction("Copy this row as JSON").triggered.connect(
                lambda: QGuiApplication.clipboard().setText(
                    json.dumps(row, indent=2, ensure_ascii=False, default=str)))
        menu.addAction("Copy all rows as CSV").triggered.connect(
            lambda: QGuiApplication.clipboard().setText(self.model.csv_text()
                                                        if self.model else ""))
        menu.exec(self.view.viewport().mapToGlobal(pos))
