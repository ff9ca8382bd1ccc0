"""transform and filter over N items through the engine, beside a plain list comprehension
doing the same work in the same run (docs/blocks.md data blocks; goal: <= 5x).

Each figure is the best of several rounds, run back to back with its baseline; the engine
side is a whole run (start -> delay 0 -> transform or filter), so it includes the run's own
fixed cost. ``--smoke`` uses 5,000 items (for CI).

    python benchmarks/data_blocks.py [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from nopflow.engine.runner import Run
from nopflow.model import Workflow

MAP = {"id": "{{ $item.id }}", "name": "{{ $item.name | upper }}",
       "total": "{{ $item.price * 2 }}"}
WHERE = "$item.price > 100"


def workflow(block: dict[str, Any], items: list[dict[str, Any]]) -> Workflow:
    return Workflow.model_validate({
        "inputs": {"rows": {"default": items}},
        "nodes": [{"id": "s", "type": "start"}, {"id": "b", **block}],
        "edges": [{"id": "e0", "source": "s", "target": "b"}]})


def run_once(wf: Workflow) -> tuple[float, Any]:
    run = Run(wf)
    t0 = time.perf_counter()
    asyncio.run(run.execute())
    took = time.perf_counter() - t0
    assert run.status == "completed", run.nodes["b"].error
    return took, run.nodes["b"].output


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="5,000 items (CI)")
    ap.add_argument("--items", type=int, default=100_000)
    args = ap.parse_args()
    n = 5_000 if args.smoke else args.items
    rounds = 3 if args.smoke else 5
    items = [{"id": i, "name": f"item{i}", "price": (i * 7) % 200} for i in range(n)]
    cases = {
        "transform (3 fields)": (
            {"type": "transform", "config": {"items": "$prev.rows", "map": MAP}},
            lambda: [{"id": x["id"], "name": x["name"].upper(), "total": x["price"] * 2}
                     for x in items]),
        "filter": (
            {"type": "filter", "config": {"items": "$prev.rows", "where": WHERE}},
            lambda: [x for x in items if x["price"] > 100]),
    }
    print(f"{n:,} items, best of {rounds} rounds")
    for name, (block, baseline) in cases.items():
        wf = workflow(block, items)
        best_engine = best_base = float("inf")
        for _ in range(rounds):
            t0 = time.perf_counter()
            want = baseline()
            best_base = min(best_base, time.perf_counter() - t0)
            took, got = run_once(wf)
            best_engine = min(best_engine, took)
            assert got == want
        print(f"{name:22s} engine {best_engine * 1000:8.1f} ms   list comprehension "
              f"{best_base * 1000:7.1f} ms   ratio {best_engine / best_base:4.1f}x (goal <= 5x)")


if __name__ == "__main__":
    main()
