"""Helpers for the sandbox tests (not fixtures, so they are imported, not injected)."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import time
from pathlib import Path

from nopflow.sandbox import ScriptResult, ScriptRunner, ScriptSpec

LINUX = sys.platform.startswith("linux")


async def run(runner: ScriptRunner, project: Path, code: str, **kw: object) -> ScriptResult:
    """Run dedented `code` in `project`, bounded by 30 s whatever the script does."""
    spec = ScriptSpec(project_dir=project, code=textwrap.dedent(code), **kw)  # type: ignore[arg-type]
    return await asyncio.wait_for(runner.run(spec), 30)


# A script's own view of its processes: its PID namespace and pids as it sees them.
PIDS_SNIPPET = "import os as _os; _NS = _os.readlink('/proc/self/ns/pid')\n"


def _ns_pid(host_pid: str) -> int | None:
    """The innermost (namespace-local) pid of a live, non-zombie host process."""
    try:
        with open(f"/proc/{host_pid}/status") as fh:
            status = fh.read()
    except OSError:
        return None
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    if fields.get("State", "").startswith(("Z", "X")):
        return None
    nspid = fields.get("NSpid", "").split()
    return int(nspid[-1]) if nspid else None


def ns_alive(ns: str, pids: list[int] | None = None) -> list[int]:
    """Those of `pids` (as seen inside PID namespace `ns`; None = any) that still run.

    Works whether or not the script had a PID namespace of its own: in the host's, a
    process's innermost pid is its host pid.
    """
    left: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{name}/ns/pid") != ns:
                continue
        except OSError:
            continue
        local = _ns_pid(name)
        if local is not None and (pids is None or local in pids):
            left.append(local)
    return left


async def wait_ns_gone(ns: str, pids: list[int] | None = None, within: float = 3.0) -> list[int]:
    """Wait until none of `pids` (None: no process at all) runs in `ns`; what is left."""
    deadline = time.monotonic() + within
    while True:
        left = ns_alive(ns, pids)
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.05)
