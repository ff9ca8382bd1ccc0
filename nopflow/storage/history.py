"""Run history (docs/history.md): the five most recent runs of each workflow, as JSON.

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
import dataclasses
import functools
import json
import logging
import os
import sys
import threading
import time
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nopflow.model import atomic_write_text, liveness, strict_json
from nopflow.model.records import NodeRecordData, iso
from nopflow.storage import locations

if TYPE_CHECKING:
    import asyncio

    from nopflow.engine.runner import Run

log = logging.getLogger(__name__)

HISTORY_FORMAT = "nopflow/history"
HISTORY_VERSION = 1
#: The status a run gets when its process died before it finished.
INTERRUPTED = "interrupted"
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
    #: the workflow file the run was started from (absolute), when known
    workflow_file: str | None = None
    #: while running: the process doing it (`liveness.this_process()`); a record whose
    #: owner died before finishing it reads as `interrupted`
    owner: dict[str, Any] | None = None
    #: a sub-workflow's run: the parent run and node that ran it
    #: (``{"run_id", "workflow_id", "node_id"}``)
    parent: dict[str, Any] | None = None
    #: what started the run (`$trigger`, docs/triggers.md); `{"type": "manual"}` by hand
    trigger: dict[str, Any] = field(default_factory=lambda: {"type": "manual"})

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
            "workflow_file": self.workflow_file,
            "owner": self.owner,
            "parent": self.parent,
            "trigger": self.trigger,
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
            workflow_file=data.get("workflow_file"),
            owner=data.get("owner"),
            parent=data.get("parent"),
            trigger=data.get("trigger") if isinstance(data.get("trigger"), dict)
            else {"type": "manual"},
        )

    @classmethod
    def from_run(cls, run: Run, workflow_file: str | None = None) -> RunRecord:
        """Snapshot a run: JSON-safe, secrets redacted, big values truncated.

        Taken when the run starts too (status ``running``, with this process as owner).
        """
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
            workflow_file=workflow_file,
            owner=None if run.state.finished else liveness.this_process(),
            parent=run.parent.to_dict() if run.parent is not None else None,
            trigger=_capped(red.value(run.trigger)),
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


# ---------------------------------------------------------------------- record checks


def _fits(value: Any, hint: Any) -> bool:
    """Whether a stored JSON value can stand for a field annotated ``hint``."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    base = origin or hint
    if base in (int, float):
        return isinstance(value, int | float) and not isinstance(value, bool) and (
            base is float or isinstance(value, int))
    if base in (list, tuple):
        return isinstance(value, list)
    if base in (str, bool, dict):
        return isinstance(value, base)
    return True


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in typing.get_type_hints(cls).items() if k in names}


def _problem(record: Any) -> str | None:
    """Why a stored run record cannot be shown, or None when it is sound."""
    if not isinstance(record, dict):
        return f"a record is {type(record).__name__}, not an object"
    if not isinstance(record.get("run_id"), str):
        return "a record has no run_id"
    for name, hint in _hints(RunRecord).items():
        if name == "nodes":
            continue
        if name in record and not _fits(record[name], hint):
            return f"run {record['run_id']}: {name} is {type(record[name]).__name__}"
    nodes = record.get("nodes", {})
    if not isinstance(nodes, dict):
        return f"run {record['run_id']}: nodes is {type(nodes).__name__}"
    for nid, node in nodes.items():
        if not isinstance(node, dict):
            return f"run {record['run_id']}: node {nid} is {type(node).__name__}"
        for name, hint in _hints(NodeRecordData).items():
            if name in node and not _fits(node[name], hint):
                return f"run {record['run_id']}: node {nid}: {name} is {type(node[name]).__name__}"
    return None


