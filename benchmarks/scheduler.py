"""The scheduler under load: fire lateness with many interval triggers, and idle CPU.

100 enabled workflows (``--workflows``) with a 1 s interval trigger each run for
``--seconds`` in one `TriggerScheduler` (the same object `nopflow scheduler` runs); every
fire's lateness (taken when the timer fires, before the run is made) is collected and
printed as p50/p99/max beside a bare `asyncio.sleep` timer measured in the same run. The
idle figure is the process CPU time over ``--idle`` seconds with one enabled workflow whose
only trigger is a cron far away. ``--smoke`` is short (for CI).

    python benchmarks/scheduler.py [--smoke] [--workflows N] [--seconds S] [--idle S]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def write(folder: Path, wf_id: str, trigger: dict) -> Path:
    doc = {"format": "nopflow/workflow", "version": 2, "id": wf_id, "name": wf_id,
           "nodes": [{"id": "start", "type": "start"},
                     {"id": "out", "type": "output", "config": {"values": {"n": 1}}}],
           "edges": [{"id": "e", "source": "start", "target": "out"}],
           "triggers": [trigger], "settings": {"overlap": "allow"}}
    path = folder / f"{wf_id}.nopflow.json"
    path.write_text(json.dumps(doc))
    return path


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def baseline(n: int, seconds: float) -> list[float]:
    """Lateness of n bare asyncio timers ticking every second: the loop's own floor."""
    loop = asyncio.get_running_loop()
    late: list[float] = []

    async def tick() -> None:
        start = loop.time()
        k = 1
        while start + k <= start + seconds:
            due = start + k
            await asyncio.sleep(due - loop.time())
            late.append(loop.time() - due)
            k += 1

    await asyncio.gather(*(tick() for _ in range(n)))
    return late


async def loaded(n: int, seconds: float, folder: Path) -> list[float]:
    from nopflow.triggers import registry
    from nopflow.triggers.scheduler import TriggerScheduler

    for i in range(n):
        registry.enable(write(folder, f"wf{i}", {"id": "tick", "type": "interval",
                                                 "seconds": 1}))
    late: list[float] = []
    sched = TriggerScheduler(port=0, stream=io.StringIO(),
                             on_fire=lambda _fire, lateness: late.append(lateness))
    await sched.run(seconds + 0.5)
    for i in range(n):
        registry.disable(folder / f"wf{i}.nopflow.json")
    return late


async def idle(seconds: float, folder: Path) -> float:
    from nopflow.triggers import registry
    from nopflow.triggers.scheduler import TriggerScheduler

    registry.enable(write(folder, "idle", {"id": "yearly", "type": "cron",
                                           "cron": "0 0 1 1 *"}))
    sched = TriggerScheduler(port=0, stream=io.StringIO())
    task = asyncio.ensure_future(sched.run(seconds + 2))
    await asyncio.sleep(2)  # loaded and settled
    c0, t0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    used = (time.process_time() - c0) / (time.monotonic() - t0)
    sched.stop()
    await task
    return used


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--workflows", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--idle", type=float, default=30)
    args = ap.parse_args()
    if args.smoke:
        args.workflows, args.seconds, args.idle = 20, 3, 2
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ["NOPFLOW_DATA_DIR"] = str(base / "data")
        os.environ["NOPFLOW_CONFIG_DIR"] = str(base / "config")
        (base / "flows").mkdir()
        floor = asyncio.run(baseline(args.workflows, args.seconds))
        late = asyncio.run(loaded(args.workflows, args.seconds, base / "flows"))
        cpu = asyncio.run(idle(args.idle, base / "flows"))
    expected = args.workflows * int(args.seconds)
    print(f"{args.workflows} workflows x 1 s interval for {args.seconds:g} s: "
          f"{len(late)} fires (expected ~{expected})")
    if not late:
        print("no fires measured", file=sys.stderr)
        return 1
    ms = [v * 1000 for v in late]
    fl = [v * 1000 for v in floor]
    print(f"  fire lateness  p50 {pct(ms, 50):7.2f} ms  p99 {pct(ms, 99):7.2f} ms  "
          f"max {max(ms):7.2f} ms")
    print(f"  bare timers    p50 {pct(fl, 50):7.2f} ms  p99 {pct(fl, 99):7.2f} ms  "
          f"max {max(fl):7.2f} ms   (asyncio.sleep, same run)")
    drift = statistics.mean(ms[-args.workflows:]) - statistics.mean(ms[:args.workflows])
    print(f"  drift (last round - first round mean lateness): {drift:+.2f} ms")
    print(f"idle scheduler CPU over {args.idle:g} s: {cpu * 100:.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
