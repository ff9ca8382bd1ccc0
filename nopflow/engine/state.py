"""Run and node states (DESIGN.md §4) and the mutable records the runner keeps per node.

The records are plain slotted objects, written only by the runner on the event loop; front
ends read them (the GUI inspector, the CLI's `--json`, the history writer) and follow
changes through events instead of polling.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

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

    @property
    def terminal(self) -> bool:
        """True for states a node leaves only when a loop body runs it again."""
        return self in _TERMINAL_NODE


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


_TERMINAL_NODE = frozenset(
    {NodeState.SUCCESS, NodeState.ERROR, NodeState.SKIPPED, NodeState.CANCELLED}
)

#: How many stderr/log lines a node record keeps (history keeps the tail only).
LOG_TAIL_LINES = 200


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
        return {
            "attempt": self.attempt,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_s": self.duration_s,
            "error": self.error,
            "error_type": self.error_type,
        }


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

    def summary(self, redactor: Redactor | None = None) -> dict[str, Any]:
        """The `--json` per-node shape (DESIGN.md §8), its values redacted by ``redactor``."""
        output, error = self.output, self.error
        if redactor is not None:
            output, error = redactor.value(output), redactor.text(error)
        return {
            "status": self.state.value,
            "attempts": self.attempt,
            "duration_ms": self.duration_ms,
            "output": output,
            "error": error,
        }
