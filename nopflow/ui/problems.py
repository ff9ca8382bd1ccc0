"""Live validation: the compiler runs shortly after each edit, off the GUI thread.

Edits restart a 300 ms timer; when it fires, an immutable snapshot of the workflow is
validated on a worker thread and the result comes back as a signal. Results from an older
snapshot than the newest request are dropped, so a slow check never overwrites a newer one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from nopflow.engine.compiler import Problem, validate
from nopflow.engine.credential_refs import CredentialCatalog
from nopflow.model import Workflow
from nopflow.storage.credentials import CredentialError, catalog
from nopflow.ui.theme import icon

DEBOUNCE_MS = 300
#: a list longer than this helps nobody and costs a visible stall to fill
MAX_ROWS = 500


class _Result(QObject):
    done = Signal(int, list)


def _catalog() -> CredentialCatalog | None:
    """The vault's names and types for validation (a broken list file: no credential check)."""
    try:
        return catalog()
    except CredentialError:
        return None


class _ValidateJob(QRunnable):
    def __init__(self, gen: int, wf: Workflow, project_dir: Path | None, out: _Result) -> None:
        super().__init__()
        self.gen, self.wf, self.project_dir, self.out = gen, wf, project_dir, out

    def run(self) -> None:
        try:
            problems = validate(self.wf, self.project_dir, credentials=_catalog())
        except Exception as exc:  # a validator bug must not kill the editor
            problems = [Problem(f"validation failed: {exc}", kind="internal")]
        self.out.done.emit(self.gen, problems)


class Validator(QObject):
    """Debounced background validation of a document snapshot."""

    problemsChanged = Signal(list)  # list[Problem]

    def __init__(
        self,
        snapshot: Callable[[], tuple[Workflow, Path | None]],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._snapshot = snapshot
        self._gen = 0
        self.problems: list[Problem] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.run_now)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._result = _Result(self)
        self._result.done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)

    def schedule(self) -> None:
        """Something changed: validate after a short pause."""
        self._timer.start()

    def run_now(self) -> None:
        """Validate the current snapshot on the worker thread."""
        self._timer.stop()
        self._gen += 1
        wf, project_dir = self._snapshot()
        self._pool.start(_ValidateJob(self._gen, wf, project_dir, self._result))

    def wait(self, ms: int = 5000) -> None:
        """Block until pending checks finished (tests and shutdown only)."""
        self._pool.waitForDone(ms)

    def _on_done(self, gen: int, problems: list[Problem]) -> None:
        if gen != self._gen:
            return  # a newer check is on its way
        self.problems = problems
        self.problemsChanged.emit(problems)


def by_node(
    problems: list[Problem], edge_nodes: Callable[[str], str | None]
) -> dict[str, list[str]]:
    """Problem messages grouped by node id (edge problems go to the edge's target node)."""
    out: dict[str, list[str]] = {}
    for p in problems:
        nid = p.node_id or (edge_nodes(p.edge_id) if p.edge_id else None)
        if nid:
            out.setdefault(nid, []).append(p.message)
    return out


class ProblemsPanel(QTreeWidget):
    """The problems list in the log dock; double-click a row to go to its node (or, for a
    credential that does not exist, to create it)."""

    nodeRequested = Signal(str)
    credentialRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderLabels(["Problem", "Node"])
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        # The message takes the width (a fixed 520 px left long messages cut off beside
        # an empty band on wide windows); the node id column fits its ids.
        head = self.header()
        head.setStretchLastSection(False)
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        head.setMinimumSectionSize(60)
        self.itemDoubleClicked.connect(self._open)

    def set_problems(self, problems: list[Problem], edge_nodes: Callable[[str], str | None]
                     ) -> None:
        """Show this list of problems (replaces the old one)."""
        self.clear()
        warn = icon("state-problem")
        for p in problems[:MAX_ROWS]:
            nid = p.node_id or (edge_nodes(p.edge_id) if p.edge_id else None)
            it = QTreeWidgetItem(self, [p.message, nid or ""])
            it.setIcon(0, warn)
            it.setToolTip(0, str(p))
            it.setData(0, Qt.ItemDataRole.UserRole, nid)
            if p.kind == "credential-missing" and p.subject:
                it.setData(1, Qt.ItemDataRole.UserRole, p.subject)
                it.setText(0, f"{p.message} — double-click to create it")
        if len(problems) > MAX_ROWS:
            QTreeWidgetItem(self, [f"… and {len(problems) - MAX_ROWS} more problems", ""])

    def _open(self, item: QTreeWidgetItem) -> None:
        missing = item.data(1, Qt.ItemDataRole.UserRole)
        if missing:
            self.credentialRequested.emit(missing)
            return
        nid = item.data(0, Qt.ItemDataRole.UserRole)
        if nid:
            self.nodeRequested.emit(nid)