def _settled(record: dict[str, Any]) -> dict[str, Any]:
    """A `running` record whose process died reads as `interrupted`."""
    if record.get("status") not in ("running", "paused") or liveness.owner_alive(
            record.get("owner")):
        return record
    return {**record, "status": INTERRUPTED, "owner": None,
            "error": record.get("error") or "nopflow stopped before the run finished "
                                              "(killed, crashed or the machine went down)"}


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
        """`history/<id>.json`, the id encoded reversibly (`locations.id_file_name`)."""
        return self.root / f"{locations.id_file_name(workflow_id)}.json"

    def _legacy_path(self, workflow_id: str) -> Path | None:
        """Where nopflow before the reversible names kept this id's runs, if elsewhere."""
        old = self.root / f"{locations.safe_name(workflow_id, 'unnamed')}.json"
        return old if old != self.path_for(workflow_id) and old.exists() else None

    # -- reading -------------------------------------------------------------------

    def list_runs(self, workflow_id: str) -> list[RunRecord]:
        """The kept runs of a workflow, newest first (empty when there are none)."""
        path = self.path_for(workflow_id)
        legacy = self._legacy_path(workflow_id)
        if not path.exists() and legacy is None:
            return []
        with _dir_lock(path.parent):
            runs = self._runs_of(workflow_id, path, legacy)
        return [RunRecord.from_dict(_settled(r)) for r in runs[: self.keep]]

    def get_run(self, run_id: str, workflow_id: str | None = None) -> RunRecord | None:
        """One kept run by id (searching every workflow's file without ``workflow_id``)."""
        if workflow_id is not None:
            return next((r for r in self.list_runs(workflow_id) if r.run_id == run_id), None)
        paths = sorted(p for p in self.root.glob("*.json") if _is_history_name(p.name))
        for path in paths:
            if not path.exists():
                continue
            with _dir_lock(path.parent):
                runs, _newer = self._load(path)
            for r in runs:
                if r.get("run_id") == run_id:
                    return RunRecord.from_dict(_settled(r))
        return None

    def _runs_of(self, workflow_id: str, path: Path, legacy: Path | None,
                 foreign: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """This id's runs from its file and an old-style file (caller holds the lock).

        Runs of other ids (an old-style file shared by ids that differ in punctuation)
        go to ``foreign``: they stay until their own workflow moves them out.
        """
        runs = []
        for r in self._load(path)[0]:
            if r.get("workflow_id", workflow_id) == workflow_id:
                runs.append(r)
            elif foreign is not None:
                foreign.append(r)
        if legacy is not None:
            seen = {r.get("run_id") for r in runs}
            runs += [r for r in self._load(legacy)[0]
                     if r.get("workflow_id") == workflow_id and r.get("run_id") not in seen]
            runs.sort(key=lambda r: str(r.get("started_at") or ""), reverse=True)
        return runs

    # -- writing -------------------------------------------------------------------

    def record(self, run: Run | RunRecord) -> RunRecord:
        """Add or update a run (keeping the newest ``keep``); returns what was stored.

        A file written by a newer nopflow is left as it is: the run is not kept there,
        with a warning.
        """
        record = run if isinstance(run, RunRecord) else RunRecord.from_run(run)
        path = self.path_for(record.workflow_id)
        with _dir_lock(path.parent):
            _runs, newer = self._load(path)
            if newer is not None:
                self._warn(f"run history {path} was written by a newer nopflow (history "
                           f"version {newer}); run {record.run_id} was not kept there")
                return record
            legacy = self._legacy_path(record.workflow_id)
            foreign: list[dict[str, Any]] = []
            runs = [_settled(r) for r in self._runs_of(record.workflow_id, path, legacy, foreign)
                    if r.get("run_id") != record.run_id]
            runs.insert(0, record.to_dict())  # first, so it wins ties in the stable sort
            runs.sort(key=lambda r: str(r.get("started_at") or ""), reverse=True)
            self._save(path, record.workflow_id, record.workflow_name,
                       runs[: self.keep] + foreign)
            if legacy is not None:
                self._forget_legacy(legacy, record.workflow_id)
        return record

    def delete_run(self, run_id: str, workflow_id: str | None = None) -> bool:
        """Forget one run; True if it was there."""
        found = self.get_run(run_id, workflow_id)
        if found is None:
            return False
        path = self.path_for(found.workflow_id)
        with _dir_lock(path.parent):
            runs, newer = self._load(path)
            kept = [r for r in runs if r.get("run_id") != run_id]
            if len(kept) == len(runs) or newer is not None:
                return False
            self._save(path, found.workflow_id, found.workflow_name, kept)
        return True

    # -- file handling -------------------------------------------------------------

    def _load(self, path: Path) -> tuple[list[dict[str, Any]], int | None]:
        """The sound runs in ``path`` and, for a newer nopflow's file, its version.

        Caller holds the lock. A file that is no history at all is set aside; records
        that fail the checks are moved to a side file (never in a newer version's file,
        which is not touched).
        """
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return [], None
        except (OSError, UnicodeDecodeError) as exc:
            self._set_aside(path, f"unreadable ({exc})")
            return [], None
        try:
            doc = strict_json.loads(text)
        except ValueError as exc:
            self._set_aside(path, f"not valid JSON ({exc})")
            return [], None
        runs = doc.get("runs") if isinstance(doc, dict) else None
        if not isinstance(runs, list):
            self._set_aside(path, "not a nopflow history file")
            return [], None
        version = doc.get("version")
        newer = version if isinstance(version, int) and version > HISTORY_VERSION else None
        good, bad = [], []
        for r in runs:
            why = _problem(r)
            (bad if why else good).append((r, why))
        if bad and newer is None:
            self._set_records_aside(path, doc, good, bad)
        return [r for r, _ in good], newer

    def _save(self, path: Path, workflow_id: str, name: str, runs: list[dict[str, Any]]) -> None:
        doc = {
            "format": HISTORY_FORMAT,
            "version": HISTORY_VERSION,
            "workflow_id": workflow_id,
            "workflow_name": name,
            "runs": runs,
        }
        atomic_write_text(path, strict_json.dumps(doc, indent=1, default=str) + "\n")

    def _forget_legacy(self, legacy: Path, workflow_id: str) -> None:
        """Drop an id's runs from its old-style file once they live in the new one."""
        runs, newer = self._load(legacy)
        if newer is not None:
            return
        rest = [r for r in runs if r.get("workflow_id") != workflow_id]
        if not rest:
            legacy.unlink(missing_ok=True)
        elif len(rest) != len(runs):
            first = rest[0]
            self._save(legacy, str(first.get("workflow_id", "")),
                       str(first.get("workflow_name", "")), rest)

    def _set_records_aside(self, path: Path, doc: dict[str, Any],
                           good: list[tuple[Any, str | None]],
                           bad: list[tuple[Any, str | None]]) -> None:
        target = path.with_name(f"{path.stem}.invalid-{_stamp()}.json")
        try:
            atomic_write_text(target, strict_json.dumps(
                {**doc, "runs": [r for r, _ in bad]}, indent=1, default=str) + "\n")
            self._save(path, str(doc.get("workflow_id", "")), str(doc.get("workflow_name", "")),
                       [r for r, _ in good])
            where = f"moved {'it' if len(bad) == 1 else 'them'} to {target.name}"
        except OSError as exc:
            where = f"could not move them aside: {exc}"
        reasons = "; ".join(str(why) for _, why in bad[:3])
        self._warn(f"run history {path}: {len(bad)} record{'s' if len(bad) != 1 else ''} "
                   f"not readable ({reasons}); {where}")

    def _set_aside(self, path: Path, why: str) -> None:
        target = path.with_name(f"{path.stem}.corrupt-{_stamp()}.json")
        try:
            os.replace(path, target)
            message = f"run history {path} is {why}; moved it aside to {target.name}"
        except OSError as exc:
            message = f"run history {path} is {why} and could not be moved aside: {exc}"
        self._warn(message)

    def _warn(self, message: str) -> None:
        log.warning("%s", message)
        self.warnings.append(message)


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def _is_history_name(name: str) -> bool:
    """`<id>.json`, not a set-aside `.corrupt-…`/`.invalid-…` file or a hidden temp."""
    return not name.startswith(".") and ".corrupt-" not in name and ".invalid-" not in name


class HistoryRecorder:
    """Keeps a run in history: a record when it starts, completed when it ends.

    Writes happen in worker threads so a slow disk never stalls the GUI; the end record
    always wins over a start record still being written. ``await recorder.wait()`` before
    exiting makes sure the record is on disk. If the process dies in between, the start
    record (status ``running``, owned by this process) reads as ``interrupted``.
    """

    def __init__(self, run: Run, store: HistoryStore | None = None,
                 workflow_file: str | os.PathLike[str] | None = None) -> None:
        self.run = run
        self.store = store or HistoryStore()
        self.workflow_file = str(Path(workflow_file).resolve()) if workflow_file else None
        self.record: RunRecord | None = None
        self.error: str | None = None
        self._futures: list[asyncio.Future[Any]] = []
        self._lock = threading.Lock()
        self._ended = False
        self._unsubscribe = run.events.subscribe(self._on_event)
        #: recorders of the sub-workflow runs this run started (each in its own history)
        self.children: list[HistoryRecorder] = []
        run.watch_children(self._on_child)

    def _on_child(self, child: Run, file: str) -> None:
        self.children.append(HistoryRecorder(child, self.store, workflow_file=file))

    def _on_event(self, event: Any) -> None:
        kind = getattr(event, "kind", None)
        if kind not in ("run_started", "run_finished"):
            return
        import asyncio

        final = kind == "run_finished"
        if final:
            self._unsubscribe()
        # snapshot on the loop: the run must not change while it is taken
        snapshot = RunRecord.from_run(self.run, self.workflow_file)
        self._futures.append(asyncio.get_running_loop().run_in_executor(
            None, self._write, snapshot, final))

    def _write(self, record: RunRecord, final: bool) -> RunRecord | None:
        with self._lock:
            if self._ended:  # the end record is already there: a late start must not undo it
                return None
            stored = self.store.record(record)
            self._ended = final
        return stored

    async def wait(self) -> RunRecord | None:
        """Wait for the writes (the child runs' too); failures are logged and kept in
        ``error``, never raised."""
        for child in self.children:
            await child.wait()
        for future in self._futures:
            try:
                stored = await future
            except Exception as exc:
                error = f"could not save run history: {exc}"
                if error != self.error:  # the start and the end write fail alike: say it once
                    self.error = error
                    log.warning("%s", error)
                continue
            if stored is not None and stored.status not in ("running", "paused"):
                self.record = stored
        return self.record
