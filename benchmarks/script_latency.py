"""Per-script start-to-result latency of the sandbox, against a bare interpreter spawn.

Prints figures, asserts nothing.  Run with the project's interpreter (never a pyenv shim):

    /work/venv/bin/python benchmarks/script_latency.py [--smoke] [--backend zygote|pool|spawn]

For each backend: the median wall time of N sequential no-op scripts through
`ScriptRunner.run` (after one warm-up run), the median of a bare
``sys.executable -I -c "import json,sys; json.load(sys.stdin)"`` spawn measured in the same
run, their ratio (goal: <= 0.1 zygote, <= 0.5 pool), and N scripts with 4 at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nopflow.sandbox import ScriptRunner, ScriptSpec

NOOP = "import json, sys\njson.load(sys.stdin)\n"


def bare_spawn_once() -> float:
    """Seconds for a plain interpreter start that reads JSON from stdin."""
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-I", "-c", "import json,sys; json.load(sys.stdin)"],
        input=b"{}",
        check=True,
    )
    return time.perf_counter() - t0


async def measure(backend: str, n: int, project: Path) -> tuple[float, float, float, float, str]:
    """Median s interleaved, median bare spawn s, median s back-to-back, wall s for n
    scripts 4-at-a-time, tier.

    Bare spawns are interleaved with the sandboxed runs, so both see the same machine
    load (the ratio stays meaningful on a busy CI box); that also leaves a pool time to
    refill, so runs straight after each other are measured separately.
    """
    runner = ScriptRunner(prefer=backend)
    try:
        await runner.warm_up()
        spec = ScriptSpec(project_dir=project, code=NOOP, input={"x": 1})
        first = await runner.run(spec)
        if not first.ok:
            raise SystemExit(f"{backend}: no-op script failed: {first.error}")
        if backend == "pool":
            await asyncio.sleep(0.5)  # let the pool fill, as it would before a real run
        times, bare = [], []
        for _ in range(n):
            bare.append(bare_spawn_once())
            t0 = time.perf_counter()
            r = await runner.run(spec)
            times.append(time.perf_counter() - t0)
            assert r.ok, r.error
        b2b = []
        for _ in range(n):
            t0 = time.perf_counter()
            r = await runner.run(spec)
            b2b.append(time.perf_counter() - t0)
            assert r.ok, r.error
        sem = asyncio.Semaphore(4)

        async def one() -> None:
            async with sem:
                r = await runner.run(spec)
                assert r.ok, r.error

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        par = time.perf_counter() - t0
        med = statistics.median
        return med(times), med(bare), med(b2b), par, runner.tier
    finally:
        await runner.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="few iterations (CI)")
    ap.add_argument("--backend", action="append", choices=["zygote", "pool", "spawn"])
    ap.add_argument("-n", type=int, default=20)
    args = ap.parse_args()
    n = 3 if args.smoke else args.n
    backends = args.backend or ["zygote", "pool", "spawn"]
    print(f"python: {sys.executable} ({sys.version.split()[0]}), n={n}, load {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            med, bare, b2b, par, tier = asyncio.run(measure(backend, n, Path(tmp)))
            print(
                f"{backend:6s} median {med * 1000:6.2f} ms/script,"
                f" bare spawn {bare * 1000:6.2f} ms,"
                f" ratio {med / bare:5.3f} | back-to-back {b2b * 1000:6.2f} ms/script"
                f" | {n} scripts 4-parallel: {par * 1000:6.1f} ms total,"
                f" {par / n * 1000:5.2f} ms/script\n       [{tier}]"
            )


if __name__ == "__main__":
    main()
