"""Is the process that left something behind (a run record, a temp file) still running?

A process is named by its pid plus, where the OS says, its start time, so a pid reused by
an unrelated process after a crash does not count as the writer.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any


def process_started(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot (Linux), else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        return int(stat[stat.rindex(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid: int, started: int | None = None) -> bool:
    """True unless ``pid`` surely is gone (or is a different process than ``started``)."""
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate it there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, it is another user's
    except (OSError, OverflowError, ValueError):
        return False
    now = process_started(pid) if started is not None else None
    return started is None or now is None or now == started


def this_process() -> dict[str, Any]:
    """How a record names its writer: host, pid and start time."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "started": process_started(pid)}


def owner_alive(owner: Any) -> bool:
    """For a `this_process()` dict from a record: False only when that process surely died."""
    if not isinstance(owner, dict):
        return False
    pid = owner.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    if owner.get("host") != socket.gethostname():
        return True  # another machine's process: cannot tell
    started = owner.get("started")
    return alive(pid, started if isinstance(started, int) else None)
