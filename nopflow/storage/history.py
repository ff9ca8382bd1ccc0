"""Run history (DESIGN.md §7): the five most recent runs of each workflow, as JSON.

File: ``<data dir>/history/<workflow-id>.json``::

    {"format": "nopflow/history", "version": 1, "workflow_id": "…", "workflow_name": "…",
     "runs": [<run record>, …]}                      # newest first, at most five

A run record holds the run id, workflow id and name, ISO 8601 UTC start/end, duration,
status, run inputs, outputs and per node the one node-record shape
(`nopflow.model.records.NodeRecordData`): status, attempts (count and one entry per
attempt), start/end, duration, inputs, output, error message/type, stderr tail, traceback,
source. Records written before that shape had ``source`` (they read as ``"ran"``) open too.

Why it is built this way:

* Secrets never reach disk: inputs marked ``secret`` are stored as ``"***"`` and the
  run's `Redactor` (nopflow.model.redact) hides secret values everywhere else in the
  record (node inputs, outputs, errors, logs, tracebacks), before anything is truncated.
* Writes are atomic (temp + fsync + replace) and serialised between processes by a lock
  on the history folder, and each write merges with what is on disk, so two `nopflow run`s
  of the same workflow finishing together both keep their run.
* A corrupt file is renamed aside (``<id>.corrupt-<timestamp>.json``) with a warning
  instead of crashing the app or silently dropping it.
* Huge node outputs are truncated (with a marker) so one run cannot bloat the file.

This module does not import the engine (storage sits below it); it reads a finished run
through the attributes `Run` exposes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nopflow.model import atomic_write_text, strict_json
from nopflow.model.records import NodeRecordData, iso
from nopflow.storage import locations

if TYPE_CHECKING:
    import asyncio

    from nopflow.engine.runner import Run

log = logging.getLogger(__name__)

HISTORY_FORMAT = "nopflow/history"
HISTORY_VERSION = 1
#: Runs kept per workflow.
KEEP_RUNS = 5
#: Node inputs/outputs whose JSON is larger than this are replaced by a truncation marker.
MAX_VALUE_BYTES = 256 * 1024
#: How much of a truncated value is kept as a preview.
PREVIEW_CHARS = 4096
#: Longest stderr tail / traceback kept.
MAX_TEXT_CHARS = 64 * 1024


@dataclass
class RunRecord:
    """A kept run, as the history panel and `nopflow history` show it."""

    run_id: str
    workflow_id: str
    workflow_name: str
    status: str
    started_at: str | None = None
    ended_at: str | None = None
    duration_ms: int | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: Any = field(default_factory=dict)
    error: str | None = None
    nodes: dict[str, NodeRecordData] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "workflow_id": self.workflow_id,
            "workflow_name": self.workflow_name,
            "status": self.status,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_ms": self.duration_ms,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "error": self.error,
            "nodes": {nid: n.to_dict() for nid, n in self.nodes.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        nodes = data.get("nodes") or {}
        return cls(
            run_id=str(data["run_id"]),
            workflow_id=str(data.get("workflow_id", "")),
            workflow_name=str(data.get("workflow_name", "")),
            status=str(data.get("status", "")),
            started_at=data.get("started_at"),
            ended_at=data.get("ended_at"),
            duration_ms=data.get("duration_ms"),
            inputs=data.get("inputs") or {},
            outputs=data.get("outputs") if data.get("outputs") is not None else {},
            error=data.get("error"),
            nodes={
                str(nid): NodeRecordData.from_dict(n, str(nid))
                for nid, n in nodes.items()
                if isinstance(n, dict)
            },
        )

    @classmethod
    def from_run(cls, run: Run) -> RunRecord:
        """Snapshot a finished run: JSON-safe, secrets redacted, big values truncated."""
        wf = run.workflow
        red = run.redactor
        inputs = {name: _capped(value) for name, value in run.public_inputs().items()}
        nodes: dict[str, NodeRecordData] = {}
        for nid, rec in run.nodes.items():
            data = rec.to_data().redacted(red)  # redacted before anything is truncated
            nodes[nid] = replace(
                data,
                inputs=_capped(data.inputs),
                output=_capped(data.output),
                stderr_tail=_tail(data.stderr_tail),
                traceback=_tail(data.traceback),
                details=_capped(data.details),
            )
        return cls(
            run_id=run.id,
            workflow_id=wf.id,
            workflow_name=wf.name,
            status=run.state.value,
            started_at=iso(run.started_at),
            ended_at=iso(run.ended_at),
            duration_ms=run.duration_ms,
            inputs=inputs,
            outputs=_capped(red.value(run.outputs)),
            error=red.text(run.error),
            nodes=nodes,
        )


# ---------------------------------------------------------------------- value hygiene


def _capped(value: Any) -> Any:
    """A JSON-safe copy of ``value``, or a truncation marker when it is too big."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return strict_json.safe(value)
    text = strict_json.dumps(value, default=str)  # strict: no NaN, no lone surrogates
    size = len(text.encode("utf-8"))
    if size > MAX_VALUE_BYTES:
        return {
            "truncated": True,
            "size_bytes": size,
            "note": f"value of {size} bytes truncated (limit {MAX_VALUE_BYTES})",
            "preview": text[:PREVIEW_CHARS],
        }
    return json.loads(text)


