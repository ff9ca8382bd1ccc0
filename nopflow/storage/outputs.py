"""Every node's full output, kept for partial runs and the cache (docs/partial-runs.md).

Layout under ``<data dir>/outputs/<workflow-id>/``::

    objects/ab/<sha256>.json   one output, content-addressed (the digest of its bytes)
    runs/<run-id>.json         a run's manifest: node -> digest, fired ports, key parts
    keys/cd/<cache-key>.json   a cache entry: the digest its key gave

Why it is built this way:

* An output is streamed into a temp file and hashed on the way (never held as text
  beside the value), then renamed into place: a killed writer leaves a ``.tmp-`` file
  that `collect` removes, never a broken entry. A damaged entry (bytes that do not hash to
  their name, or are no JSON) is ignored with a warning and removed.
* The total size is bounded (default 1 GiB, ``[outputs] max_mb`` in the settings file or
  ``NOPFLOW_OUTPUT_STORE_MB``): least recently used objects go first, never one a run
  still in history names. Reading an object marks it used.
* Values are kept as the run's redactor leaves them: a secret never reaches disk (a
  reused output that carried one holds ``***``).
"""

from __future__ import annotations

import configparser
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nopflow.model import atomic_write_text
from nopflow.model.seeds import CacheHit, Seed
from nopflow.storage import locations

if TYPE_CHECKING:
    import asyncio

    from nopflow.engine.runner import Run

log = logging.getLogger(__name__)

MANIFEST_FORMAT = "nopflow/outputs"
MANIFEST_VERSION = 1
DEFAULT_MAX_MB = 1024
#: a temp file older than this belongs to a writer that died
STALE_TEMP_S = 600.0
#: a manifest younger than this is kept even before its run reaches history
FRESH_MANIFEST_S = 120.0
_CHUNK = 1 << 16
_ENCODER = json.JSONEncoder(ensure_ascii=True, allow_nan=True, default=str)


def max_bytes() -> int:
    """The store's bound: the environment, else the settings file, else 1 GiB."""
    text = os.environ.get("NOPFLOW_OUTPUT_STORE_MB")
    if not text:
        ini = configparser.ConfigParser()
        try:
            ini.read(locations.config_dir() / "nopflow.ini", encoding="utf-8")
            text = ini.get("outputs", "max_mb", fallback="")
        except (configparser.Error, OSError, UnicodeDecodeError):
            text = ""
    try:
        mb = float(text) if text else DEFAULT_MAX_MB
    except ValueError:
        log.warning("output store bound %r is not a number: using %d MB", text, DEFAULT_MAX_MB)
        mb = DEFAULT_MAX_MB
    return max(0, int(mb * 2**20))


@dataclass(frozen=True, slots=True)
class KeptNode:
    """A node's entry in a run's manifest."""

    digest: str
    ports: frozenset[str] | None
    source: str
    parts: dict[str, str]


