"""The process-count budget (RLIMIT_NPROC) handed to each script on Linux.

Separate because it is a policy with its own trade-offs (see the class docstring and
SECURITY.md) and its own background refresh.
"""

from __future__ import annotations

import asyncio
import os
import time

from nopflow.sandbox.procs import IS_LINUX

NPROC_HEADROOM = 1024
NPROC_REFRESH_S = 5.0


class _ProcessBudget:
    """RLIMIT_NPROC for scripts: the user's current process count plus a headroom.

    RLIMIT_NPROC counts *all* processes of the user, so a fixed number would break on a
    busy desktop; "what exists now + NPROC_HEADROOM" stops a fork bomb without touching
    anything else (only the script carries the limit).  Root ignores the limit, so it is
    not set there (and nothing relies on it).  The count is a /proc scan in a worker
    thread, refreshed at most every few seconds (the very first script runs without it).
    """

    def __init__(self) -> None:
        self.value: int | None = None
        self.at = -1e9
        self.enabled = IS_LINUX and hasattr(os, "getuid") and os.getuid() != 0

    def limit(self) -> int | None:
        """The current limit (None = unset); a stale count is refreshed in a thread."""
        if not self.enabled:
            return None
        now = time.monotonic()
        if now - self.at > NPROC_REFRESH_S:
            self.at = now
            fut = asyncio.get_running_loop().run_in_executor(
                None, _count_user_processes, os.getuid()
            )
            fut.add_done_callback(self._counted)
        return self.value

    def _counted(self, fut: asyncio.Future[int]) -> None:
        if not fut.cancelled() and fut.exception() is None and fut.result():
            self.value = fut.result() + NPROC_HEADROOM


def _count_user_processes(uid: int) -> int:
    """Processes (threads count too, as for RLIMIT_NPROC) owned by `uid`; 0 if unknown."""
    total = 0
    try:
        names = os.listdir("/proc")
    except OSError:
        return 0
    for name in names:
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid == uid:
                # a task dir's link count is 2 + its threads
                total += max(1, os.stat(f"/proc/{name}/task").st_nlink - 2)
        except OSError:
            continue
    return total
