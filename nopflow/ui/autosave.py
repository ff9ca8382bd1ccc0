"""Autosave and crash recovery.

A few seconds after the last change the document is written to `autosave_dir()` (atomic,
in a worker thread so a big workflow never stalls typing). A clean close deletes the copy;
so a copy that is still there at start-up, newer than its file, means a crash — and the
window offers to recover it. Each copy records which file it belongs to (or none).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer

from nopflow.errors import NopflowError
from nopflow.model import Workflow, atomic_write_text, dump_workflow, workflow_from_document
from nopflow.storage.locations import autosave_dir

DELAY_MS = 3000
AUTOSAVE_FORMAT = "nopflow/autosave"


def autosave_path(file: str | None, workflow_id: str) -> Path:
    """Where the copy of this document goes: keyed by its file, or by id when unsaved."""
    if file:
        key = hashlib.sha1(os.path.abspath(file).encode("utf-8")).hexdigest()[:16]
    else:
        key = "untitled-" + "".join(c for c in workflow_id if c.isalnum())[:32]
    return autosave_dir() / f"{key}.autosave.json"


def _wrap(file: str | None, wf_text: str) -> str:
    """The copy: who it belongs to and when, around the workflow's own file text."""
    head = json.dumps({"format": AUTOSAVE_FORMAT, "file": file, "saved_at": time.time()})
    return head[:-1] + ',\n"workflow": ' + wf_text + "}\n"


class _WriteJob(QRunnable):
    """Serialize and write on a worker: the snapshot is immutable (edits replace models)."""

    def __init__(self, path: Path, file: str | None, wf: Workflow) -> None:
        super().__init__()
        self.path, self.file, self.wf = path, file, wf

    def run(self) -> None:
        try:
            atomic_write_text(self.path, _wrap(self.file, dump_workflow(self.wf).rstrip()))
        except (OSError, ValueError):
            pass  # autosave is best effort; the real save reports disk errors


class Autosaver(QObject):
    """Debounced autosave of one window's document."""

    def __init__(self, snapshot, parent: QObject | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self._snapshot = snapshot  # () -> (file, Workflow)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DELAY_MS)
        self._timer.timeout.connect(self.save_now)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # writes stay in order
        self.path: Path | None = None

    def schedule(self) -> None:
        """A change happened: write a copy a few seconds after the last one."""
        self._timer.start()

    def save_now(self) -> Path:
        """Snapshot on this thread, serialize and write on the pool; returns the copy's path."""
        file, wf = self._snapshot()
        path = autosave_path(file, wf.id)
        if self.path is not None and self.path != path:
            self.discard()  # the document was saved under a new name
        self.path = path
        self.pool.start(_WriteJob(path, file, wf))
        return path

    def discard(self) -> None:
        """Clean close or successful save: the copy is not needed any more."""
        self._timer.stop()
        self.pool.waitForDone(2000)
        if self.path is not None:
            try:
                self.path.unlink()
            except OSError:
                pass
        self.path = None


@dataclass
class Recovery:
    """An autosaved copy found at start-up."""

    path: Path
    file: str | None
    saved_at: float
    workflow: Workflow


def read_copy(path: Path) -> Recovery | None:
    """Parse one autosave copy; None if it is unreadable (it is then left alone)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != AUTOSAVE_FORMAT:
            return None
        wf = workflow_from_document(data["workflow"], str(path))
        return Recovery(path, data.get("file"), float(data.get("saved_at", 0)), wf)
    except (OSError, ValueError, KeyError, TypeError, NopflowError):
        return None


def find_recovery(file: str | None) -> Recovery | None:
    """The autosave of `file` if it is newer than the file; for no file, the newest untitled
    copy. Reads one small folder; called once at start-up."""
    folder = autosave_dir()
    if file:
        path = autosave_path(file, "")
        if not path.is_file():
            return None
        rec = read_copy(path)
        if rec is None:
            return None
        try:
            if os.path.getmtime(file) >= rec.saved_at:
                return None  # the file was saved after the copy
        except OSError:
            pass
        return rec
    best: Recovery | None = None
    for path in folder.glob("untitled-*.autosave.json"):
        rec = read_copy(path)
        if rec is not None and (best is None or rec.saved_at > best.saved_at):
            best = rec
    return best
