"""Scale-out benchmark: the same workflow on the local executor and on Dask LocalClusters.

    python benchmarks/dask_scaleout.py            # full run (~1.5 min on 2 cores)
    python benchmarks/dask_scaleout.py --smoke    # a few small nodes, for CI

What it measures (everything on 127.0.0.1, clusters started and closed here):

* **CPU fan-out**: N independent ``python`` nodes, each burning ~0.2 s of CPU in its
  sandboxed child. ``local`` runs with ``max_parallel`` = cores; each Dask cluster gets
  ``max_parallel`` = 64 so the scheduler always has work queued. The ideal wall time is
  N × work / slots; the difference is scheduling + transport overhead.
* **Per-task overhead**: no-op scripts, as throughput (independent nodes, per node) and
  as latency (a chain, one node after another, per node) — local vs Dask.

Executors are connected and warmed up (zygote started) before timing; cluster start-up is
reported on its own line, since a long-lived cluster pays it once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nopflow.engine.executor import Executor
from nopflow.engine.runner import Run
from nopflow.executors.local import LocalExecutor
from nopflow.model import Workflow

CPU_CODE = (
    "import time\n"
    "t = time.process_time()\n"
    "while time.process_time() - t < {work}:\n"
    "    pass\n"
    "print('{{}}')\n"
)
NOOP_CODE = "print('{}')\n"


def fan_out(n: int, code: str, max_parallel: int) -> Workflow:
    """start -> n independent python nodes."""
    nodes: list[dict[str, Any]] = [{"id": "s", "type": "start", "config": {}}]
    edges = []
    for i in range(n):
        nodes.append({"id": f"p{i}", "type": "python", "config": {"code": code}})
        edges.append({"id": f"e{i}", "source": "s", "target": f"p{i}"})
    return Workflow.model_validate({"nodes": nodes, "edges": edges,
                                    "settings": {"max_parallel": max_parallel}})


def chain(n: int, code: str) -> Workflow:
    """start -> p0 -> p1 -> ... (each node waits for the previous one)."""
    nodes: list[dict[str, Any]] = [{"id": "s", "type": "start", "config": {}}]
    edges = []
    prev = "s"
    for i in range(n):
        nodes.append({"id": f"p{i}", "type": "python", "config": {"code": code}})
        edges.append({"id": f"e{i}", "source": prev, "target": f"p{i}"})
        prev = f"p{i}"
    return Workflow.model_validate({"nodes": nodes, "edges": edges})


async def timed_run(wf: Workflow, executor: Executor, project: Path) -> float:
    run = Run(wf, project_dir=project, executor=executor)
    t0 = time.perf_counter()
    await run.execute()
    wall = time.perf_counter() - t0
    if run.status != "completed":
        bad = next((f"{k}: {r.error}" for k, r in run.nodes.items() if r.error), "?")
        raise SystemExit(f"benchmark run {run.status}: {bad}")
    return wall


async def measure(label: str, executor: Executor, project: Path, args: argparse.Namespace,
                  slots: int, max_parallel: int) -> dict[str, float]:
    await timed_run(fan_out(slots, NOOP_CODE, max_parallel), executor, project)  # warm-up
    cpu = await timed_run(fan_out(args.nodes, CPU_CODE.format(work=args.work), max_parallel),
                          executor, project)
    noop = await timed_run(fan_out(args.noop, NOOP_CODE, max_parallel), executor, project)
    lat = await timed_run(chain(args.chain, NOOP_CODE), executor, project)
    ideal = args.nodes * args.work / slots
    row = {"cpu": cpu, "ideal": ideal, "noop": noop / args.noop * 1000,
           "chain": lat / args.chain * 1000}
    print(f"{label:<28} {slots:>5} {cpu:>8.2f} s {ideal:>7.2f} s {cpu / ideal:>6.2f}x "
          f"{row['noop']:>9.1f} ms {row['chain']:>9.1f} ms", flush=True)
    return row


async def main_async(args: argparse.Namespace) -> None:
    from distributed import LocalCluster

    from nopflow.executors.dask import DaskExecutor

    cores = os.cpu_count() or 1
    print(f"{args.nodes} nodes x {args.work} s CPU; no-op: {args.noop} independent, "
          f"chain of {args.chain}; {cores} cores", flush=True)
    print(f"{'executor':<28} {'slots':>5} {'fan-out':>10} {'ideal':>9} {'ratio':>7} "
          f"{'no-op/node':>12} {'chain/node':>12}", flush=True)
    project = Path(tempfile.mkdtemp(prefix="nopflow-bench-"))
    local = LocalExecutor()
    try:
        await measure(f"local (max_parallel={cores})", local, project, args, cores, cores)
    finally:
        await local.aclose()
    for spec in args.clusters:
        n_workers, threads = (int(x) for x in spec.split("x"))
        t0 = time.perf_counter()
        cluster = await asyncio.to_thread(
            LocalCluster, n_workers=n_workers, threads_per_worker=threads, processes=True,
            host="127.0.0.1", dashboard_address="127.0.0.1:0", silence_logs=40,
        )
        executor = DaskExecutor(cluster.scheduler_address)
        try:
            await executor.start()
            started = time.perf_counter() - t0
            await measure(f"dask {n_workers} worker x {threads} thread", executor, project,
                          args, n_workers * threads, 64)
            print(f"{'':<28} (cluster start + connect {started:.2f} s)", flush=True)
        finally:
            await executor.aclose()
            await asyncio.to_thread(cluster.close)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="few, short nodes (CI)")
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--work", type=float, default=0.2, help="CPU seconds per node")
    parser.add_argument("--noop", type=int, default=100)
    parser.add_argument("--chain", type=int, default=20)
    parser.add_argument("--clusters", nargs="+", default=["1x1", "2x1"],
                        help="LocalCluster shapes as WORKERSxTHREADS (default: 1x1 2x1)")
    args = parser.parse_args()
    if args.smoke:
        args.nodes, args.work, args.noop, args.chain, args.clusters = 6, 0.05, 6, 3, ["2x1"]
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
