"""The History dock: the kept runs of this workflow (docs/history.md), newest first.

Each row shows the run's status icon, start time, duration and how many nodes succeeded
or failed. Selecting a row emits `runSelected` (the controller recolours the canvas to
that run and shows its per-node records); "Back to live" emits `liveRequested`.

Why a worker thread: the history file is shared with `nopflow run` (a CLI run appears
here too) and guarded by a file lock, so reading can block behind another process;
parsing five runs of a thousand nodes is not free either. Reads, exports and deletes run
on Qt's thread pool and report back through a queued signal; the GUI thread only builds
rows. A generation counter drops answers that a newer refresh has overtaken.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nopflow.model import atomic_write_text
from nopflow.storage.history import HistoryStore, RunRecord
from nopflow.ui.live.errors import guarded
from nopflow.ui.live.node_run_view import state_icon

log = logging.getLogger(__name__)

_RUN_ROLE = Qt.ItemDataRole.UserRole


def ask_export_path(parent: QWidget | None, suggestion: str) -> str | None:
    """Where to export a run as JSON (tests replace this)."""
    path, _ = QFileDialog.getSaveFileName(parent, "Export run as JSON", suggestion,
                                          "JSON files (*.json);;All files (*)")
    return path or None


def export_run(record: RunRecord, path: str) -> None:
    """Write one kept run as pretty JSON, atomically (temp + fsync + replace)."""
    text = json.dumps(record.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n"
    atomic_write_text(Path(path), text)


def fmt_start(iso_text: str | None) -> str:
    """A kept run's start time in local time for people (``2026-11-21 14:03:07``)."""
    if not iso_text:
        return "—"
    try:
        dt = datetime.fromisoformat(iso_text.replace("Z", "+00:00")).astimezone()
    except ValueError:
        return iso_text
    return dt.strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(ms: int | None) -> str:
    """Milliseconds for people: ``850 ms``, ``2.4 s``, ``3 min 05 s``."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms // 60_000} min {(ms // 1000) % 60:02d} s"


def counts(record: RunRecord) -> tuple[int, int]:
    """(nodes that succeeded, nodes that failed) in a kept run."""
    ok = failed = 0
    for n in record.nodes.values():
        if n.status == "success":
            ok += 1
        elif n.status == "error":
            failed += 1
    return ok, failed


class _Done(QObject):
    done = Signal(object, object, object)  # callback, result, error


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], callback: Callable[[Any, Exception | None], None],
                 out: _Done) -> None:
        super().__init__()
        self.fn, self.callback, self.out = fn, callback, out

    def run(self) -> None:
        try:
            result, error = self.fn(), None
        except Exception as exc:  # reported on the GUI thread
            result, error = None, exc
        self.out.done.emit(self.callback, result, error)


class HistoryPanel(QWidget):
    """List of kept runs with export, delete and back-to-live."""

    runSelected = Signal(object)  # RunRecord
    liveRequested = Signal()
    #: a refresh finished (tests and the benchmark wait for it)
    loaded = Signal(int)
    #: a one-line message for the status bar
    message = Signal(str)

    def __init__(self, store_factory: Callable[[], HistoryStore] = HistoryStore,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store_factory = store_factory
        self.workflow_id: str | None = None
        self.runs: list[RunRecord] = []
        self._gen = 0
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # in order: a delete is seen by the next refresh
        self._done = _Done(self)
        self._done.done.connect(self._finish_job)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["Started", "Duration", "Nodes"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.itemSelectionChanged.connect(self._on_select)
        self.live_button = QPushButton("Back to live", self)
        self.live_button.setToolTip("Show the current run (or the workflow as it is) again")
        self.live_button.clicked.connect(self.back_to_live)
        self.export_button = QPushButton("Export…", self)
        self.export_button.clicked.connect(self.export_selected)
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.clicked.connect(self.delete_selected)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.clicked.connect(self.refresh)
        self.hint = QLabel("No runs kept yet: press Run (F5).", self)
        self.hint.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.hint)
        lay.addWidget(self.tree)
        row = QHBoxLayout()
        for b in (self.live_button, self.export_button, self.delete_button, self.refresh_button):
            row.addWidget(b)
        lay.addLayout(row)
        self._update_buttons()

    # ------------------------------------------------------------------ loading

    def set_workflow(self, workflow_id: str | None) -> None:
        """Follow another workflow (its runs are loaded in the background)."""
        if workflow_id != self.workflow_id:
            self.workflow_id = workflow_id
            self.runs = []
            self.tree.clear()
            self.refresh()

    def _submit(self, fn: Callable[[], Any], callback: Callable[[Any, Exception | None], None],
                ) -> None:
        self._pool.start(_Job(fn, callback, self._done))

    def refresh(self) -> None:
        """Reload the kept runs off the GUI thread; `loaded` is emitted when they are shown."""
        self._gen += 1
        gen, wid = self._gen, self.workflow_id
        if wid is None:
            self._show([], gen)
            return
        store = self.store_factory()
        self._submit(lambda: store.list_runs(wid),
                     lambda runs, err: self._loaded(gen, runs, err))

    @guarded("history panel")
    def _finish_job(self, callback: Any, result: Any, error: Any) -> None:
        callback(result, error)

    def _loaded(self, gen: int, runs: list[RunRecord] | None, error: Exception | None) -> None:
        if gen != self._gen:
            return  # a newer refresh is on its way
        if error is not None:
            self.message.emit(f"Could not read run history: {error}")
            runs = []
        self._show(runs or [], gen)

    def _show(self, runs: list[RunRecord], gen: int) -> None:
        selected = self.selected_run()
        keep = selected.run_id if selected is not None else None
        self.runs = runs
        self.tree.blockSignals(True)
        self.tree.clear()
        reselect: QTreeWidgetItem | None = None
        for rec in runs:
            ok, failed = counts(rec)
            nodes = f"{ok} ok" + (f", {failed} failed" if failed else "")
            item = QTreeWidgetItem([fmt_start(rec.started_at), fmt_duration(rec.duration_ms),
                                    nodes])
            item.setIcon(0, state_icon(rec.status))
            item.setToolTip(0, f"{rec.status} · run {rec.run_id}"
                               + (f"\n{rec.error}" if rec.error else ""))
            item.setData(0, _RUN_ROLE, rec.run_id)
            self.tree.addTopLevelItem(item)
            if rec.run_id == keep:
                reselect = item
        if reselect is not None:
            reselect.setSelected(True)
        self.tree.blockSignals(False)
        if keep is not None and reselect is None:
            self.liveRequested.emit()  # the run shown on the canvas is gone
        for col in range(3):
            self.tree.resizeColumnToContents(col)
        self.hint.setVisible(not runs)
        self._update_buttons()
        self.loaded.emit(len(runs))

    # ------------------------------------------------------------------ selection

    def selected_run(self) -> RunRecord | None:
        """The kept run selected in the list, if any."""
        items = self.tree.selectedItems()
        if not items:
            return None
        rid = items[0].data(0, _RUN_ROLE)
        return next((r for r in self.runs if r.run_id == rid), None)

    def select_run(self, index: int) -> None:
        """Select the ``index``-th run (0 = newest), as a click would."""
        item = self.tree.topLevelItem(index)
        if item is not None:
            self.tree.setCurrentItem(item)

    @guarded("history panel")
    def _on_select(self) -> None:
        self._update_buttons()
        rec = self.selected_run()
        if rec is not None:
            self.runSelected.emit(rec)

    def back_to_live(self) -> None:
        """Leave the past run: clear the selection and ask for the live state."""
        self.tree.blockSignals(True)
        self.tree.clearSelection()
        self.tree.blockSignals(False)
        self._update_buttons()
        self.liveRequested.emit()

    def _update_buttons(self) -> None:
        has = bool(self.tree.selectedItems())
        self.export_button.setEnabled(has)
        self.delete_button.setEnabled(has)
        self.live_button.setEnabled(has)

    # ------------------------------------------------------------------ actions

    @guarded("history export")
    def export_selected(self) -> None:
        """Export the selected run as JSON (asks where; written atomically off-thread)."""
        rec = self.selected_run()
        if rec is None:
            return
        stamp = (rec.started_at or "run").replace(":", "").replace("-", "")[:15]
        name = f"{rec.workflow_name or 'workflow'}-run-{stamp}.json".replace("/", "_")
        path = ask_export_path(self, str(Path.home() / name))
        if not path:
            return

        def done(_r: Any, err: Exception | None) -> None:
            self.message.emit(f"Could not export the run: {err}" if err
                              else f"Exported run to {path}")

        self._submit(lambda: export_run(rec, path), done)

    @guarded("history delete")
    def delete_selected(self) -> None:
        """Forget the selected run (the canvas goes back to live)."""
        rec = self.selected_run()
        if rec is None:
            return
        store = self.store_factory()
        wid = rec.workflow_id

        def done(found: Any, err: Exception | None) -> None:
            if err is not None:
                self.message.emit(f"Could not delete the run: {err}")
            elif found:
                self.message.emit("Deleted the run from history")
            self.refresh()

        self.back_to_live()
        self._submit(lambda: store.delete_run(rec.run_id, wid), done)
