"""Per-script start-to-result latency of the sandbox, against a bare interpreter spawn.

Prints figures, asserts nothing.  Run with the project's interpreter (never a pyenv shim):

    /work/venv/bin/python benchmarks/script_latency.py [--smoke] [--backend zygote|pool|spawn]

For each backend: the median wall time of N sequential no-op scripts through
`ScriptRunner.run` (after one warm-up run), the median of a bare
``sys.executable -I -c "import json,sys; json.load(sys.stdin)"`` spawn measured in the same
run, their ratio (goal: <= 0.1 zygote, <= 0.5 pool), and N scripts with 4 at a time.
`--env` adds a script whose PEP 723 header has its own environment, already built (a tiny
wheel, installed offline): its latency against a bare spawn of that environment's
interpreter, beside the zygote figure (goal: <= 0.5 x the bare spawn).
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


def bare_spawn_once(python: str = sys.executable) -> float:
    """Seconds for a plain interpreter start that reads JSON from stdin."""
    t0 = time.perf_counter()
    subprocess.run(
        [python, "-I", "-c", "import json,sys; json.load(sys.stdin)"],
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


def cached_env(tmp: Path) -> str:
    """An environment built from a tiny local wheel (no index, no network), as a run
    finds it: the interpreter path `prepare_environments` hands to the run."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "envs"))
    from pkgindex import make_wheel

    from nopflow.envs import store, uvcli
    from nopflow.model.lockfile import LockEntry

    wheels = tmp / "wheels"
    make_wheel(wheels, "benchpkg", "1.0", {"benchpkg.py": "VALUE = 1\n"})
    os.environ.update(NOPFLOW_DATA_DIR=str(tmp / "data"), UV_CACHE_DIR=str(tmp / "cache"),
                      UV_FIND_LINKS=str(wheels), UV_NO_INDEX="1", UV_NO_CONFIG="1")
    lines = uvcli.compile_lock(["benchpkg"], sys.executable)
    entry = LockEntry(("benchpkg",), None, "", tuple(lines))
    return str(store.build(store.env_key(entry, sys.executable), entry, sys.executable))


async def measure_env(python: str, n: int, project: Path) -> tuple[float, float, float, str]:
    """Median s per script on the environment (interleaved with bare spawns of its
    interpreter), that median bare spawn, median s back-to-back, tier."""
    runner = ScriptRunner()
    code = "import json, sys, benchpkg\njson.load(sys.stdin)\n"
    try:
        await runner.warm_up(python)
        spec = ScriptSpec(project_dir=project, code=code, input={"x": 1}, python=python)
        first = await runner.run(spec)
        if not first.ok:
            raise SystemExit(f"env: script failed: {first.error}")
        await asyncio.sleep(0.3)
        times, bare, b2b = [], [], []
        for _ in range(n):
            bare.append(bare_spawn_once(python))
            await asyncio.sleep(0.05)  # what a run does between nodes, roughly
            t0 = time.perf_counter()
            r = await runner.run(spec)
            times.append(time.perf_counter() - t0)
            assert r.ok, r.error
        for _ in range(n):
            t0 = time.perf_counter()
            r = await runner.run(spec)
            b2b.append(time.perf_counter() - t0)
            assert r.ok, r.error
        med = statistics.median
        return med(times), med(bare), med(b2b), runner.tier
    finally:
        await runner.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="few iterations (CI)")
    ap.add_argument("--backend", action="append", choices=["zygote", "pool", "spawn"])
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--env", action="store_true",
                    help="also a script on its own cached package environment")
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
        if args.env:
            python = cached_env(Path(tmp))
            med, bare, b2b, tier = asyncio.run(measure_env(python, n, Path(tmp)))
            print(f"env    median {med * 1000:6.2f} ms/script,"
                  f" bare spawn of its interpreter {bare * 1000:6.2f} ms,"
                  f" ratio {med / bare:5.3f} (goal <= 0.5) | back-to-back"
                  f" {b2b * 1000:6.2f} ms/script\n       [{tier}]")


if __name__ == "__main__":
    main()
