"""File triggers: fire when files matching a pattern appear, change or go in a folder.

watchfiles gives native change notification (inotify, FSEvents, ReadDirectoryChangesW)
with debouncing built in, so the scheduler never polls the folder itself.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING

import watchfiles

from nopflow.model import FileTrigger
from nopflow.triggers.checks import watched_folder

if TYPE_CHECKING:
    from nopflow.triggers.scheduler import Entry, TriggerScheduler

_EVENTS = {watchfiles.Change.added: "created", watchfiles.Change.modified: "modified",
           watchfiles.Change.deleted: "deleted"}


async def watch_folder(scheduler: TriggerScheduler, entry: Entry, trig: FileTrigger) -> None:
    """Fire once per matching file per debounced batch, with its last event."""
    folder = watched_folder(Path(entry.file).resolve().parent, trig)
    wanted = set(trig.events)
    debounce_ms = max(1, int(trig.debounce_s * 1000))
    async for changes in watchfiles.awatch(folder, recursive=False, debounce=debounce_ms,
                                           step=min(50, debounce_ms), watch_filter=None):
        latest: dict[str, str] = {}
        for change, raw in changes:
            path = Path(raw)
            if path.parent != folder or not fnmatch.fnmatch(path.name, trig.pattern):
                continue
            event = _EVENTS.get(change)
            if event is None:
                continue
            if event == "modified" and latest.get(raw) == "created":
                continue  # a new file being written is one "created"
            latest[raw] = event
        for raw, event in sorted(latest.items()):
            if event in wanted and not (event != "deleted" and not Path(raw).is_file()):
                scheduler.fire(entry, trig, {"path": str(Path(raw).relative_to(
                    Path(entry.file).resolve().parent)), "event": event})
