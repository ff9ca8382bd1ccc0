"""Helpers for tests that watch sandboxed processes from outside (scripts run in a PID
namespace of their own, so the pid a script prints means nothing on the host)."""

from __future__ import annotations

import os
from pathlib import Path


def script_pid(token: str) -> int | None:
    """Host pid of a live script process from the ``NS/PID`` token it printed (scripts
    run in a PID namespace of their own, where ``os.getpid()`` means nothing outside);
    None once it is gone.  Without a namespace the token's pid is the host pid."""
    ns, _, local = token.rpartition("/")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "ns" / "pid") != ns:
                continue
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(ln.split(":\t", 1) for ln in status.splitlines() if ":\t" in ln)
        if fields.get("NSpid", "").split()[-1:] == [local] and fields["State"][0] not in "ZX":
            return int(entry.name)
    return None
