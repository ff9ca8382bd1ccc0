"""The one serialisable shape of a node's part of a run (docs/history.md, docs/cli.md).

The engine produces it (`NodeRecord.to_data()`), history stores its `to_dict()`, the CLI's
``--json`` prints its `summary()`, and the editor's run views show it — live or kept. A
partial run seeds a node from a past run's record, so the record says where its output
came from (``source``; ``reused_from`` for reused ones).

It lives in the model (below engine and storage) so storage reads it without the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from nopflow.model.redact import Redactor

#: where a node's output came from (docs/partial-runs.md)
SOURCES = ("ran", "cached", "reused", "pinned")


def iso(ts: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC (``2026-01-31T12:00:00.123Z``)."""
    if ts is None:
        return None
    return (
        datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def attempt_entry(
    attempt: int,
    started_at: float | None,
    ended_at: float | None,
    duration_s: float | None,
    error: str | None,
    error_type: str | None,
) -> dict[str, Any]:
    """One try of a node, as the record keeps it in ``attempt_log``."""
    return {
        "attempt": attempt,
        "started_at": iso(started_at),
        "ended_at": iso(ended_at),
        "duration_ms": _ms(duration_s),
        "error": error,
        "error_type": error_type,
    }


def _read_attempt(entry: Any) -> dict[str, Any] | None:
    """An ``attempt_log`` entry; older history files kept epoch seconds and ``duration_s``."""
    if not isinstance(entry, dict):
        return None
    out = dict(entry)
    for key in ("started_at", "ended_at"):
        if isinstance(out.get(key), (int, float)) and not isinstance(out.get(key), bool):
            out[key] = iso(out[key])
    if "duration_ms" not in out and isinstance(out.get("duration_s"), (int, float)):
        out["duration_ms"] = _ms(out["duration_s"])
    out.pop("duration_s", None)
    return out


@dataclass(frozen=True, slots=True)
class NodeRecordData:
    """One node of one run: status, attempts, timings, data, failure and provenance."""

    #: the `--json` per-node keys (docs/cli.md)
    SUMMARY_KEYS: ClassVar[tuple[str, ...]] = (
        "status", "attempts", "duration_ms", "output", "error", "source", "reused_from",
    )

    node_id: str = ""
    title: str = ""
    type: str = ""
    #: pending, running, success, error, skipped or cancelled
    status: str = "pending"
    #: how many attempts ran (retries make several); each one is in ``attempt_log``
    attempts: int = 0
    attempt_log: tuple[dict[str, Any], ...] = ()
    #: ISO 8601 UTC
    started_at: str | None = None
    ended_at: str | None = None
    duration_ms: int | None = None
    inputs: Any = None
    output: Any = None
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    #: the node's log tail: a script's stderr and the lines the block logged
    stderr_tail: str | None = None
    #: inside a loop body: the latest item's index, and how many items ran the node
    iteration: int | None = None
    iterations: int = 0
    #: block-specific facts worth showing, e.g. the ports a condition fired
    details: dict[str, Any] = field(default_factory=dict)
    source: str = "ran"
    reused_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["attempt_log"] = list(self.attempt_log)
        return out

    def redacted(self, redactor: Redactor) -> NodeRecordData:
        """A copy with the run's secrets hidden in every value and text it holds."""
        red = redactor
        if not red:
            return self
        return replace(
            self,
            inputs=red.value(self.inputs),
            output=red.value(self.output),
            error=red.text(self.error),
            traceback=red.text(self.traceback),
            stderr_tail=red.text(self.stderr_tail),
            attempt_log=tuple({**a, "error": red.text(a.get("error"))}
                              for a in self.attempt_log),
            details=red.value(self.details),
        )

    def summary(self) -> dict[str, Any]:
        """The `--json` per-node shape (docs/cli.md)."""
        return {key: getattr(self, key) for key in self.SUMMARY_KEYS}

    @classmethod
    def from_dict(cls, data: dict[str, Any], node_id: str | None = None) -> NodeRecordData:
        """Read a stored record (any history version); unknown keys are ignored."""
        known = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        if node_id is not None and not known.get("node_id"):
            known["node_id"] = node_id
        known.setdefault("status", "pending")
        log = known.get("attempt_log")
        known["attempt_log"] = tuple(
            e for e in (_read_attempt(x) for x in (log if isinstance(log, list) else ()))
            if e is not None
        )
        if not isinstance(known.get("details"), dict):
            known["details"] = {}
        return cls(**known)
