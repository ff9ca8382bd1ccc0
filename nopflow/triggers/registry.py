"""Which workflows the scheduler runs, and whether a scheduler is running (docs/triggers.md).

The enabled set is `schedule.json` in the config dir (absolute file paths, written
atomically); a running scheduler announces itself in `scheduler.json` in the data dir
(its process, start time, host and port), which reads as "not running" once it died.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from nopflow.model import liveness
from nopflow.model.fileio import atomic_write_text
from nopflow.storage.locations import config_dir, data_dir

REGISTRY_NAME = "schedule.json"
PIDFILE_NAME = "scheduler.json"


def registry_path() -> Path:
    return config_dir() / REGISTRY_NAME


def enabled_files() -> list[str]:
    """The enabled workflow files (absolute paths), in the order they were enabled."""
    try:
        doc = json.loads(registry_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    files = doc.get("workflows") if isinstance(doc, dict) else None
    return [f for f in files or [] if isinstance(f, str)]


def _save(files: list[str]) -> None:
    atomic_write_text(registry_path(), json.dumps({"workflows": files}, indent=2) + "\n")


def enable(file: str | os.PathLike[str]) -> bool:
    """Add a file to the enabled set; False when it was already in it."""
    path = str(Path(file).resolve())
    files = enabled_files()
    if path in files:
        return False
    _save([*files, path])
    return True


def disable(file: str | os.PathLike[str]) -> bool:
    """Remove a file from the enabled set; False when it was not in it."""
    path = str(Path(file).resolve())
    files = enabled_files()
    if path not in files:
        return False
    _save([f for f in files if f != path])
    return True


def is_enabled(file: str | os.PathLike[str]) -> bool:
    return str(Path(file).resolve()) in enabled_files()


def pidfile_path() -> Path:
    return data_dir() / PIDFILE_NAME


def running_scheduler() -> dict[str, Any] | None:
    """The running scheduler's announcement (`owner`, `started_at`, `host`, `port`), or None."""
    try:
        doc = json.loads(pidfile_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not liveness.owner_alive(doc.get("owner")):
        return None
    return doc


def announce(host: str, port: int) -> None:
    """Write this process's announcement (the scheduler calls it when it starts)."""
    doc = {"owner": liveness.this_process(), "started_at": time.time(), "host": host,
           "port": port}
    atomic_write_text(pidfile_path(), json.dumps(doc) + "\n")


def withdraw() -> None:
    """Remove the announcement if it is this process's."""
    doc = running_scheduler()
    if doc is not None and doc.get("owner", {}).get("pid") == os.getpid():
        try:
            pidfile_path().unlink()
        except OSError:
            pass
