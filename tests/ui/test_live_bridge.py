"""The engine → Qt bridge: batches per frame, keeps order, never raises into the engine."""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest

pytest.importorskip("PySide6")

from nopflow.engine.events import (
    EventBus,
    NodeLog,
    NodeStateChanged,
    Progress,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
)
from nopflow.ui.live import errors
from nopflow.ui.live.bridge import RunBridge


class FakeRun:
    def __init__(self) -> None:
        self.events = EventBus()


def state(nid: str, st: str) -> NodeStateChanged:
    return NodeStateChanged("r", time.time(), node_id=nid, state=st, attempt=1)


def test_a_burst_is_forwarded_as_one_ordered_batch(qtbot, qapp):  # type: ignore[no-untyped-def]
    bridge = RunBridge()
    run = FakeRun()
    bridge.attach(run)
    batches: list[list[Any]] = []
    logs: list[dict[str, list[str]]] = []
    progress: list[tuple[int, int]] = []
    order: list[str] = []
    bridge.runStarted.connect(lambda e: order.append("started"))
    bridge.nodeEvents.connect(lambda evs: (batches.append(evs), order.append("nodes")))
    bridge.logLines.connect(logs.append)
    bridge.progressChanged.connect(lambda d, t: progress.append((d, t)))
    bridge.runFinished.connect(lambda e: order.append("finished"))

    run.events.emit(RunStarted("r", time.time(), total=500))
    for i in range(500):
        run.events.emit(state(f"n{i}", "running"))
        run.events.emit(NodeLog("r", time.time(), node_id=f"n{i}", line=f"line {i}"))
        run.events.emit(state(f"n{i}", "success"))
        run.events.emit(Progress("r", time.time(), done=i + 1, total=500))
    run.events.emit(RunFinished("r", time.time(), status="completed"))
    assert not batches and bridge.pending() == 2002  # nothing forwarded inside the burst
    qtbot.waitUntil(lambda: bool(batches), timeout=2000)
    assert bridge.flushes == 1 and len(batches) == 1
    assert [(e.node_id, e.state) for e in batches[0][:4]] == [
        ("n0", "running"), ("n0", "success"), ("n1", "running"), ("n1", "success")]
    assert len(batches[0]) == 1000
    assert logs == [{f"n{i}": [f"line {i}"] for i in range(500)}]
    assert progress == [(500, 500)]  # only the latest
    assert order == ["started", "nodes", "finished"]


def test_flushes_are_paced_to_frames(qtbot, qapp):  # type: ignore[no-untyped-def]
    bridge = RunBridge()
    run = FakeRun()
    bridge.attach(run)
    got: list[int] = []
    bridge.nodeEvents.connect(lambda evs: got.append(len(evs)))
    t0 = time.monotonic()
    sent = 0
    # a burst of at least 0.2 s and 50 events, one per loop turn (a busy machine makes
    # turns slower: the bound below follows the time the burst really took)
    while time.monotonic() - t0 < 0.2 or sent < 50:
        run.events.emit(state("a", "running"))
        sent += 1
        qtbot.wait(1)
    burst_ms = (time.monotonic() - t0) * 1000
    qtbot.waitUntil(lambda: sum(got) == sent, timeout=2000)
    # at most one flush per 16 ms frame (+1 for the first, immediate one, +1 slack)
    assert bridge.flushes <= burst_ms / 16 + 3, (bridge.flushes, burst_ms)
    assert bridge.flushes >= 3  # but it does forward during the burst, not only at the end


def test_pause_state_and_detach(qtbot, qapp):  # type: ignore[no-untyped-def]
    bridge = RunBridge()
    run = FakeRun()
    bridge.attach(run)
    paused: list[bool] = []
    bridge.pausedChanged.connect(paused.append)
    run.events.emit(RunPaused("r", time.time()))
    bridge.flush()
    run.events.emit(RunResumed("r", time.time()))
    run.events.emit(RunPaused("r", time.time()))
    run.events.emit(RunResumed("r", time.time()))
    bridge.flush()
    assert paused == [True, False]
    bridge.detach()
    run.events.emit(RunPaused("r", time.time()))
    assert bridge.pending() == 0


def test_excepthook_reports_instead_of_aborting(monkeypatch):  # type: ignore[no-untyped-def]
    shown: list[str] = []
    remove = errors.add_sink(shown.append)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    try:
        errors.install_excepthook()
        try:
            raise ValueError("slot blew up")
        except ValueError:
            sys.excepthook(*sys.exc_info())  # what Qt does with a slot's exception
        assert shown and "ValueError: slot blew up" in shown[-1]

        @errors.guarded("panel")
        def bad() -> None:
            raise KeyError("x")

        assert bad() is None
        assert "panel: KeyError" in shown[-1]
    finally:
        remove()


def test_log_lines_come_before_the_state_change_that_ends_their_node(qtbot, qapp):  # type: ignore[no-untyped-def]
    """The Output log reads 'stderr…' then '✗ node: error', not the failure first."""
    bridge = RunBridge()
    run = FakeRun()
    bridge.attach(run)
    order: list[str] = []
    bridge.nodeEvents.connect(lambda evs: order.append("nodes"))
    bridge.logLines.connect(lambda logs: order.append("logs"))
    run.events.emit(NodeLog("r", time.time(), node_id="bad", line="reading"))
    run.events.emit(state("bad", "error"))
    qtbot.waitUntil(lambda: len(order) == 2, timeout=2000)
    assert order == ["logs", "nodes"]
