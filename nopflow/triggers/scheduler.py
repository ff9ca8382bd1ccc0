"""`nopflow scheduler`: one foreground process that fires every enabled workflow's triggers.

Each fire is a run made by `nopflow.file_run` — the same path as `nopflow run` (sandbox,
history) — with the trigger's inputs and `$trigger`. Timers sleep until the next fire (no
polling loop); the enabled set and the workflow files are watched with watchfiles, so
enable/disable and edits apply without a restart. One line per fire or skip goes to stderr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from nopflow.errors import NopflowError
from nopflow.file_run import RunRefused, prepare, run_error
from nopflow.model import (
    CronTrigger,
    FileTrigger,
    IntervalTrigger,
    WebhookTrigger,
    Workflow,
    load_workflow,
)
from nopflow.model.fileio import atomic_write_text
from nopflow.storage.locations import data_dir
from nopflow.triggers import registry
from nopflow.triggers.checks import trigger_problems
from nopflow.triggers.timing import cron_times

log = logging.getLogger(__name__)

#: a cron fire this late (the machine slept, the clock jumped) counts as missed: catch_up
MISSED_AFTER_S = 60.0
#: longest single sleep of a cron timer, so a wall-clock jump or a suspend is noticed
CRON_NAP_S = 300.0
#: fires waiting behind a running one (overlap: queue); more are skipped and logged
MAX_QUEUED = 100
#: how long shutdown waits for cancelled runs to be recorded
SHUTDOWN_WAIT_S = 20.0


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="milliseconds")


@dataclass(eq=False)
class Fire:
    """One fire: which workflow and trigger, its `$trigger` value, and its run once made."""

    entry: Entry
    trigger: Any
    info: dict[str, Any]
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    prepared: Any = None
    done: asyncio.Future[Any] | None = None
    #: when the fire was due (loop clock), for the lateness figure
    due: float | None = None
    #: why the file could not run, when it could not
    refused: str | None = None


@dataclass
class Entry:
    """An enabled workflow file as last loaded: its workflow and trigger tasks."""

    file: str
    text: bytes | None = None
    wf: Workflow | None = None
    tasks: dict[str, tuple[str, asyncio.Task[None]]] = field(default_factory=dict)
    running: set[Fire] = field(default_factory=set)  # type: ignore[arg-type]
    queue: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0

    @property
    def label(self) -> str:
        return Path(self.file).name

    @property
    def overlap(self) -> str:
        return self.wf.settings.overlap if self.wf is not None else "skip"


class SchedulerAlreadyRunning(NopflowError):
    """Another scheduler is running for this data dir."""


class TriggerScheduler:
    """Runs the triggers of the enabled workflows until `stop()` (or the duration ends)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 8787,
                 stream: TextIO | None = None,
                 on_fire: Callable[[Fire, float], None] | None = None) -> None:
        self.host = host
        self.port = port
        self.stream = stream if stream is not None else sys.stderr
        self.on_fire = on_fire
        self.entries: dict[str, Entry] = {}
        self.fires: set[asyncio.Task[None]] = set()
        self.started_wall = datetime.now(timezone.utc)
        self._stop = asyncio.Event()
        self._reloaded = asyncio.Event()
        self._webhooks: Any = None
        #: one fire loads and compiles at a time: more threads would starve the loop's GIL
        self._preparing = asyncio.Semaphore(1)
        self._state_path = data_dir() / "scheduler-state.json"
        self._state = self._load_state()

    # ------------------------------------------------------------------ lines

    def say(self, text: str) -> None:
        """One log line on stderr: time, then what happened."""
        try:
            self.stream.write(f"{now_iso()} {text}\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass

    # ------------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        self._stop.set()

    async def run(self, duration: float | None = None) -> None:
        """Fire triggers until stopped; then cancel running runs and wait for their records."""
        other = registry.running_scheduler()
        if other is not None:
            raise SchedulerAlreadyRunning(
                f"a scheduler is already running (pid {other['owner'].get('pid')}); "
                "stop it first or let it do the work")
        loop = asyncio.get_running_loop()
        registry.announce(self.host, self.port)
        installed = self._install_signals(loop)
        watcher = loop.create_task(self._watch_files())
        try:
            self.say(f"scheduler started (pid {os.getpid()}), "
                     f"{len(registry.enabled_files())} enabled workflow(s)")
            await self.reload()
            try:
                await asyncio.wait_for(self._stop.wait(), duration)
            except asyncio.TimeoutError:
                pass
        finally:
            watcher.cancel()
            await self._shutdown()
            for sig in installed:
                loop.remove_signal_handler(sig)
            registry.withdraw()

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> list[int]:
        installed = []
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            try:
                loop.add_signal_handler(sig, self._on_signal, name)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # Windows
                signal.signal(sig, lambda _s, _f, n=name: loop.call_soon_threadsafe(
                    self._on_signal, n))
        return installed

    def _on_signal(self, name: str) -> None:
        if not self._stop.is_set():
            self.say(f"{name}: stopping (running runs are cancelled and recorded)")
        self.stop()

    async def _shutdown(self) -> None:
        for entry in list(self.entries.values()):
            self._stop_tasks(entry, keep=set())
        for entry in self.entries.values():
            for fire in list(entry.running):
                if fire.prepared is not None:
                    fire.prepared.run.cancel()
        pending = list(self.fires)
        if pending:
            await asyncio.wait(pending, timeout=SHUTDOWN_WAIT_S)
        if self._webhooks is not None:
            await self._webhooks.close()
        self.say("scheduler stopped")

    # ------------------------------------------------------------------ loading

    async def reload(self) -> None:
        """Bring the entries in line with the enabled set and the files on disk."""
        files = registry.enabled_files()
        for path in list(self.entries):
            if path not in files:
                entry = self.entries.pop(path)
                self._stop_tasks(entry, keep=set())
                self.say(f"{entry.label}: disabled")
        for path in files:
            entry = self.entries.setdefault(path, Entry(path))
            self._load(entry)
        await self._sync_webhooks()
        self._reloaded.set()
        self._reloaded = asyncio.Event()

    def _load(self, entry: Entry) -> None:
        try:
            text = Path(entry.file).read_bytes()
        except OSError as exc:
            if entry.text is not None or not entry.tasks:
                self.say(f"{entry.label}: cannot read {entry.file}: {exc.strerror or exc}; "
                         "its triggers are off until it is back")
            entry.text = None
            entry.wf = None
            self._stop_tasks(entry, keep=set())
            return
        if text == entry.text:
            return
        entry.text = text
        from nopflow.blocks import get_block

        try:
            wf = load_workflow(entry.file, blocks=get_block)
        except NopflowError as exc:
            self.say(f"{entry.label}: cannot load, its triggers are off: "
                     f"{str(exc).splitlines()[0]}")
            entry.wf = None
            self._stop_tasks(entry, keep=set())
            return
        problems = trigger_problems(wf, Path(entry.file).resolve().parent, None)
        bad = {tid for tid, _m in problems}
        for tid, message in problems:
            self.say(f"{entry.label}: trigger {tid} is off: {message}")
        first = entry.wf is None
        entry.wf = wf
        wanted = {t.id: t for t in wf.triggers if t.enabled and t.id not in bad}
        keys = {tid: t.model_dump_json() for tid, t in wanted.items()}
        self._stop_tasks(entry, keep={tid for tid, k in keys.items()
                                      if tid in entry.tasks and entry.tasks[tid][0] == k})
        for tid, trig in wanted.items():
            if tid not in entry.tasks:
                task = asyncio.get_running_loop().create_task(self._trigger_loop(entry, trig))
                entry.tasks[tid] = (keys[tid], task)
        kinds = ", ".join(f"{t.id} ({t.type})" for t in wanted.values()) or "none enabled"
        self.say(f"{entry.label}: {'loaded' if first else 'reloaded'}, triggers: {kinds}")

    def _stop_tasks(self, entry: Entry, keep: set[str]) -> None:
        for tid in list(entry.tasks):
            if tid not in keep:
                entry.tasks.pop(tid)[1].cancel()

    async def _watch_files(self) -> None:
        """Reload when the enabled set or an enabled file changes (no polling)."""
        import watchfiles

        while True:
            files = {str(registry.registry_path().resolve())} | {
                str(Path(f).resolve()) for f in registry.enabled_files()}
            folders = sorted({str(Path(f).parent) for f in files if Path(f).parent.is_dir()})
            changed = self._reloaded
            stop = asyncio.Event()
            waiter = asyncio.ensure_future(changed.wait())
            waiter.add_done_callback(lambda _f, s=stop: s.set())
            try:
                async for changes in watchfiles.awatch(
                        *folders, watch_filter=lambda _c, p, fs=files: str(Path(p).resolve()) in fs,
                        recursive=False, debounce=200, stop_event=stop):
                    del changes
                    await self.reload()
                    break
            except Exception as exc:  # a folder vanished under the watcher: look again
                log.debug("watch restarted: %s", exc)
                await asyncio.sleep(1)
            finally:
                waiter.cancel()

    # ------------------------------------------------------------------ timers

    async def _trigger_loop(self, entry: Entry, trig: Any) -> None:
        try:
            if isinstance(trig, IntervalTrigger):
                await self._interval(entry, trig)
            elif isinstance(trig, CronTrigger):
                await self._cron(entry, trig)
            elif isinstance(trig, FileTrigger):
                from nopflow.triggers.filewatch import watch_folder

                await watch_folder(self, entry, trig)
            # webhooks are routes of the shared server (_sync_webhooks), not loops
            elif isinstance(trig, WebhookTrigger):
                await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one broken trigger never stops the others
            log.exception("trigger %s of %s failed", trig.id, entry.file)
            self.say(f"{entry.label}: trigger {trig.id} stopped: {type(exc).__name__}: {exc}")

    async def _interval(self, entry: Entry, trig: IntervalTrigger) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        wall = time.time()
        k = 1
        while True:
            due = start + k * trig.seconds
            await asyncio.sleep(max(0.0, due - loop.time()))
            scheduled = datetime.fromtimestamp(wall + k * trig.seconds, timezone.utc)
            self.fire(entry, trig, {"scheduled_for": scheduled.astimezone().isoformat()},
                      due=due)
            # a fire far behind (the machine slept) is not repeated for every missed step
            k = max(k + 1, int((loop.time() - start) / trig.seconds) + 1)

    async def _cron(self, entry: Entry, trig: CronTrigger) -> None:
        key = f"{entry.wf.id if entry.wf else entry.file}/{trig.id}"
        now = datetime.now(timezone.utc)
        last = self._state.get(key)
        if trig.catch_up == "once" and isinstance(last, str):
            missed = None
            for when in cron_times(trig, datetime.fromisoformat(last)):
                if when > now:
                    break
                missed = when
            if missed is not None:
                self.say(f"{entry.label}: trigger {trig.id} missed {missed.isoformat()} "
                         "while no scheduler ran (catch_up: once)")
                self._remember(key, now)
                self.fire(entry, trig, {"scheduled_for": missed.isoformat(), "catch_up": True})
        if last is None:
            self._remember(key, now)
        loop = asyncio.get_running_loop()
        after = now
        while True:
            when = next(cron_times(trig, after))
            while True:
                delay = (when - datetime.now(timezone.utc)).total_seconds()
                if delay <= 0:
                    break
                await asyncio.sleep(min(delay, CRON_NAP_S))
            late = -delay
            after = when
            if late > MISSED_AFTER_S:
                # the machine slept or the clock jumped past it
                if trig.catch_up == "once":
                    self.say(f"{entry.label}: trigger {trig.id} missed {when.isoformat()} "
                             "(catch_up: once)")
                    latest = when
                    for later in cron_times(trig, when):
                        if later > datetime.now(timezone.utc):
                            break
                        latest = later
                    after = latest
                    self._remember(key, datetime.now(timezone.utc))
                    self.fire(entry, trig, {"scheduled_for": latest.isoformat(),
                                            "catch_up": True})
                else:
                    self.say(f"{entry.label}: trigger {trig.id} skip: missed "
                             f"{when.isoformat()} (catch_up: skip)")
                    after = datetime.now(timezone.utc)
                continue
            self._remember(key, when)
            self.fire(entry, trig, {"scheduled_for": when.isoformat()},
                      due=loop.time() - late)

    # ------------------------------------------------------------------ state

    def _load_state(self) -> dict[str, Any]:
        try:
            doc = json.loads(self._state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return doc.get("last_fire", {}) if isinstance(doc, dict) else {}

    def _remember(self, key: str, when: datetime) -> None:
        """Keep a cron trigger's last fire time, for catch_up after a restart."""
        self._state[key] = when.isoformat()
        try:
            atomic_write_text(self._state_path, json.dumps({"last_fire": self._state}) + "\n")
        except OSError as exc:
            self.say(f"cannot keep the scheduler state in {self._state_path}: {exc}")

    # ------------------------------------------------------------------ fires

    def fire(self, entry: Entry, trig: Any, extra: dict[str, Any],
             due: float | None = None) -> Fire | None:
        """Start a run of ``entry`` for ``trig`` (or skip it by `settings.overlap`)."""
        info = {"type": trig.type, "id": trig.id, "fired_at": now_iso(), **extra}
        fire = Fire(entry, trig, info, due=due)
        fire.done = asyncio.get_running_loop().create_future()
        if self.on_fire is not None and due is not None:
            self.on_fire(fire, asyncio.get_running_loop().time() - due)
        if self._stop.is_set():
            return None
        overlap = entry.overlap
        if entry.running and overlap == "skip":
            self.say(f"{entry.label}: trigger {trig.id} skip: the workflow is still running "
                     "(settings.overlap: skip)")
            return None
        if overlap == "queue" and entry.waiting >= MAX_QUEUED:
            self.say(f"{entry.label}: trigger {trig.id} skip: {MAX_QUEUED} fires already "
                     "queued")
            return None
        task = asyncio.get_running_loop().create_task(self._run_fire(fire))
        self.fires.add(task)
        task.add_done_callback(self.fires.discard)
        return fire

    async def _run_fire(self, fire: Fire) -> None:

        entry, trig = fire.entry, fire.trigger
        entry.running.add(fire)
        queued = entry.overlap == "queue"
        try:
            if queued:
                entry.waiting += 1
                try:
                    await entry.queue.acquire()
                finally:
                    entry.waiting -= 1
            try:
                if self._stop.is_set():
                    return
                self.say(f"{entry.label}: trigger {trig.id} ({trig.type}) fired: run "
                         f"{fire.run_id}")
                try:  # loading and compiling off the loop, so other timers stay on time
                    async with self._preparing:
                        fire.prepared = await asyncio.to_thread(
                            prepare, entry.file, dict(trig.inputs), trigger=fire.info,
                            run_id=fire.run_id,
                            warn=lambda text: self.say(f"{entry.label}: {text}"))
                except RunRefused as exc:
                    for line in exc.lines:
                        self.say(f"{entry.label}: {line}")
                    self.say(f"{entry.label}: run {fire.run_id} not run: {exc}")
                    fire.refused = "; ".join([*exc.lines, str(exc)])
                    _settle(fire.done, None)
                    return
                if self._stop.is_set():  # stopping while it was prepared: record it cancelled
                    fire.prepared.run.cancel()
                run = await fire.prepared.execute(
                    None, lambda text: self.say(f"{entry.label}: {text}"))
                why = run_error(run)
                error = f": {why}" if why and run.status != "completed" else ""
                self.say(f"{entry.label}: run {run.id} {run.status} in "
                         f"{(run.duration_ms or 0) / 1000:.2f}s{error}")
                _settle(fire.done, run)
            finally:
                if queued:
                    entry.queue.release()
        except Exception as exc:
            log.exception("a fire of %s failed", entry.file)
            self.say(f"{entry.label}: trigger {trig.id} fire failed: {type(exc).__name__}: "
                     f"{exc}")
        finally:
            entry.running.discard(fire)
            _settle(fire.done, fire.prepared.run if fire.prepared is not None else None)

    # ------------------------------------------------------------------ webhooks

    async def _sync_webhooks(self) -> None:
        routes: dict[tuple[str, str], tuple[Entry, WebhookTrigger]] = {}
        from nopflow.triggers.checks import webhook_path

        for entry in self.entries.values():
            if entry.wf is None:
                continue
            for trig in entry.wf.triggers:
                if not isinstance(trig, WebhookTrigger) or trig.id not in entry.tasks:
                    continue
                key = (trig.method, webhook_path(entry.wf, trig))
                if key in routes:
                    other = routes[key][0]
                    self.say(f"{entry.label}: trigger {trig.id}: {key[0]} {key[1]} is taken "
                             f"by {other.label}; this webhook is off")
                    continue
                routes[key] = (entry, trig)
        if not routes and self._webhooks is None:
            return
        if self._webhooks is None:
            from nopflow.triggers.webhooks import WebhookServer

            server = WebhookServer(self)
            try:
                await server.start(self.host, self.port)
            except OSError as exc:
                self.say(f"webhooks: cannot listen on {self.host}:{self.port}: "
                         f"{exc.strerror or exc}; webhook triggers are off (use --port)")
                return
            self._webhooks = server
            self.say(f"webhooks: listening on http://{self.host}:{server.port}")
        self._webhooks.routes = routes


def _settle(future: asyncio.Future[Any] | None, value: Any) -> None:
    if future is not None and not future.done():
        future.set_result(value)


__all__ = ["Fire", "SchedulerAlreadyRunning", "TriggerScheduler"]
