"""Built environments in the data dir (``envs/<key>/``): find, build, list, collect.

An environment's key is the hash of its locked requirements and its base interpreter, so
identical locks share one. It is built in a temporary folder and renamed into place when
complete (a crash leaves no half environment; two builders race harmlessly). Each run that
uses one touches its ``last-used`` file; `prune` removes the long unused and the oldest
beyond a size bound.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from nopflow.envs import uvcli
from nopflow.model.lockfile import LockEntry
from nopflow.storage.locations import data_dir

MARKER = "nopflow-env.json"
LAST_USED = "last-used"
#: defaults of the automatic collection after each build (and of `nopflow envs prune`)
MAX_AGE_DAYS = 30.0
MAX_TOTAL_MB = 5000.0
#: an environment used this recently is never collected for size (a run may be using it)
IN_USE_GRACE_S = 3600.0


def envs_dir() -> Path:
    return data_dir() / "envs"


def env_key(entry: LockEntry, base_python: str) -> str:
    """The key of the environment a lock entry builds on `base_python`."""
    h = hashlib.sha256(os.path.realpath(base_python).encode())
    h.update(b"\0" + entry.requirements_text().encode())
    return h.hexdigest()[:20]


def interpreter(path: Path) -> Path:
    """The Python inside a venv folder."""
    if sys.platform == "win32":
        return path / "Scripts" / "python.exe"
    return path / "bin" / "python"


@dataclass(frozen=True, slots=True)
class EnvInfo:
    """One built environment, as `nopflow envs list` shows it."""

    key: str
    path: Path
    packages: tuple[str, ...]
    dependencies: tuple[str, ...]
    created: float
    last_used: float
    size_bytes: int

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "path": str(self.path), "packages": list(self.packages),
                "dependencies": list(self.dependencies), "created": self.created,
                "last_used": self.last_used, "size_bytes": self.size_bytes}


def ready(key: str) -> Path | None:
    """The environment's interpreter when it is built and complete, else None."""
    path = envs_dir() / key
    if (path / MARKER).is_file() and interpreter(path).exists():
        return interpreter(path)
    return None


def touch(key: str) -> None:
    """Note that a run uses the environment now (collection goes by this time)."""
    stamp = envs_dir() / key / LAST_USED
    try:
        stamp.touch()
        os.utime(stamp)
    except OSError:
        pass


def build(key: str, entry: LockEntry, base_python: str) -> Path:
    """Build the environment (offline from uv's cache first, then from the index)."""
    root = envs_dir()
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{key}-{os.getpid()}-{time.monotonic_ns()}"
    try:
        uvcli.make_venv(tmp, base_python)
        reqs = tmp / "nopflow-requirements.txt"
        reqs.write_text(entry.requirements_text(), encoding="utf-8")
        try:
            uvcli.install(interpreter(tmp), reqs, offline=True)
        except uvcli.UvError:
            uvcli.install(interpreter(tmp), reqs, offline=False)
        marker = {"key": key, "dependencies": list(entry.dependencies),
                  "packages": entry.pins(), "base_python": base_python,
                  "created": time.time()}
        (tmp / MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
        (tmp / LAST_USED).touch()
        try:
            tmp.rename(root / key)
        except OSError:  # another builder finished first: use its environment
            if ready(key) is None:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    found = ready(key)
    assert found is not None
    return found


def _size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def list_envs() -> list[EnvInfo]:
    """Every complete environment, most recently used first."""
    root = envs_dir()
    found = []
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        if path.name.startswith(".") or not (path / MARKER).is_file():
            continue
        try:
            marker = json.loads((path / MARKER).read_text(encoding="utf-8"))
            last = (path / LAST_USED).stat().st_mtime
        except (OSError, ValueError):
            marker, last = {}, 0.0
        found.append(EnvInfo(path.name, path, tuple(marker.get("packages", ())),
                             tuple(marker.get("dependencies", ())),
                             float(marker.get("created", 0.0)), last, _size(path)))
    return sorted(found, key=lambda e: e.last_used, reverse=True)


def _stale_temps(root: Path, now: float) -> Iterable[Path]:
    """Half-built folders of builders that died (older than a day)."""
    for path in root.glob(".tmp-*") if root.is_dir() else ():
        try:
            if now - path.stat().st_mtime > 86400:
                yield path
        except OSError:
            continue


def prune(*, max_age_days: float = MAX_AGE_DAYS, max_total_mb: float = MAX_TOTAL_MB,
          keep: Iterable[str] = (), everything: bool = False,
          dry_run: bool = False) -> list[EnvInfo]:
    """Remove environments unused for `max_age_days`, then the least recently used while
    the total is over `max_total_mb` (never those in `keep` or used within the hour);
    `everything` removes all but `keep`. Returns what was (or would be) removed."""
    now = time.time()
    keep = set(keep)
    envs = [e for e in list_envs() if e.key not in keep]
    gone = [e for e in envs if everything or now - e.last_used > max_age_days * 86400]
    left = [e for e in envs if e not in gone]
    total = sum(e.size_bytes for e in left) + sum(
        e.size_bytes for e in list_envs() if e.key in keep)
    for env in sorted(left, key=lambda e: e.last_used):
        if total <= max_total_mb * 1024 * 1024:
            break
        if now - env.last_used < IN_USE_GRACE_S:
            continue
        gone.append(env)
        total -= env.size_bytes
    if not dry_run:
        for env in gone:
            trash = env.path.with_name(f".tmp-gone-{env.key}-{os.getpid()}")
            try:
                env.path.rename(trash)  # out of reach at once, then deleted
            except OSError:
                continue
            shutil.rmtree(trash, ignore_errors=True)
        for tmp in _stale_temps(envs_dir(), now):
            shutil.rmtree(tmp, ignore_errors=True)
    return gone
