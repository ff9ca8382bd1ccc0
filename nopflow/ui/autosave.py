"""Autosave and crash recovery.

A few seconds after the last change the document is written to `autosave_dir()` (atomic,
in a worker thread so a big workflow never stalls typing). A clean close deletes the copy;
so a copy that is still there at start-up, newer than its file, means a crash — and the
window offers to recover it. Each copy records which file it belongs to (or none). A copy
that cannot be read back is renamed out of the way and reported, never fatal.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer

from nopflow.blocks import get_block
from nopflow.errors import NopflowError
from nopflow.model import Workflow, atomic_write_text, dump_workflow, workflow_from_document
from nopflow.model.fileio import decode_json_file
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


@dataclass
class SetAside:
    """A copy that could not be used: renamed out of the way (never deleted) and why."""

    path: Path
    moved_to: Path | None  # None: it could not even be renamed
    reason: str


class DamagedCopy(Exception):
    """An autosave copy that cannot be recovered; `str()` says why."""


def read_copy(path: Path) -> Recovery:
    """Parse one autosave copy; raise `DamagedCopy` when it is unusable."""
    try:
        data = path.read_bytes()
        doc = decode_json_file(data, str(path))
        if not isinstance(doc, dict) or doc.get("format") != AUTOSAVE_FORMAT:
            raise DamagedCopy("not an autosave copy of nopflow")
        file, saved_at = doc.get("file"), doc.get("saved_at", 0)
        if file is not None and not isinstance(file, str):
            raise DamagedCopy("its 'file' is not a path")
        if isinstance(saved_at, bool) or not isinstance(saved_at, (int, float)):
            raise DamagedCopy("its 'saved_at' is not a time")
        wf = workflow_from_document(doc.get("workflow"), str(path), blocks=get_block)
    except NopflowError as exc:
        raise DamagedCopy(str(exc).removeprefix(f"{path}: ")) from None
    except OSError as exc:
        raise DamagedCopy(f"cannot be read: {exc.strerror or exc}") from None
    except RecursionError:
        raise DamagedCopy("nested too deeply") from None
    return Recovery(path, file, float(saved_at), wf)


def set_aside(path: Path, reason: str) -> SetAside:
    """Rename an unusable copy beside itself (`….autosave.json.unusable-TIME`), so it is
    neither offered again nor lost."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(100):
        target = path.with_name(f"{path.name}.unusable-{stamp}" + (f"-{n}" if n else ""))
        if target.exists():
            continue
        try:
            os.rename(path, target)
        except OSError:
            return SetAside(path, None, reason)
        return SetAside(path, target, reason)
    return SetAside(path, None, reason)


def find_recovery(file: str | None) -> tuple[Recovery | None, list[SetAside]]:
    """The autosave of `file` if it is newer than the file; for no file, the newest untitled
    copy. Unusable copies met on the way are set aside and returned, for the user to be
    told. Reads one small folder; called once at start-up."""
    aside: list[SetAside] = []

    def usable(path: Path) -> Recovery | None:
        try:
            return read_copy(path)
        except DamagedCopy as exc:
            aside.append(set_aside(path, str(exc)))
            return None

    if file:
        path = autosave_path(file, "")
        rec = usable(path) if path.is_file() else None
        if rec is None:
            return None, aside
        try:
            if os.path.getmtime(file) >= rec.saved_at:
                return None, aside  # the file was saved after the copy
        except OSError:
            pass
        return rec, aside
    best: Recovery | None = None
    for path in autosave_dir().glob("untitled-*.autosave.json"):
        rec = usable(path)
        if rec is not None and (best is None or rec.saved_at > best.saved_at):
            best = rec
    return best, aside
