"""Per-node inspection of a run: state and timings, error, traceback, stderr, inputs, outputs.

It shows one node of either the live run or a kept run, both in the one node-record shape
(`NodeRecordData`: the live record's `to_data()`, or what history kept), turned into a
`NodeView` so the widget does not care where the data came from. Values are shown as a
JSON tree with a Copy button (the whole value as pretty JSON) and a context menu (copy one
branch); a value holding a list of objects opens as a sortable table (data_preview.py), the
tree one click away.

Why lazy: a node's output can be a large JSON document; the tree only builds children
of a branch when it is expanded, and caps each level, so selecting a node stays instant.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nopflow.model.records import NodeRecordData
from nopflow.model.redact import Redactor
from nopflow.ui.live.data_preview import DataTable, FoundRows, find_rows
from nopflow.ui.theme import STATE_COLORS, STATE_LABELS, icon, state_icon_name

if TYPE_CHECKING:
    from nopflow.engine.state import NodeRecord

#: children shown per branch before a "… n more" row
MAX_CHILDREN = 500
#: an item's index into `JsonTree._values` (storing the value itself in item data would
#: deep-convert it to a QVariant on every store and back on every read)
_VALUE_ROLE = Qt.ItemDataRole.UserRole
_LOADED_ROLE = Qt.ItemDataRole.UserRole + 1


def _fmt_time(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value).strftime("%H:%M:%S.%f")[:-3]
    text = str(value)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone()
        return dt.strftime("%H:%M:%S.%f")[:-3]
    except ValueError:
        return text


@dataclass
class NodeView:
    """What the panel shows about one node, from a live record or a kept one."""

    node_id: str
    title: str = ""
    state: str | None = None
    attempts: int = 0
    started: str = "—"
    ended: str = "—"
    duration_ms: int | None = None
    inputs: Any = None
    output: Any = None
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    log: list[str] = field(default_factory=list)
    source: str = "live"
    #: block-specific facts of the record (a sub-workflow node's child run)
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: NodeRecordData, source: str, title: str | None = None,
                  log: list[str] | None = None) -> NodeView:
        """From a node record; ``log`` replaces its kept tail (the live run's full log)."""
        return cls(
            node_id=data.node_id, title=data.title if title is None else title,
            state=data.status, attempts=data.attempts,
            started=_fmt_time(data.started_at), ended=_fmt_time(data.ended_at),
            duration_ms=data.duration_ms, inputs=data.inputs, output=data.output,
            error=data.error, error_type=data.error_type, traceback=data.traceback,
            log=log or (data.stderr_tail or "").splitlines(), source=source,
            details=dict(data.details or {}),
        )

    @classmethod
    def from_live(cls, rec: NodeRecord, redactor: Redactor) -> NodeView:
        """From the engine's live record (read on the GUI thread, which owns the loop),
        with the run's secrets hidden (log lines arrive redacted already)."""
        return cls.from_data(rec.to_data().redacted(redactor), "live", log=list(rec.logs))

    @classmethod
    def from_history(cls, node_id: str, title: str, rec: NodeRecordData,
                     run_label: str) -> NodeView:
        """From a kept run's record (older records do not know their node id or title)."""
        return cls.from_data(replace(rec, node_id=node_id), run_label, title=title)


def _summary(value: Any) -> str:
    if isinstance(value, dict):
        return f"{{…}} {len(value)} key{'s' if len(value) != 1 else ''}"
    if isinstance(value, list):
        return f"[…] {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, str) and len(value) > 1000:
        value = value[:1000]  # the first 300 characters shown come from these: skip the rest
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 300 else text[:300] + "…"


class JsonTree(QTreeWidget):
    """A JSON value as an expandable key/value tree; children are built on expand."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderLabels(["Key", "Value"])
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setMinimumHeight(90)
        self.value: Any = None
        self._values: list[Any] = []  # per item, the Python value it shows (see _VALUE_ROLE)
        self.itemExpanded.connect(self._load_children)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)

    def set_value(self, value: Any) -> None:
        """Show ``value`` (top level expanded)."""
        self.value = value
        self.clear()
        self._values = []
        if isinstance(value, (dict, list)):
            self._add_children(self.invisibleRootItem(), value)
        elif value is not None:
            self._make(self.invisibleRootItem(), "value", value)
        self.resizeColumnToContents(0)

    def _make(self, parent: QTreeWidgetItem, key: str, value: Any) -> QTreeWidgetItem:
        item = QTreeWidgetItem(parent, [key, _summary(value)])
        item.setData(0, _VALUE_ROLE, len(self._values))
        self._values.append(value)
        if isinstance(value, (dict, list)) and value:
            item.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
        return item

    def _add_children(self, parent: QTreeWidgetItem, value: Any) -> None:
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        n = 0
        for key, child in pairs:
            if n >= MAX_CHILDREN:
                QTreeWidgetItem(parent, ["…", f"{len(value) - n} more (use Copy)"])
                break
            self._make(parent, str(key) if isinstance(value, dict) else f"[{key}]", child)
            n += 1
        parent.setData(0, _LOADED_ROLE, True)

    def _load_children(self, item: QTreeWidgetItem) -> None:
        if item.data(0, _LOADED_ROLE):
            return
        value = self._item_value(item)
        if isinstance(value, (dict, list)):
            self._add_children(item, value)

    def _item_value(self, item: QTreeWidgetItem) -> Any:
        index = item.data(0, _VALUE_ROLE)
        return self._values[index] if isinstance(index, int) else None

    def copy_text(self, item: QTreeWidgetItem | None = None) -> str:
        """The value (or one branch) as pretty JSON, and put it on the clipboard."""
        value = self.value if item is None else self._item_value(item)
        text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
        QGuiApplication.clipboard().setText(text)
        return text

    def _menu(self, pos: Any) -> None:
        item = self.itemAt(pos)
        menu = QMenu(self)
        if item is not None:
            menu.addAction("Copy this value").triggered.connect(lambda: self.copy_text(item))
        menu.addAction("Copy all as JSON").triggered.connect(lambda: self.copy_text())
        menu.exec(self.viewport().mapToGlobal(pos))


class _ValueBox(QGroupBox):
    """A titled value with a Copy button: a JSON tree, and a table when it holds rows."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.tree = JsonTree(self)
        self.table = DataTable(self)
        self.table.view.doubleClicked.connect(lambda index: self.show_row_in_tree(index.row()))
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.table)
        self.pages.addWidget(self.tree)
        self.table_button = self._switch("Table", "The list of objects as a sortable table")
        self.tree_button = self._switch("Tree", "The whole value as a JSON tree")
        self.table_button.clicked.connect(lambda: self.pages.setCurrentWidget(self.table))
        self.tree_button.clicked.connect(lambda: self.pages.setCurrentWidget(self.tree))
        self.pages.currentChanged.connect(self._sync_switch)
        self.copy_button = QPushButton("Copy", self)
        self.copy_button.setToolTip("Copy the whole value as JSON")
        self.copy_button.clicked.connect(lambda: self.tree.copy_text())
        self.found: FoundRows | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        top = QHBoxLayout()
        top.addWidget(self.table_button)
        top.addWidget(self.tree_button)
        top.addStretch(1)
        top.addWidget(self.copy_button)
        lay.addLayout(top)
        lay.addWidget(self.pages)

    def _switch(self, text: str, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setCheckable(True)
        button.setAutoRaise(True)
        return button

    def _sync_switch(self) -> None:
        on_table = self.pages.currentWidget() is self.table
        self.table_button.setChecked(on_table)
        self.tree_button.setChecked(not on_table)

    def set_value(self, value: Any) -> None:
        """Show ``value``: as a table first when it holds a list of objects, else a tree."""
        self.tree.set_value(value)
        self.found = find_rows(value)
        has_rows = self.found is not None
        self.table_button.setVisible(has_rows)
        self.tree_button.setVisible(has_rows)
        if self.found is not None:
            self.table.set_rows(self.found)
            self.pages.setCurrentWidget(self.table)
        else:
            self.pages.setCurrentWidget(self.tree)
        self._sync_switch()

    def show_row_in_tree(self, row: int) -> None:
        """Switch to the tree with table row ``row``'s object expanded and selected."""
        model = self.table.model
        self.pages.setCurrentWidget(self.tree)
        if self.found is None or model is None:
            return
        index = model.order[row]
        item = self.tree.invisibleRootItem()
        for key in self.found.path.split(".") if self.found.path else []:
            item = next((item.child(i) for i in range(item.childCount())
                         if item.child(i).text(0) == key), item)
            item.setExpanded(True)
        target = next((item.child(i) for i in range(item.childCount())
                       if item.child(i).text(0) == f"[{index}]"), None)
        if target is not None:
            target.setExpanded(True)
            self.tree.setCurrentItem(target)
            self.tree.scrollToItem(target)


class NodeRunView(QScrollArea):
    """The run details of the selected node (or a hint when there is nothing to show)."""

    #: Open child run was clicked: (the child's workflow file, its run id)
    childRunRequested = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        body = QWidget(self)
        lay = QVBoxLayout(body)
        lay.setContentsMargins(8, 8, 8, 8)
        self.header = QLabel(body)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.timings = QLabel(body)
        self.timings.setWordWrap(True)
        self.timings.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error = QLabel(body)
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setStyleSheet(f"color: {STATE_COLORS['error']}; font-weight: 600;")
        #: a sub-workflow node's link to its child run
        self.child_link = QLabel(body)
        self.child_link.setTextFormat(Qt.TextFormat.RichText)
        self.child_link.setWordWrap(True)
        self.child_link.linkActivated.connect(self._child_link_clicked)
        self.traceback_box = QGroupBox("Traceback", body)
        self.traceback = self._text(self.traceback_box)
        self.log_box = QGroupBox("Log (stderr)", body)
        self.log = self._text(self.log_box)
        self.log.setMaximumBlockCount(2000)
        self.inputs = _ValueBox("Inputs", body)
        self.outputs = _ValueBox("Output", body)
        for w in (self.header, self.timings, self.child_link, self.error, self.traceback_box,
                  self.log_box, self.outputs, self.inputs):
            lay.addWidget(w)
        lay.addStretch(1)
        self.setWidget(body)
        self.current: NodeView | None = None
        self._child = ("", "")
        self.show_view(None)

    @staticmethod
    def _text(box: QGroupBox) -> QPlainTextEdit:
        edit = QPlainTextEdit(box)
        edit.setReadOnly(True)
        edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        edit.setMinimumHeight(80)
        font = edit.font()
        font.setFamily("monospace")
        font.setStyleHint(font.StyleHint.Monospace)
        edit.setFont(font)
        lay = QVBoxLayout(box)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(edit)
        return edit

    def show_view(self, view: NodeView | None, hint: str = "") -> None:
        """Show one node's run data; None shows ``hint`` (or a default one)."""
        self.current = view
        has = view is not None
        for w in (self.timings, self.inputs, self.outputs, self.log_box):
            w.setVisible(has)
        if view is None:
            self.header.setText(hint or "Select a node to see its run: inputs, output, log, "
                                        "error and timings.")
            self.error.hide()
            self.traceback_box.hide()
            self.child_link.hide()
            return
        state = view.state or "pending"
        color = STATE_COLORS.get(state, "#888")
        label = STATE_LABELS.get(state, state)
        title = view.title if view.title and view.title != view.node_id else ""
        self.header.setText(
            f"<b>{view.node_id}</b> {('— ' + title) if title else ''}<br>"
            f"<span style='color:{color}; font-weight:600'>● {label}</span>"
            f"{f' · attempt {view.attempts}' if view.attempts > 1 else ''}"
            f" <span style='color:gray'>({view.source})</span>")
        dur = f"{view.duration_ms / 1000:.3f} s" if view.duration_ms is not None else "—"
        self.timings.setText(f"Started {view.started} · ended {view.ended} · took {dur}")
        self._show_child(view)
        self.error.setVisible(bool(view.error))
        self.error.setText(view.error or "")
        self.traceback_box.setVisible(bool(view.traceback))
        self.traceback.setPlainText(view.traceback or "")
        self.log.setPlainText("\n".join(view.log))
        self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())
        self.inputs.set_value(view.inputs)
        self.outputs.set_value(view.output)
        self.outputs.setTitle("Output" if state != "error" else "Output (none: it failed)")

    def _show_child(self, view: NodeView) -> None:
        child = view.details.get("subworkflow")
        ok = isinstance(child, dict) and isinstance(child.get("run_id"), str) and isinstance(
            child.get("file"), str)
        self.child_link.setVisible(ok)
        if ok:
            name = html.escape(Path(child["file"]).name)
            self.child_link.setText(f"Child run {child['run_id'][:8]} of {name} · "
                                    f"<a href='child'>Open child run</a>")
            self._child = (child["file"], child["run_id"])

    def _child_link_clicked(self, _href: str) -> None:
        self.childRunRequested.emit(*self._child)

    def append_log(self, node_id: str, lines: list[str]) -> None:
        """Live stderr lines of the shown node (others are ignored)."""
        if self.current is not None and self.current.node_id == node_id and lines:
            self.current.log.extend(lines)
            self.log.appendPlainText("\n".join(lines))

    def sync_log(self, node_id: str, lines: list[str]) -> None:
        """The shown node's whole live log is now `lines`: add only what is new.

        Log events reach the GUI a frame after the engine records them, so the view may
        have been built from a record that already holds the lines an event then brings;
        appending the event's lines blindly showed them twice.
        """
        cur = self.current
        if cur is None or cur.node_id != node_id or lines == cur.log:
            return
        n = len(cur.log)
        if len(lines) > n and lines[:n] == cur.log:
            self.append_log(node_id, lines[n:])
            return
        cur.log = list(lines)  # the bounded tail rolled over: show it afresh
        self.log.setPlainText("\n".join(lines))
        self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())


def state_icon(state: str | None) -> Any:
    """The badge icon of a node or run state (runs map onto node states)."""
    return icon(state_icon_name(state))
