"""Engine overhead per node, beside a bare-asyncio baseline in the same process.

The workflow is layered: ``--layers`` layers of ``--width`` `delay 0` nodes, each node fed
by up to ``--fan-in`` nodes of the layer before (2,000 nodes by default). The baseline
runs the same graph as one asyncio task per node awaiting its predecessors' futures, which
is the least any dependency-driven asyncio scheduler can do.

Figures are CPU time of this process (the run is one thread with no I/O, so that is its
cost), best of ``--repeat``. Baseline and engine run back to back in each round and the
ratio is the median of the rounds' ratios, so a busy spell on a shared machine slows both
sides of a round alike. Goal: ≤ 2× the baseline. ``--smoke`` runs a small graph (for CI) and
fails (exit 1) only on a gross regression.

    python benchmarks/engine_overhead.py [--smoke] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import statistics
import sys
import time
from typing import Any

from nopflow.engine.compiler import compile_workflow
from nopflow.engine.runner import Run
from nopflow.model import Workflow


def layered(layers: int, width: int, fan_in: int, max_parallel: int) -> Workflow:
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "start"}]
    edges: list[dict[str, Any]] = []
    prev = ["start"]
    for layer in range(layers):
        current = []
        for i in range(width):
            nid = f"n{layer}_{i}"
            nodes.append({"id": nid, "type": "delay", "config": {"seconds": 0}})
            for k in range(min(fan_in, len(prev))):
                src = prev[(i + k) % len(prev)]
                edges.append({"id": f"e{len(edges)}", "source": src, "target": nid})
            current.append(nid)
        prev = current
    return Workflow.model_validate(
        {"name": "bench", "settings": {"max_parallel": max_parallel}, "nodes": nodes,
         "edges": edges}
    )


def preds_of(wf: Workflow) -> dict[str, list[str]]:
    preds: dict[str, list[str]] = {n.id: [] for n in wf.nodes}
    for e in wf.edges:
        preds[e.target].append(e.source)
    return preds


async def baseline(preds: dict[str, list[str]]) -> float:
    """One task per node awaiting its predecessors (the floor for this shape of work)."""
    loop = asyncio.get_running_loop()
    done: dict[str, asyncio.Future[None]] = {nid: loop.create_future() for nid in preds}

    async def node(nid: str) -> None:
        for p in preds[nid]:
            await done[p]
        done[nid].set_result(None)

    t0 = time.process_time()
    await asyncio.gather(*(node(nid) for nid in preds))
    return time.process_time() - t0


async def engine(wf: Workflow, listen: bool) -> tuple[float, float]:
    t0 = time.process_time()
    plan = compile_workflow(wf)
    run = Run(plan)
    prepared = time.process_time() - t0
    if listen:
        sink: list[Any] = []
        run.events.subscribe(sink.append)
    t0 = time.process_time()
    await run.execute()
    took = time.process_time() - t0
    assert run.status == "completed", run.status
    return took, prepared


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=20)
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--fan-in", type=int, default=2)
    ap.add_argument("--max-parallel", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--smoke", action="store_true", help="small and quick (CI)")
    ap.add_argument("--profile", action="store_true", help="cProfile one engine run")
    args = ap.parse_args(argv)
    if args.smoke:
        args.layers, args.width, args.repeat = 5, 40, 3
    wf = layered(args.layers, args.width, args.fan_in, args.max_parallel)
    n = len(wf.nodes)
    preds = preds_of(wf)

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        asyncio.run(engine(wf, listen=False))
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)

    base_times: list[float] = []
    quiet_times: list[float] = []
    listen_times: list[float] = []
    prep_times: list[float] = []
    for _ in range(args.repeat):
        gc.collect()
        base_times.append(asyncio.run(baseline(preds)))
        gc.collect()
        took, prep = asyncio.run(engine(wf, listen=False))
        quiet_times.append(took)
        prep_times.append(prep)
        gc.collect()
        listen_times.append(asyncio.run(engine(wf, listen=True))[0])

    def us(times: list[float]) -> float:
        return min(times) / n * 1e6

    def ratio(times: list[float]) -> float:
        return statistics.median(t / b for t, b in zip(times, base_times, strict=True))

    base, quiet, listen, prep = us(base_times), us(quiet_times), us(listen_times), us(prep_times)
    print(f"nodes: {n} ({args.layers} layers x {args.width}, fan-in {args.fan_in}, "
          f"max_parallel {args.max_parallel}); CPU time, best of {args.repeat}")
    print(f"  bare asyncio baseline      {base:7.1f} us/node")
    quiet_x, listen_x = ratio(quiet_times), ratio(listen_times)
    print(f"  engine, no subscribers     {quiet:7.1f} us/node  ({quiet_x:4.1f}x baseline)")
    print(f"  engine, one subscriber     {listen:7.1f} us/node  ({listen_x:4.1f}x baseline)")
    print(f"  compile + prepare run      {prep:7.1f} us/node  (once per run, not in the above)")
    goal_ok = quiet_x <= 2
    print(f"  goal (<= 2x baseline): {'met' if goal_ok else 'NOT met'}")
    if args.smoke:
        return 0 if quiet <= 400 else 1  # only a gross regression fails CI
    return 0 if goal_ok else 1


if __name__ == "__main__":
    sys.exit(main())
