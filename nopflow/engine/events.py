"""Events a run emits, and the bus that delivers (front ends only listen: docs/architecture.md).

Every event is a frozen dataclass with ``to_dict()`` giving a JSON-able dict whose
``"event"`` key names the kind — the exact line format of ``nopflow run --events``.

Delivery is synchronous, on the event loop, in emission order, to every subscriber. That
makes ordering trivial (a GUI bridge that subscribes before ``Run.execute`` sees every event
in order) and keeps the runner free of queues. The price is that subscribers must be cheap:
buffer and return (the CLI prints a line; the GUI bridge coalesces and forwards to Qt).
A subscriber that raises is logged and skipped; it never breaks the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all run events. ``time`` is wall-clock epoch seconds."""

    kind: ClassVar[str] = "event"
    run_id: str
    time: float

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {"event": self.kind, **data}


@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    workflow_id: str = ""
    workflow_name: str = ""
    total: int = 0
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunPaused(Event):
    kind: ClassVar[str] = "run_paused"


@dataclass(frozen=True, slots=True)
class RunResumed(Event):
    kind: ClassVar[str] = "run_resumed"


@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    kind: ClassVar[str] = "run_finished"
    status: str = "completed"
    duration_ms: int = 0
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class NodeStateChanged(Event):
    """A node's state changed (the runner builds it by field position: keep the order)."""

    kind: ClassVar[str] = "node_state"
    node_id: str = ""
    state: str = "pending"
    attempt: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    duration_ms: int | None = None
    error: str | None = None
    error_type: str | None = None
    #: loop body nodes: the item index this state belongs to
    iteration: int | None = None
    #: on success: the output ports that fired (a condition's taken branch); None = all
    ports: tuple[str, ...] | None = None
    #: where the output came from: ran, cached, reused or pinned (docs/partial-runs.md)
    source: str = "ran"
    #: for reused nodes: the run that kept the output
    reused_from: str | None = None


@dataclass(frozen=True, slots=True)
class NodeLog(Event):
    kind: ClassVar[str] = "node_log"
    node_id: str = ""
    line: str = ""
    stream: str = "stderr"


@dataclass(frozen=True, slots=True)
class NodeRetryScheduled(Event):
    kind: ClassVar[str] = "node_retry"
    node_id: str = ""
    #: the attempt that will run after the delay
    attempt: int = 0
    delay_s: float = 0.0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Progress(Event):
    kind: ClassVar[str] = "progress"
    done: int = 0
    total: int = 0


@dataclass(frozen=True, slots=True)
class SubworkflowStarted(Event):
    """A sub-workflow node started its child run (kept in the child's own history)."""

    kind: ClassVar[str] = "subworkflow_started"
    node_id: str = ""
    child_run_id: str = ""
    workflow_id: str = ""
    file: str = ""
    total: int = 0


@dataclass(frozen=True, slots=True)
class SubworkflowProgress(Event):
    """How far a sub-workflow node's child run is: ``done`` of ``total`` nodes finished."""

    kind: ClassVar[str] = "subworkflow_progress"
    node_id: str = ""
    child_run_id: str = ""
    done: int = 0
    total: int = 0


Subscriber = Callable[[Event], object]


class EventBus:
    """Fan-out of events to plain callables, synchronously and in order."""

    __slots__ = ("_subscribers", "active")

    def __init__(self) -> None:
        self._subscribers: tuple[Subscriber, ...] = ()
        #: whether anyone listens; the runner skips building events when nobody does (a
        #: plain attribute, not a property: it is read several times per node)
        self.active = False

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every later event; returns an unsubscribe function."""
        self._subscribers = (*self._subscribers, callback)
        self.active = True

        def unsubscribe() -> None:
            self._subscribers = tuple(s for s in self._subscribers if s is not callback)
            self.active = bool(self._subscribers)

        return unsubscribe

    def emit(self, event: Event) -> None:
        """Deliver ``event``; a failing subscriber is logged, the others still get it."""
        for callback in self._subscribers:  # a tuple: safe if a callback (un)subscribes
            try:
                callback(event)
            except Exception:
                log.exception("event subscriber %r failed on %s", callback, event.kind)
