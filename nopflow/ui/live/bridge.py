"""The one QObject between the engine and the GUI: engine events in, Qt signals out.

Why it coalesces: the engine delivers events synchronously on the loop, possibly thousands
per second (1,000 delay-0 nodes finish in a blink). Repainting per event would starve the
event loop and make the canvas stutter, so the bridge only *queues* in the engine callback
(O(1), never touches widgets) and flushes at most once per frame (~16 ms) through a QTimer:
one signal per kind per frame, each carrying the batch in emission order. Receivers apply
the last state per node and repaint once.

Frame pacing: when nothing was flushed for a frame, the first event is flushed on the next
loop turn (low latency for sparse events); during a burst flushes are spaced one frame
apart (bounded repaint rate).

Errors never escape: a failure while queueing or emitting is logged and reported through
``failed`` (the window shows it), and the run goes on.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from nopflow.engine.events import (
    Event,
    NodeLog,
    NodeRetryScheduled,
    NodeStateChanged,
    Progress,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    SubworkflowProgress,
)

log = logging.getLogger(__name__)

#: one frame at 60 Hz: the longest an event waits before it is forwarded
FRAME_MS = 16


class RunBridge(QObject):
    """Subscribes to one run's events and re-emits them as batched Qt signals."""

    #: RunStarted event (first of a run)
    runStarted = Signal(object)
    #: list of NodeStateChanged / NodeRetryScheduled events, in the order they happened
    nodeEvents = Signal(list)
    #: {node_id: [stderr lines]} gathered during the frame
    logLines = Signal(dict)
    #: done, total (the latest of the frame)
    progressChanged = Signal(int, int)
    #: {node id: (done, total)} of sub-workflow nodes' child runs, the latest per node
    subworkflowProgress = Signal(dict)
    #: True when the run paused, False when it resumed (the latest of the frame)
    pausedChanged = Signal(bool)
    #: RunFinished event (always last for a run)
    runFinished = Signal(object)
    #: something inside the bridge failed; the text says what (the run goes on)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None, frame_ms: int = FRAME_MS) -> None:
        super().__init__(parent)
        self.frame_ms = frame_ms
        self._queue: list[Event] = []
        self._unsubscribe: Any = None
        self._last_flush = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush)
        #: flushes done (the benchmark and tests read it)
        self.flushes = 0

    # ------------------------------------------------------------------ engine side

    def attach(self, run: Any) -> None:
        """Listen to ``run`` (call before ``run.execute()`` so no event is missed)."""
        self.detach()
        self._unsubscribe = run.events.subscribe(self.on_event)

    def detach(self) -> None:
        """Stop listening (queued events are still flushed)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def on_event(self, event: Event) -> None:
        """Engine callback: queue and make sure a flush is scheduled. Never raises."""
        try:
            self._queue.append(event)
            if not self._timer.isActive():
                since = (time.monotonic() - self._last_flush) * 1000.0
                self._timer.start(max(0, int(self.frame_ms - since)))
        except Exception as exc:  # pragma: no cover - defensive: the run must go on
            log.exception("live bridge could not queue %s", getattr(event, "kind", event))
            self._report(f"live view: could not queue an event: {exc}")

    # ------------------------------------------------------------------ Qt side

    def pending(self) -> int:
        """Events queued and not yet forwarded."""
        return len(self._queue)

    def flush(self) -> None:
        """Forward everything queued as one batch per signal (also callable directly)."""
        self._timer.stop()
        self._last_flush = time.monotonic()
        batch, self._queue = self._queue, []
        if not batch:
            return
        self.flushes += 1
        started: RunStarted | None = None
        finished: RunFinished | None = None
        nodes: list[Event] = []
        logs: dict[str, list[str]] = {}
        progress: Progress | None = None
        paused: bool | None = None
        children: dict[str, tuple[int, int]] = {}
        for ev in batch:
            if isinstance(ev, (NodeStateChanged, NodeRetryScheduled)):
                nodes.append(ev)
            elif isinstance(ev, NodeLog):
                logs.setdefault(ev.node_id, []).append(ev.line)
            elif isinstance(ev, Progress):
                progress = ev
            elif isinstance(ev, SubworkflowProgress):
                children[ev.node_id] = (ev.done, ev.total)
            elif isinstance(ev, RunPaused):
                paused = True
            elif isinstance(ev, RunResumed):
                paused = False
            elif isinstance(ev, RunStarted):
                started = ev
            elif isinstance(ev, RunFinished):
                finished = ev
        if started is not None:
            self._emit(self.runStarted, started)
        # Lines before states: a node's stderr reaches the Output log ahead of the
        # "✗ node: error" line its failure adds (they used to read the other way round).
        if logs:
            self._emit(self.logLines, logs)
        if nodes:
            self._emit(self.nodeEvents, nodes)
        if progress is not None:
            self._emit(self.progressChanged, progress.done, progress.total)
        if children:
            self._emit(self.subworkflowProgress, children)
        if paused is not None:
            self._emit(self.pausedChanged, paused)
        if finished is not None:
            self._emit(self.runFinished, finished)

    def _emit(self, signal: Any, *args: Any) -> None:
        try:
            signal.emit(*args)
        except Exception as exc:  # a receiver failed: report, keep forwarding the rest
            log.exception("live bridge receiver failed")
            self._report(f"live view error: {type(exc).__name__}: {exc}")

    def _report(self, text: str) -> None:
        try:
            self.failed.emit(text)
        except Exception:  # pragma: no cover - nothing left to tell
            log.exception("could not report a live bridge failure")
