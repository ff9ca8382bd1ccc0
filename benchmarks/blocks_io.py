"""Per-call cost of the outside-world blocks, each beside its bare equivalent in this run.

* http: a chain of N `http` GET nodes against a local server, beside N calls of a bare
  httpx AsyncClient to the same server.
* sql: a chain of N SQLite `sql` INSERT nodes, beside N bare sqlite3 INSERTs (autocommit),
  and N SELECTs beside bare SELECTs.
* shell: N `shell` nodes running `true`, beside N `python` nodes (the same sandbox).

Goal: http and sql ≤ 1.5 × the bare call + 1 ms; shell close to the python block.
``--smoke`` runs a few calls of each (for CI) and checks that the blocks still work.

    python benchmarks/blocks_io.py [--smoke] [--calls N]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from nopflow.engine.runner import Run
from nopflow.model import Workflow


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real APIs
    disable_nagle_algorithm = True  # headers and body are separate writes

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def chain(nodes: list[dict[str, Any]]) -> Workflow:
    ids = ["start", *(n["id"] for n in nodes)]
    return Workflow.model_validate({
        "settings": {"max_parallel": 1},
        "nodes": [{"id": "start", "type": "start"}, *nodes],
        "edges": [{"id": f"e{i}", "source": a, "target": b}
                  for i, (a, b) in enumerate(itertools.pairwise(ids))]})


async def marginal(nodes: list[dict[str, Any]], calls: int, project: Path, what: str,
                   setup: list[dict[str, Any]] | None = None) -> float:
    """Seconds one more node costs: (a run of 2N nodes - a run of N) / N, so the run's own
    start-up and the first connection are not counted."""
    setup = setup or []
    t_n, run = await timed_run(chain(setup + nodes[:calls]), project)
    _check(run, what)
    t_2n, run = await timed_run(chain(setup + nodes[: 2 * calls]), project)
    _check(run, what)
    return max(0.0, t_2n - t_n) / calls


async def timed_run(wf: Workflow, project: Path) -> tuple[float, Run]:
    run = Run(wf, project_dir=project)
    t0 = time.perf_counter()
    await run.execute()
    return time.perf_counter() - t0, run


def _check(run: Run, what: str) -> None:
    if run.state.value != "completed":
        errors = {n: r.error for n, r in run.nodes.items() if r.error}
        sys.exit(f"{what}: the run {run.state.value}: {errors}")


async def bench_http(calls: int, project: Path) -> tuple[float, float]:
    import httpx

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/x"
    try:
        async with httpx.AsyncClient() as client:
            await client.get(url)  # warm: connection and TLS-less handshake
            t0 = time.perf_counter()
            for _ in range(calls):
                (await client.get(url)).json()
            bare = (time.perf_counter() - t0) / calls
        nodes = [{"id": f"h{i}", "type": "http", "config": {"url": url}}
                 for i in range(2 * calls)]
        return await marginal(nodes, calls, project, "http"), bare
    finally:
        server.shutdown()
        server.server_close()


async def bench_sql(calls: int, project: Path) -> tuple[float, float, float, float]:
    bare_db = project / "bare.db"
    conn = sqlite3.connect(bare_db, isolation_level=None)
    conn.execute("CREATE TABLE t (n INTEGER, s TEXT)")
    t0 = time.perf_counter()
    for i in range(calls):
        conn.execute("INSERT INTO t VALUES (?, ?)", (i, "x"))
    bare_ins = (time.perf_counter() - t0) / calls
    t0 = time.perf_counter()
    for _ in range(calls):
        conn.execute("SELECT n, s FROM t WHERE n = ?", (1,)).fetchall()
    bare_sel = (time.perf_counter() - t0) / calls
    conn.close()
    setup = [{"id": "c", "type": "sql", "config": {
        "database": "nodes.db", "query": "CREATE TABLE IF NOT EXISTS t (n INTEGER, s TEXT)"}}]
    inserts = [{"id": f"i{i}", "type": "sql", "config": {
        "database": "nodes.db", "query": "INSERT INTO t VALUES (?, ?)", "params": [i, "x"]}}
        for i in range(2 * calls)]
    ins = await marginal(inserts, calls, project, "sql insert", setup)
    selects = [{"id": f"s{i}", "type": "sql", "config": {
        "database": "nodes.db", "query": "SELECT n, s FROM t WHERE n = ?", "params": [1]}}
        for i in range(2 * calls)]
    sel = await marginal(selects, calls, project, "sql select", setup)
    return ins, bare_ins, sel, bare_sel


async def bench_shell(calls: int, project: Path) -> tuple[float, float]:
    shells = [{"id": f"s{i}", "type": "shell", "config": {"command": ["true"]}}
              for i in range(2 * calls)]
    pys = [{"id": f"p{i}", "type": "python", "config": {"code": "print('{}')"}}
           for i in range(2 * calls)]
    await timed_run(chain(shells[:1]), project)  # warm the sandbox
    return (await marginal(shells, calls // 2, project, "shell"),
            await marginal(pys, calls // 2, project, "python"))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _verdict(node: float, bare: float) -> str:
    goal = 1.5 * bare + 0.001
    return f"goal ≤ {_ms(goal)}: {'met' if node <= goal else 'MISSED'}"


async def main_async(calls: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory(prefix="nopflow-bench-io-") as folder:
        project = Path(folder)
        http = [await bench_http(calls, project) for _ in range(repeats)]
        node, bare = statistics.median(h[0] for h in http), statistics.median(h[1] for h in http)
        print(f"http   per call: node {_ms(node)}  bare httpx {_ms(bare)}  "
              f"ratio {node / bare:.2f}  ({_verdict(node, bare)})")
        sql = [await bench_sql(calls, project / f"sql{i}") for i in range(repeats)
               if (project / f"sql{i}").mkdir() is None]
        ins, bare_ins = statistics.median(s[0] for s in sql), statistics.median(s[1] for s in sql)
        sel, bare_sel = statistics.median(s[2] for s in sql), statistics.median(s[3] for s in sql)
        print(f"sql    insert:   node {_ms(ins)}  bare sqlite3 {_ms(bare_ins)}  "
              f"({_verdict(ins, bare_ins)})")
        print(f"sql    select:   node {_ms(sel)}  bare sqlite3 {_ms(bare_sel)}  "
              f"({_verdict(sel, bare_sel)})")
        shell = [await bench_shell(max(4, calls // 10), project) for _ in range(repeats)]
        sh, py = statistics.median(s[0] for s in shell), statistics.median(s[1] for s in shell)
        ratio = f"{sh / py:.2f}" if py > 0 else "n/a"
        print(f"shell  per call: node {_ms(sh)}  python block {_ms(py)}  ratio {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few calls, for CI")
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    calls, repeats = (20, 1) if args.smoke else (args.calls, 3)
    asyncio.run(main_async(calls, repeats))


if __name__ == "__main__":
    main()