class OutputStore:
    """Objects, manifests and cache entries of every workflow; ``warnings`` says what was
    ignored. Thread-safe for one process; several processes share it through renames."""

    def __init__(self, root: Path | str | None = None) -> None:
        self._root = Path(root) if root is not None else None
        self.warnings: list[str] = []
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        root = self._root if self._root is not None else locations.data_dir() / "outputs"
        root.mkdir(parents=True, exist_ok=True)
        return root

    def folder(self, workflow_id: str) -> Path:
        return self.root / locations.id_file_name(workflow_id)

    # ------------------------------------------------------------------ objects

    def _object_path(self, folder: Path, digest: str) -> Path:
        return folder / "objects" / digest[:2] / f"{digest}.json"

    def put(self, workflow_id: str, value: Any) -> tuple[str, int]:
        """Keep ``value``; returns its digest and size in bytes (streamed, hashed once)."""
        objects = self.folder(workflow_id) / "objects"
        objects.mkdir(parents=True, exist_ok=True)
        tmp = objects / f".tmp-{uuid.uuid4().hex}"
        h = hashlib.sha256()
        size = 0
        try:
            with open(tmp, "wb") as fh:
                buf: list[str] = []
                pending = 0
                for chunk in _ENCODER.iterencode(value):
                    buf.append(chunk)
                    pending += len(chunk)
                    if pending >= _CHUNK:
                        data = "".join(buf).encode("ascii")
                        h.update(data)
                        fh.write(data)
                        size += len(data)
                        buf, pending = [], 0
                data = "".join(buf).encode("ascii")
                h.update(data)
                fh.write(data)
                size += len(data)
            digest = h.hexdigest()
            target = self._object_path(objects.parent, digest)
            if target.exists():
                tmp.unlink()
                _touch(target)
            else:
                target.parent.mkdir(exist_ok=True)
                os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return digest, size

    def get(self, workflow_id: str, digest: str) -> tuple[bool, Any]:
        """(True, value) for a sound object; (False, None) when missing or damaged."""
        path = self._object_path(self.folder(workflow_id), digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return False, None
        except OSError as exc:
            self._warn(f"output store: cannot read {path}: {exc.strerror or exc}; ignored")
            return False, None
        if hashlib.sha256(data).hexdigest() != digest:
            self._damaged(path, "its content does not match its name")
            return False, None
        try:
            value = json.loads(data)
        except ValueError as exc:
            self._damaged(path, f"not JSON ({exc})")
            return False, None
        _touch(path)
        return True, value

    # ------------------------------------------------------------------ manifests

    def write_manifest(self, workflow_id: str, run_id: str, nodes: dict[str, dict[str, Any]],
                       vars: dict[str, Any]) -> Path:
        """Keep which output each node of a run had (atomically)."""
        path = self.folder(workflow_id) / "runs" / f"{locations.id_file_name(run_id)}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "run_id": run_id,
               "workflow_id": workflow_id, "vars": vars, "nodes": nodes}
        atomic_write_text(path, json.dumps(doc, ensure_ascii=True, default=str))
        return path

    def manifest(self, workflow_id: str, run_id: str) -> dict[str, Any] | None:
        """A run's manifest, or None (missing; damaged ones are ignored with a warning)."""
        path = self.folder(workflow_id) / "runs" / f"{locations.id_file_name(run_id)}.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            self._damaged(path, f"unreadable ({exc})")
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), dict):
            self._damaged(path, "not an output manifest")
            return None
        return doc

    def kept_nodes(self, workflow_id: str, run_id: str) -> dict[str, KeptNode]:
        """The nodes a run kept an output for."""
        doc = self.manifest(workflow_id, run_id)
        out: dict[str, KeptNode] = {}
        for nid, entry in (doc or {}).get("nodes", {}).items():
            if isinstance(entry, dict) and isinstance(entry.get("digest"), str):
                ports = entry.get("ports")
                out[str(nid)] = KeptNode(
                    entry["digest"],
                    frozenset(ports) if isinstance(ports, list) else None,
                    str(entry.get("source", "ran")),
                    dict(entry.get("parts") or {}))
        return out

    def kept_vars(self, workflow_id: str, run_id: str) -> dict[str, Any]:
        doc = self.manifest(workflow_id, run_id) or {}
        return doc.get("vars") if isinstance(doc.get("vars"), dict) else {}

    def seed_finder(self, workflow_id: str, run_ids: Iterable[str]) -> Callable[[str], Seed | None]:
        """``kept(node_id)``: the node's output from the newest of ``run_ids`` that has a
        sound one (docs/partial-runs.md's "latest run that has it")."""
        manifests = [(rid, self.kept_nodes(workflow_id, rid)) for rid in run_ids]

        def kept(nid: str) -> Seed | None:
            for rid, nodes in manifests:
                entry = nodes.get(nid)
                if entry is None:
                    continue
                ok, value = self.get(workflow_id, entry.digest)
                if ok:
                    return Seed(value, rid, entry.ports, entry.digest)
            return None

        return kept

    # ------------------------------------------------------------------ cache entries

    def _key_path(self, workflow_id: str, key: str) -> Path:
        return self.folder(workflow_id) / "keys" / key[:2] / f"{key}.json"

    def cache_for(self, workflow_id: str) -> StoreCache:
        """The engine's `OutputCache` for one workflow."""
        return StoreCache(self, workflow_id)

    # ------------------------------------------------------------------ the bound

    def total_bytes(self) -> int:
        return sum(size for _p, size, _t in self._objects())

    def _objects(self) -> list[tuple[Path, int, float]]:
        out = []
        for path in self.root.glob("*/objects/*/*.json"):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            out.append((path, st.st_size, st.st_mtime))
        return out

    def collect(self, live_runs: Callable[[str], set[str] | None],
                bound: int | None = None, protect: Iterable[Path] = ()) -> int:
        """Keep the store under ``bound``: drop manifests of runs gone from history (as
        ``live_runs(workflow_id)`` says; None: unknown, keep all), dead writers' temp files,
        then least recently used objects no kept run names. Returns bytes freed."""
        bound = max_bytes() if bound is None else bound
        now = time.time()
        protected = {Path(p) for p in protect}
        referenced: set[str] = set()
        with self._lock:
            for folder in self.root.iterdir():
                if not folder.is_dir():
                    continue
                for tmp in folder.glob("objects/.tmp-*"):
                    _drop_if_older(tmp, now - STALE_TEMP_S)
                for tmp in folder.glob("runs/.*.tmp"):
                    _drop_if_older(tmp, now - STALE_TEMP_S)
                wf_id = locations.id_from_file_name(folder.name)
                live = live_runs(wf_id) if wf_id is not None else None
                for man in folder.glob("runs/*.json"):
                    run_id = locations.id_from_file_name(man.stem)
                    try:
                        young = man.stat().st_mtime > now - FRESH_MANIFEST_S
                    except FileNotFoundError:
                        continue
                    if (live is not None and run_id not in live and man not in protected
                            and not young):
                        man.unlink(missing_ok=True)
                        continue
                    for entry in self._manifest_entries(man):
                        referenced.add(entry)
            objects = self._objects()
            total = sum(size for _p, size, _t in objects)
            freed = 0
            if total <= bound:
                return 0
            for path, size, _t in sorted(objects, key=lambda o: o[2]):
                if total <= bound:
                    break
                if path.stem in referenced:
                    continue
                path.unlink(missing_ok=True)
                total -= size
                freed += size
            if total > bound:
                self._warn(f"output store: {total} bytes kept, over the bound of {bound}: "
                           "the rest belongs to runs still in history")
        return freed

    def _manifest_entries(self, path: Path) -> list[str]:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            return [e["digest"] for e in doc["nodes"].values()
                    if isinstance(e, dict) and isinstance(e.get("digest"), str)]
        except (OSError, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            return []

    # ------------------------------------------------------------------ warnings

    def _damaged(self, path: Path, why: str) -> None:
        self._warn(f"output store: {path} is damaged ({why}); ignored and removed")
        path.unlink(missing_ok=True)

    def _warn(self, message: str) -> None:
        log.warning("%s", message)
        self.warnings.append(message)


class StoreCache:
    """`nopflow.engine.reuse.OutputCache` on an `OutputStore`, for one workflow."""

    def __init__(self, store: OutputStore, workflow_id: str) -> None:
        self.store = store
        self.workflow_id = workflow_id

    def digest(self, value: Any) -> str:
        return self.store.put(self.workflow_id, value)[0]

    def lookup(self, key: str) -> CacheHit | None:
        path = self.store._key_path(self.workflow_id, key)
        try:
            entry = json.loads(path.read_bytes())
            digest = entry["digest"]
            ports = entry.get("ports")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.store._damaged(path, f"unreadable cache entry ({exc})")
            return None
        ok, value = self.store.get(self.workflow_id, str(digest))
        if not ok:
            path.unlink(missing_ok=True)
            return None
        return CacheHit(value, str(digest), frozenset(ports) if isinstance(ports, list) else None)

    def keep(self, key: str, digest: str, ports: frozenset[str] | None) -> None:
        path = self.store._key_path(self.workflow_id, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"digest": digest, "ports": sorted(ports) if ports is not None else None}
        atomic_write_text(path, json.dumps(body))


class OutputRecorder:
    """Keeps a finished run's node outputs in the store (in a worker thread, like history).

    ``parts`` gives each node's cache-key parts (for the stale view); ``live_runs`` says
    which runs history keeps, for the bound. ``await recorder.wait()`` before exiting.
    """

    def __init__(self, run: Run, store: OutputStore | None = None,
                 parts: Callable[[], dict[str, dict[str, str]]] | None = None,
                 live_runs: Callable[[str], set[str] | None] | None = None) -> None:
        self.run = run
        self.store = store or OutputStore()
        self._parts = parts
        self._live_runs = live_runs
        self.error: str | None = None
        self.manifest: Path | None = None
        self._future: asyncio.Future[Any] | None = None
        self._unsubscribe = run.events.subscribe(self._on_event)

    def _on_event(self, event: Any) -> None:
        if getattr(event, "kind", None) != "run_finished":
            return
        import asyncio

        self._unsubscribe()
        self._future = asyncio.get_running_loop().run_in_executor(None, self._write)

    def _write(self) -> None:
        run = self.run
        red = run.redactor
        wf_id = run.workflow.id
        parts = self._parts() if self._parts is not None else {}
        nodes: dict[str, dict[str, Any]] = {}
        for nid in run.plan.top_level:
            rec = run.nodes[nid]
            if rec.state.value != "success":
                continue
            digest = run.output_digests.get(nid)
            if digest is None:
                digest, _size = self.store.put(wf_id, red.value(rec.output) if red else rec.output)
            ports = rec.details.get("ports")
            nodes[nid] = {"digest": digest, "ports": ports, "source": rec.source,
                          "parts": {**parts.get(nid, {}), **run.cache_parts.get(nid, {})}}
        self.manifest = self.store.write_manifest(wf_id, run.id, nodes, red.value(run.vars))
        if self._live_runs is not None:
            self.store.collect(self._live_runs, protect=[self.manifest])

    async def wait(self, quiet: bool = False) -> Path | None:
        """Wait for the write; a failure is kept in ``error`` and logged (unless ``quiet``:
        the caller said the same about the data folder already), never raised."""
        if self._future is None:
            return None
        try:
            await self._future
        except Exception as exc:
            self.error = f"could not keep the run's outputs: {exc}"
            if not quiet:
                log.warning("%s", self.error)
        return self.manifest


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        pass


def _drop_if_older(path: Path, cutoff: float) -> None:
    try:
        if path.stat().st_mtime < cutoff:
            path.unlink()
    except FileNotFoundError:
        pass