def _tail(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_TEXT_CHARS:
        return text
    return "…[truncated]\n" + text[-MAX_TEXT_CHARS:]


# ---------------------------------------------------------------------- the store


@contextlib.contextmanager
def _dir_lock(folder: Path) -> Iterator[None]:
    """An exclusive inter-process lock on the history folder.

    POSIX: `flock` on the folder itself, so no lock files litter the history folder.
    Windows: a `.lock` file in the folder, locked with msvcrt.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if sys.platform == "win32":
        import msvcrt

        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            try:
                yield
            finally:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        finally:
            os.close(fd)
        return
    import fcntl

    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class HistoryStore:
    """Reads and writes `history/<workflow-id>.json` files.

    ``root`` defaults to the data dir's history folder (re-read on each call so
    `NOPFLOW_DATA_DIR` changes apply). ``warnings`` collects what was set aside.
    """

    def __init__(self, root: Path | str | None = None, keep: int = KEEP_RUNS) -> None:
        self._root = Path(root) if root is not None else None
        self.keep = keep
        self.warnings: list[str] = []

    @property
    def root(self) -> Path:
        if self._root is not None:
            self._root.mkdir(parents=True, exist_ok=True)
            return self._root
        return locations.history_dir()

    def path_for(self, workflow_id: str) -> Path:
        return self.root / f"{locations.safe_name(workflow_id, 'unnamed')}.json"

    # -- reading -------------------------------------------------------------------

    def list_runs(self, workflow_id: str) -> list[RunRecord]:
        """The kept runs of a workflow, newest first (empty when there are none)."""
        path = self.path_for(workflow_id)
        if not path.exists():
            return []
        with _dir_lock(path.parent):
            runs = self._load(path)
        return [RunRecord.from_dict(r) for r in runs]

    def get_run(self, run_id: str, workflow_id: str | None = None) -> RunRecord | None:
        """One kept run by id (searching every workflow's file without ``workflow_id``)."""
        paths = [self.path_for(workflow_id)] if workflow_id else sorted(
            p for p in self.root.glob("*.json") if ".corrupt-" not in p.name
        )
        for path in paths:
            if not path.exists():
                continue
            with _dir_lock(path.parent):
                runs = self._load(path)
            for r in runs:
                if r.get("run_id") == run_id:
                    return RunRecord.from_dict(r)
        return None

    # -- writing -------------------------------------------------------------------

    def record(self, run: Run | RunRecord) -> RunRecord:
        """Add a finished run (keeping the newest ``keep``); returns what was stored."""
        record = run if isinstance(run, RunRecord) else RunRecord.from_run(run)
        path = self.path_for(record.workflow_id)
        with _dir_lock(path.parent):
            runs = [r for r in self._load(path) if r.get("run_id") != record.run_id]
            runs.insert(0, record.to_dict())  # first, so it wins ties in the stable sort
            runs.sort(key=lambda r: str(r.get("started_at") or ""), reverse=True)
            self._save(path, record.workflow_id, record.workflow_name, runs[: self.keep])
        return record

    def delete_run(self, run_id: str, workflow_id: str | None = None) -> bool:
        """Forget one run; True if it was there."""
        found = self.get_run(run_id, workflow_id)
        if found is None:
            return False
        path = self.path_for(found.workflow_id)
        with _dir_lock(path.parent):
            runs = self._load(path)
            kept = [r for r in runs if r.get("run_id") != run_id]
            if len(kept) == len(runs):
                return False
            self._save(path, found.workflow_id, found.workflow_name, kept)
        return True

    # -- file handling -------------------------------------------------------------

    def _load(self, path: Path) -> list[dict[str, Any]]:
        """The runs in ``path`` (caller holds the lock); a bad file is set aside."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            self._set_aside(path, f"unreadable ({exc})")
            return []
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            self._set_aside(path, f"not valid JSON ({exc})")
            return []
        runs = doc.get("runs") if isinstance(doc, dict) else None
        if not isinstance(runs, list) or not all(
            isinstance(r, dict) and isinstance(r.get("run_id"), str) for r in runs
        ):
            self._set_aside(path, "not a nopflow history file")
            return []
        return runs

    def _save(self, path: Path, workflow_id: str, name: str, runs: list[dict[str, Any]]) -> None:
        doc = {
            "format": HISTORY_FORMAT,
            "version": HISTORY_VERSION,
            "workflow_id": workflow_id,
            "workflow_name": name,
            "runs": runs,
        }
        atomic_write_text(path, strict_json.dumps(doc, indent=1, default=str) + "\n")

    def _set_aside(self, path: Path, why: str) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        target = path.with_name(f"{path.stem}.corrupt-{stamp}.json")
        try:
            os.replace(path, target)
            message = f"run history {path} is {why}; moved it aside to {target.name}"
        except OSError as exc:
            message = f"run history {path} is {why} and could not be moved aside: {exc}"
        log.warning("%s", message)
        self.warnings.append(message)


class HistoryRecorder:
    """Subscribes to a run and stores it in history when it finishes (in a worker thread).

    Writing happens off the event loop so a slow disk never stalls the GUI; ``await
    recorder.wait()`` before exiting makes sure the record is on disk.
    """

    def __init__(self, run: Run, store: HistoryStore | None = None) -> None:
        self.run = run
        self.store = store or HistoryStore()
        self.record: RunRecord | None = None
        self.error: str | None = None
        self._future: asyncio.Future[Any] | None = None
        self._unsubscribe = run.events.subscribe(self._on_event)

    def _on_event(self, event: Any) -> None:
        if getattr(event, "kind", None) != "run_finished":
            return
        import asyncio

        self._unsubscribe()
        snapshot = RunRecord.from_run(self.run)  # on the loop: the run must not change
        self._future = asyncio.get_running_loop().run_in_executor(
            None, self.store.record, snapshot
        )

    async def wait(self) -> RunRecord | None:
        """Wait for the write; failures are logged and kept in ``error``, never raised."""
        if self._future is None:
            return None
        try:
            self.record = await self._future
        except Exception as exc:
            self.error = f"could not save run history: {exc}"
            log.warning("%s", self.error)
        return self.record
