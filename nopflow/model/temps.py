"""Temp files of atomic writes, named after their writer, so a later write of the same file
removes the ones a killed process left behind and never a live writer's.

Name: ``.TARGET.<pid>-<start time|x>-<8 hex>.tmp`` beside TARGET. A temp is stale when its
writer surely died (`liveness.alive`), or when it is older than `STALE_AFTER_S` (Windows,
a reused pid, and ``mkstemp``-named temps of older versions: ``.TARGET.<8 chars>.tmp``).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

from nopflow.model import liveness

__all__ = ["STALE_AFTER_S", "create_temp", "remove_stale_temps"]

#: no write takes this long: a temp this old is left over, whoever wrote it
STALE_AFTER_S = 3600.0

_OURS = re.compile(r"(\d+)-(\d+|x)-[0-9a-f]{8}")
_MKSTEMP = re.compile(r"[a-z0-9_]{8}")  # tempfile.mkstemp's names (earlier versions)
_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
          | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOINHERIT", 0))

_me: tuple[int, str] | None = None  # (pid, "pid-start") of this process, after a fork too


def _writer_tag() -> str:
    global _me
    pid = os.getpid()
    if _me is None or _me[0] != pid:
        started = liveness.process_started(pid)
        _me = (pid, f"{pid}-{'x' if started is None else started}")
    return _me[1]


def create_temp(target: Path) -> tuple[int, Path]:
    """A new temp file beside ``target`` (mode 0600), open for writing: (fd, path)."""
    for _ in range(100):
        path = target.with_name(f".{target.name}.{_writer_tag()}-{uuid.uuid4().hex[:8]}.tmp")
        try:
            return os.open(path, _FLAGS, 0o600), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temp file name beside {target}")


def _is_stale(middle: str, mtime: float, now: float) -> bool | None:
    """None: not a temp of this target; else whether it is left over."""
    ours = _OURS.fullmatch(middle)
    if ours is None and _MKSTEMP.fullmatch(middle) is None:
        return None
    if now - mtime > STALE_AFTER_S:
        return True
    if ours is None:
        return False  # an older version's temp, young: maybe being written right now
    pid = int(ours[1])
    started = None if ours[2] == "x" else int(ours[2])
    return not liveness.alive(pid, started)


def remove_stale_temps(target: Path) -> list[Path]:
    """Remove the left-over temps of ``target`` (best effort); returns what was removed."""
    prefix = f".{target.name}."
    folder = target.parent if str(target.parent) else Path(".")
    removed: list[Path] = []
    now = time.time()
    try:
        with os.scandir(folder) as scan:
            entries = [e for e in scan if e.name.startswith(prefix) and e.name.endswith(".tmp")]
    except OSError:
        return removed
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
            if not entry.is_file(follow_symlinks=False):
                continue
            if _is_stale(entry.name[len(prefix):-len(".tmp")], st.st_mtime, now):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # gone meanwhile, or not ours to remove
    return removed
