"""Run and node states (docs/execution.md) and the mutable records the runner keeps per node.

The records are plain slotted objects, written only by the runner on the event loop; front
ends follow changes through events and read a record through `NodeRecord.to_data()`, the
one serialisable shape (`nopflow.model.records.NodeRecordData`) history, the CLI's
``--json`` and the editor share.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from nopflow.model.records import NodeRecordData, attempt_entry, iso

if TYPE_CHECKING:
    from nopflow.model.redact import Redactor


class NodeState(str, Enum):
    """Where a node is. A `str` enum so it compares with, and serialises as, its value."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value


class RunState(str, Enum):
    """`idle → running ⇄ paused → completed | failed | cancelled`."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value

    @property
    def finished(self) -> bool:
        return self in (RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED)


#: How many stderr/log lines a node record keeps while the run goes on.
LOG_TAIL_LINES = 200
#: How many of them its serialised shape keeps as ``stderr_tail`` (history, run views).
KEPT_LOG_LINES = 50


@dataclass(slots=True)
class AttemptRecord:
    """One try of a node (retries make several); kept so history shows every attempt."""

    attempt: int
    started_at: float
    ended_at: float | None = None
    duration_s: float | None = None
    error: str | None = None
    error_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return attempt_entry(self.attempt, self.started_at, self.ended_at, self.duration_s,
                             self.error, self.error_type)


@dataclass(slots=True)
class NodeRecord:
    """The latest state of one node in a run.

    Inside a loop body a node runs once per item; the record shows the latest iteration
    (``iteration`` is its index, ``iterations`` how many have started) so the canvas can
    show one state per node without keeping thousands of copies.
    """

    node_id: str
    title: str = ""
    type: str = ""
    state: NodeState = NodeState.PENDING
    attempt: int = 0
    #: wall-clock epoch seconds (for people); durations come from the monotonic clock
    started_at: float | None = None
    ended_at: float | None = None
    duration_s: float | None = None
    inputs: Any = None
    output: Any = None
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    stderr_tail: str | None = None
    iteration: int | None = None
    iterations: int = 0
    attempts: list[AttemptRecord] = field(default_factory=list)
    #: block-specific facts worth showing, e.g. a condition's decision
    details: dict[str, Any] = field(default_factory=dict)
    logs: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_TAIL_LINES))
    #: where the output came from: ran, cached, reused (from run ``reused_from``), pinned
    source: str = "ran"
    reused_from: str | None = None

    def reset_for_iteration(self, iteration: int) -> None:
        """Forget the previous iteration's result before the body runs this node again."""
        self.iteration = iteration
        self.iterations += 1
        self.attempt = 0
        self.started_at = self.ended_at = self.duration_s = None
        self.inputs = self.output = None
        self.error = self.error_type = self.traceback = self.stderr_tail = None
        self.attempts = []
        self.details = {}

    @property
    def duration_ms(self) -> int | None:
        return None if self.duration_s is None else round(self.duration_s * 1000)

    def to_data(self) -> NodeRecordData:
        """The record in its one serialisable shape (a snapshot; the record goes on)."""
        tail = self.stderr_tail
        if not tail and self.logs:
            tail = "\n".join(list(self.logs)[-KEPT_LOG_LINES:])
        return NodeRecordData(
            node_id=self.node_id,
            title=self.title,
            type=self.type,
            status=self.state.value,
            attempts=self.attempt,
            attempt_log=tuple(a.to_dict() for a in self.attempts),
            started_at=iso(self.started_at),
            ended_at=iso(self.ended_at),
            duration_ms=self.duration_ms,
            inputs=self.inputs,
            output=self.output,
            error=self.error,
            error_type=self.error_type,
            traceback=self.traceback,
            stderr_tail=tail,
            iteration=self.iteration,
            iterations=self.iterations,
            details=dict(self.details),
            source=self.source,
            reused_from=self.reused_from,
        )

    def summary(self, redactor: Redactor | None = None) -> dict[str, Any]:
        """The `--json` per-node shape (docs/cli.md), its values redacted by ``redactor``."""
        data = self.to_data()
        return (data if redactor is None else data.redacted(redactor)).summary()
