"""Live-run display: latency from an engine event to the node's repaint, and history open time.

    python benchmarks/live_updates.py            # 1,000 nodes, synthetic + real run
    python benchmarks/live_updates.py --smoke    # small N, for CI

Three measurements, all through the real window (offscreen) and the real `RunBridge`:

1. synthetic: engine `NodeStateChanged` events for a 1,000-node workflow are fed into the
   bridge at ~10,000 events/s (bursts every 2 ms, random nodes, running→success/error);
2. real: a real `Run` of 1,000 delay-0 nodes (fan-out from start) started with Run;
3. history: selecting a kept run of 1,000 nodes in the History dock (recolours the canvas).

Latency is measured from the moment the event is handed to the bridge to the moment the
node item's `paint()` is next called (hooked), i.e. the state is on screen. Goals: median
≤ 16 ms, p99 ≤ 50 ms; history open ≤ 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

_tmp = tempfile.mkdtemp(prefix="nopflow-bench-")
os.environ.setdefault("NOPFLOW_DATA_DIR", str(Path(_tmp) / "data"))
os.environ.setdefault("NOPFLOW_CONFIG_DIR", str(Path(_tmp) / "config"))

import qasync  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from nopflow.engine.events import EventBus, NodeStateChanged  # noqa: E402
from nopflow.model import Workflow  # noqa: E402
from nopflow.model.records import NodeRecordData  # noqa: E402
from nopflow.storage.history import HistoryStore, RunRecord  # noqa: E402
from nopflow.ui.items.node_item import NodeItem  # noqa: E402


def make_workflow(n: int) -> Workflow:
    """start → (n-1) delay-0 nodes, in a grid (fan-out: they all become ready at once)."""
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "start", "position": [-300, 0]}]
    edges = []
    per_row = 40
    for i in range(1, n):
        r, c = divmod(i - 1, per_row)
        nodes.append({"id": f"n{i}", "type": "delay", "config": {"seconds": 0},
                      "position": [c * 240, r * 110]})
        edges.append({"id": f"e{i}", "source": "start", "target": f"n{i}"})
    return Workflow.model_validate({"name": "Live bench", "nodes": nodes, "edges": edges,
                                    "settings": {"max_parallel": 64}})


class PaintProbe:
    """Hooks NodeItem.paint and turns 'emitted at' stamps into event→paint latencies."""

    def __init__(self) -> None:
        self.waiting: dict[str, list[float]] = defaultdict(list)
        self.latencies: list[float] = []
        self._orig = NodeItem.paint
        probe = self

        def paint(item: NodeItem, *args: Any) -> None:
            probe._orig(item, *args)
            stamps = probe.waiting.pop(item.node_id, None)
            if stamps:
                now = time.perf_counter()
                probe.latencies.extend(now - t for t in stamps)

        NodeItem.paint = paint  # type: ignore[method-assign]

    def emitted(self, node_id: str) -> None:
        self.waiting[node_id].append(time.perf_counter())

    def reset(self) -> None:
        self.waiting.clear()
        self.latencies.clear()


def stats(values: list[float]) -> str:
    if not values:
        return "no samples"
    ms = sorted(v * 1000 for v in values)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return (f"median {statistics.median(ms):6.2f} ms   p99 {p99:6.2f} ms   "
            f"max {ms[-1]:6.2f} ms   (n={len(ms)})")


class _FakeRun:
    """Just enough of `Run` for the bridge: an event bus."""

    def __init__(self) -> None:
        self.events = EventBus()


async def synthetic(win: Any, probe: PaintProbe, n: int, total_events: int) -> None:
    ids = list(win.scene.nodes)
    bus_run = _FakeRun()
    bridge = win.live.bridge
    bridge.attach(bus_run)
    rng = random.Random(3)
    t0 = time.time()
    sent = 0
    while sent < total_events:
        for _ in range(20):  # a burst of 20 events every ~2 ms ≈ 10,000 events/s
            nid = rng.choice(ids)
            state = rng.choice(("running", "success", "success", "error"))
            ev = NodeStateChanged("bench", time.time(), node_id=nid, state=state, attempt=1,
                                  started_at=t0, duration_ms=5 if state != "running" else None)
            probe.emitted(nid)
            bus_run.events.emit(ev)
            sent += 1
        await asyncio.sleep(0.002)
    await asyncio.sleep(0.3)
    bridge.detach()
    print(f"  bridge flushes: {bridge.flushes} for {sent} events")


async def real_run(win: Any, probe: PaintProbe) -> None:
    bridge = win.live.bridge
    original = bridge.on_event

    def timed(ev: Any) -> None:
        if isinstance(ev, NodeStateChanged):
            probe.emitted(ev.node_id)
        original(ev)

    bridge.on_event = timed  # type: ignore[method-assign]
    t0 = time.perf_counter()
    win.live.start()
    while win.live.task is None or not win.live.task.done():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    bridge.on_event = original  # type: ignore[method-assign]
    run = win.live.run
    print(f"  run {run.state.value}: {len(run.nodes)} nodes in {run.duration_s * 1000:.0f} ms "
          f"(wall incl. history write {1000 * (time.perf_counter() - t0):.0f} ms), "
          f"bridge flushes {bridge.flushes}")


async def history_open(win: Any, n: int, repeat: int) -> list[float]:
    wid = win.doc.header.id
    rng = random.Random(5)
    rec = RunRecord(
        run_id="bench-run", workflow_id=wid, workflow_name="Live bench", status="failed",
        started_at="2030-01-01T00:00:00.000Z", duration_ms=4321,
        nodes={nid: NodeRecordData(status=rng.choice(("success", "success", "error",
                                                        "skipped")),
                                   duration_ms=rng.randrange(1, 900), attempts=1,
                                   output={"i": i}, error=None)
               for i, nid in enumerate(win.scene.nodes)})
    HistoryStore().record(rec)
    panel = win.live.history
    panel.refresh()
    while not any(r.run_id == "bench-run" for r in panel.runs):
        await asyncio.sleep(0.01)
    index = next(i for i, r in enumerate(panel.runs) if r.run_id == "bench-run")
    times = []
    for _ in range(repeat):
        panel.back_to_live()
        await asyncio.sleep(0.02)
        t0 = time.perf_counter()
        panel.select_run(index)
        times.append(time.perf_counter() - t0)
        await asyncio.sleep(0.02)
    return times


async def main(n: int, events: int, repeat: int) -> None:
    from nopflow.ui.main_window import MainWindow
    from nopflow.ui.theme import apply_theme

    apply_theme("light")
    probe = PaintProbe()
    win = MainWindow()
    win.resize(1600, 1000)
    win.show()
    win.set_workflow(make_workflow(n), None)
    await asyncio.sleep(0.5)
    win.view.fit_all()
    await asyncio.sleep(0.3)
    print(f"nodes: {len(win.scene.nodes)}, view zoom {win.view.zoom():.2f}")

    probe.reset()
    await synthetic(win, probe, n, events)
    print(f"synthetic event → repaint: {stats(probe.latencies)}")

    probe.reset()
    await real_run(win, probe)
    print(f"real run event → repaint:  {stats(probe.latencies)}")

    times = await history_open(win, n, repeat)
    ms = sorted(t * 1000 for t in times)
    print(f"history open ({n} nodes): median {statistics.median(ms):.2f} ms, "
          f"best {ms[0]:.2f} ms, worst {ms[-1]:.2f} ms (n={len(ms)})")
    win.undo.setClean()
    win._recovered = False
    await win.live.aclose()  # the window's warm sandbox goes before the loop does
    win.shutdown()
    win.hide()
    from nopflow.ui.live.run_controller import drain_background

    await drain_background()


def cli() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="small sizes, for CI")
    args = ap.parse_args()
    n, events, repeat = (200, 1000, 5) if args.smoke else (1000, 10_000, 20)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            loop.run_until_complete(main(n, events, repeat))
    finally:
        shutil.rmtree(_tmp, ignore_errors=True)
    print("goals: median ≤ 16 ms, p99 ≤ 50 ms; history open ≤ 10 ms")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
