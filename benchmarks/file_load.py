"""Opening and saving a big workflow file, beside plain `json.loads`/`json.dumps` of it.

A 5,000-node file (``--nodes``) is loaded as format version 1 (migrated) and version 2,
each without and with the per-block step (`blocks=get_block`), and saved again. Every
figure is printed beside the bare JSON decode or encode of the same text, measured in the
same run. ``--smoke`` uses 200 nodes and one round (for CI).

    python benchmarks/file_load.py [--smoke] [--nodes N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from nopflow.blocks import get_block
from nopflow.model import dump_workflow, parse_workflow


def document(n: int, version: int) -> str:
    """A chain start → n delay/set nodes → output, as the editor would save it."""
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "start", "title": "Start",
                                    "position": [0, 0], "config": {}}]
    edges = []
    for i in range(n):
        kind = ("delay", {"seconds": 0}) if i % 2 else ("set", {"values": {f"v{i}": i}})
        nodes.append({"id": f"n{i}", "type": kind[0], "title": f"Node {i}",
                      "position": [240 * (i % 50), 160 * (i // 50)], "config": kind[1],
                      "retry": {"max_attempts": 1, "initial_delay_s": 1.0, "multiplier": 2.0,
                                "max_delay_s": 30.0}, "error_mode": None})
        edges.append({"id": f"e{i}", "source": nodes[-2]["id"], "source_port": "out",
                      "target": f"n{i}", "target_port": "in"})
    if version >= 2:
        for node in nodes:
            node["version"] = 1
    return json.dumps({"format": "nopflow/workflow", "version": version, "id": "bench",
                       "name": "bench", "nodes": nodes, "edges": edges}, indent=2)


def best_ms(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return min(times) if rounds < 3 else statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    n, rounds = (200, 1) if args.smoke else (args.nodes, args.rounds)
    get_block("start")  # discovery once, outside the timings

    print(f"workflow file of {n + 1} nodes, {rounds} round(s), median ms")
    for version in (1, 2):
        text = document(n, version)
        base = best_ms(lambda t=text: json.loads(t), rounds)  # type: ignore[misc]
        plain = best_ms(lambda t=text: parse_workflow(t, "bench.nopflow.json"), rounds)  # type: ignore[misc]
        with_blocks = best_ms(
            lambda t=text: parse_workflow(t, "bench.nopflow.json", blocks=get_block),  # type: ignore[misc]
            rounds)
        print(f"  load v{version}: json.loads {base:7.1f}   load {plain:7.1f} "
              f"({plain / base:4.1f}x)   load + block step {with_blocks:7.1f} "
              f"({with_blocks / base:4.1f}x)")
    wf = parse_workflow(document(n, 2), "bench.nopflow.json", blocks=get_block)
    data = wf.model_dump(mode="json")
    base = best_ms(lambda: json.dumps(data, indent=2, ensure_ascii=False), rounds)
    save = best_ms(lambda: dump_workflow(wf), rounds)
    print(f"  save:    json.dumps {base:7.1f}   dump_workflow {save:7.1f} ({save / base:4.1f}x)")
    size = len(dump_workflow(wf).encode())
    print(f"  file size {size / 2**20:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
