"""The dask executor against a real LocalCluster on loopback (one cluster per module).

Scripts really run on the workers' sandbox; the engine keeps states, error modes and
retries. Process checks read /proc, so the module is Linux-only like the sandbox tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prochelpers import script_pid

distributed = pytest.importorskip("distributed")

from nopflow.engine.events import Event, NodeLog  # noqa: E402
from nopflow.engine.runner import Run  # noqa: E402
from nopflow.executors.dask import EXTRA_MESSAGE, DaskExecutor  # noqa: E402
from nopflow.executors.dask.worker import live_script_pids  # noqa: E402
from nopflow.executors.dask.worker import scratch_base as _scratch_base  # noqa: E402
from nopflow.model import Workflow  # noqa: E402

pytestmark = [
    pytest.mark.dask,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="checks pids in /proc"),
]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """One 2-worker cluster on 127.0.0.1 for the whole module (start-up is the slow part)."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=2,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        silence_logs=40,
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close(timeout=20)


def wf(nodes: list[dict[str, Any]], edges: list[str], address: str | None,
       **settings: Any) -> Workflow:
    """A workflow from node dicts and "a->b" / "a.port->b" edges, on the dask executor."""
    doc_edges = []
    for i, text in enumerate(edges):
        src, dst = text.split("->")
        src, _, port = src.partition(".")
        doc_edges.append({"id": f"e{i}", "source": src, "source_port": port or "out",
                          "target": dst})
    if address is not None:
        settings.setdefault("executor", {"kind": "dask", "address": address})
    return Workflow.model_validate({"nodes": nodes, "edges": doc_edges, "settings": settings})


def node(nid: str, ntype: str, config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": nid, "type": ntype, "config": config, **extra}


def alive(pid: str) -> bool:
    """True while the script that printed token `pid` runs (not a zombie)."""
    return script_pid(pid) is not None


async def gone_within(pid: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        await asyncio.sleep(0.05)
    return not alive(pid)


DOUBLE = (  # "fresh": no earlier script ran in this process (a marker in builtins)
    "import builtins, json, os, sys\n"
    "fresh = not hasattr(builtins, '_seen'); builtins._seen = True\n"
    "d = json.load(sys.stdin)\n"
    "print('doubling', d['x'], file=sys.stderr)\n"
    "print(json.dumps({'n': d['x'] * 2, 'fresh': fresh, 'cwd': os.getcwd()}))\n"
)

SLEEPER = (
    "import os, sys, time\n"
    "me = os.readlink('/proc/self/ns/pid') + '/' + str(os.getpid())\n"
    "open('pid-' + os.environ['TAG'], 'w').write(me)\n"
    "print('pid', me, file=sys.stderr, flush=True)\n"
    "time.sleep(60)\n"
)


# --------------------------------------------------------------------------- results
async def test_parallel_workflow_outputs_states_and_live_logs(scheduler: str,
                                                              tmp_path: Path) -> None:
    n = 6
    nodes = [node("s", "start", {})]
    nodes += [node(f"p{i}", "python", {"code": DOUBLE, "inputs": {"x": i}}) for i in range(n)]
    nodes += [node("m", "merge", {}),
              node("o", "output", {"values": {"all": "{{ $prev }}"}})]
    edges = [f"s->p{i}" for i in range(n)] + [f"p{i}->m" for i in range(n)] + ["m->o"]
    run = Run(wf(nodes, edges, scheduler, max_parallel=4), project_dir=tmp_path)
    events: list[Event] = []
    run.events.subscribe(events.append)
    await asyncio.wait_for(run.execute(), 30)

    assert run.status == "completed", {k: r.error for k, r in run.nodes.items()}
    assert {k: r.state.value for k, r in run.nodes.items()} == dict.fromkeys(run.nodes,
                                                                            "success")
    merged = run.outputs["all"]
    assert [merged[f"p{i}"]["n"] for i in range(n)] == [2 * i for i in range(n)]
    assert {merged[f"p{i}"]["cwd"] for i in range(n)} == {str(tmp_path.resolve())}
    assert all(merged[f"p{i}"]["fresh"] for i in range(n))  # a fresh child each
    logs = {(e.node_id, e.line) for e in events if isinstance(e, NodeLog)}
    assert logs == {(f"p{i}", f"doubling {i}") for i in range(n)}
    assert run.nodes["p3"].stderr_tail == "doubling 3"


async def test_every_stderr_line_arrives_once_in_order(scheduler: str, tmp_path: Path) -> None:
    """Past the live cap, lines come from the stderr tail after a marker: never lost twice."""
    code = "import sys\nfor i in range(5300):\n    print('line', i, file=sys.stderr)\n"
    nodes = [node("s", "start", {}), node("p", "python", {"code": code})]
    run = Run(wf(nodes, ["s->p"], scheduler), project_dir=tmp_path)
    lines: list[str] = []
    run.events.subscribe(lambda e: lines.append(e.line) if isinstance(e, NodeLog) else None)
    await asyncio.wait_for(run.execute(), 30)
    assert run.status == "completed", run.nodes["p"].error
    assert lines[:5000] == [f"line {i}" for i in range(5000)]
    assert lines[5000] == "[… 100 stderr lines not streamed; see the stderr tail]"
    assert lines[5001:] == [f"line {i}" for i in range(5100, 5300)]


async def test_loop_body_of_python_blocks(scheduler: str, tmp_path: Path) -> None:
    body = "import json, sys\nd = json.load(sys.stdin)\nprint(json.dumps(d['v'] ** 2))\n"
    nodes = [
        node("s", "start", {}),
        node("l", "loop", {"items": [1, 2, 3, 4], "parallel": 2}),
        node("sq", "python", {"code": body, "inputs": {"v": "{{ $loop.item }}"}}),
        node("o", "output", {"values": {"r": "{{ $prev.results }}"}}),
    ]
    run = Run(wf(nodes, ["s->l", "l.body->sq", "l.done->o"], scheduler, max_parallel=4),
              project_dir=tmp_path)
    await asyncio.wait_for(run.execute(), 30)
    assert run.status == "completed", run.nodes["sq"].error
    assert run.outputs == {"r": [1, 4, 9, 16]}


async def test_script_file_shipped_to_a_scratch_project_dir(scheduler: str,
                                                            tmp_path: Path) -> None:
    """A worker without the project path runs the shipped source in a per-run scratch dir."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "write.py").write_text(
        "import json, os\n"
        "open('made-here.txt', 'w').write('x')\n"
        "print(json.dumps({'cwd': os.getcwd(), 'file': __file__}))\n"
    )
    (tmp_path / "lib" / "boom.py").write_text("import json\n\n\nx = 1 / 0\n")
    nodes = [node("s", "start", {}),
             node("w", "python", {"script": "lib/write.py"}),
             node("b", "python", {"script": "lib/boom.py"}, error_mode="continue")]
    executor = DaskExecutor(scheduler, scratch=True)
    run = Run(wf(nodes, ["s->w", "s->b"], None), project_dir=tmp_path, executor=executor)
    try:
        await asyncio.wait_for(run.execute(), 30)
    finally:
        await executor.aclose()
    out = run.nodes["w"].output
    assert run.nodes["w"].state.value == "success", run.nodes["w"].error
    scratch = _scratch_base(executor.id)
    assert out["cwd"] == str((scratch / "project").resolve())
    assert out["file"].endswith("lib/write.py")  # the filename survives the trip
    assert not (tmp_path / "made-here.txt").exists()  # it landed on the worker
    assert not scratch.exists()  # and the scratch folder went away with the run
    b = run.nodes["b"]
    assert b.state.value == "error"
    assert b.error and b.error.startswith("ZeroDivisionError: division by zero (line 4)")
    assert "boom.py" in (b.traceback or "")


# --------------------------------------------------------------------------- failures
async def test_failing_script_honours_error_mode(scheduler: str, tmp_path: Path) -> None:
    fail = "import sys\nprint('about to fail', file=sys.stderr)\nsys.exit(3)\n"
    ok = "print('{\"fine\": true}')\n"
    nodes = [node("s", "start", {}),
             node("bad", "python", {"code": fail}),
             node("after", "python", {"code": ok}),
             node("other", "python", {"code": ok})]
    run = Run(wf(nodes, ["s->bad", "bad->after", "s->other"], scheduler,
                 error_mode="skip-branch"), project_dir=tmp_path)
    await asyncio.wait_for(run.execute(), 30)
    assert run.status == "failed"
    states = {k: r.state.value for k, r in run.nodes.items()}
    assert states == {"s": "success", "bad": "error", "after": "skipped", "other": "success"}
    assert run.nodes["bad"].error == "exited with code 3: about to fail"
    assert run.nodes["bad"].error_type == "ExitCode"
    assert run.nodes["bad"].stderr_tail == "about to fail"


async def test_engine_retries_count_attempts(scheduler: str, tmp_path: Path) -> None:
    """Retries are the engine's (dask retries=0): three attempts, three remote runs."""
    flaky = (
        "import json, pathlib\n"
        "p = pathlib.Path('attempts.txt')\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(n))\n"
        "if n < 3:\n"
        "    raise RuntimeError(f'attempt {n} fails')\n"
        "print(json.dumps({'attempt': n}))\n"
    )
    retry = {"max_attempts": 3, "initial_delay_s": 0.05, "multiplier": 1.0, "max_delay_s": 1}
    nodes = [node("s", "start", {}), node("f", "python", {"code": flaky}, retry=retry)]
    run = Run(wf(nodes, ["s->f"], scheduler), project_dir=tmp_path)
    await asyncio.wait_for(run.execute(), 30)
    rec = run.nodes["f"]
    assert run.status == "completed", rec.error
    assert rec.output == {"attempt": 3}
    assert rec.attempt == 3 and len(rec.attempts) == 3
    assert [a.error for a in rec.attempts[:2]] == [
        "RuntimeError: attempt 1 fails (line 6)", "RuntimeError: attempt 2 fails (line 6)"]
    assert (tmp_path / "attempts.txt").read_text() == "3"


# --------------------------------------------------------------------------- control
async def test_timeout_kills_the_remote_child(scheduler: str, tmp_path: Path) -> None:
    nodes = [node("s", "start", {}),
             node("t", "python", {"code": SLEEPER, "timeout_s": 1, "env": {"TAG": "t"}})]
    run = Run(wf(nodes, ["s->t"], scheduler), project_dir=tmp_path)
    await asyncio.wait_for(run.execute(), 30)
    assert run.status == "failed"
    assert run.nodes["t"].error == "timed out after 1 s"
    pid = (tmp_path / "pid-t").read_text()
    assert await gone_within(pid, 5), f"script {pid} still alive on the worker"


async def test_cancel_kills_remote_children_and_marks_nodes(scheduler: str,
                                                            tmp_path: Path) -> None:
    nodes = [node("s", "start", {})]
    nodes += [node(f"c{i}", "python", {"code": SLEEPER, "env": {"TAG": str(i)}})
              for i in range(2)]
    run = Run(wf(nodes, ["s->c0", "s->c1"], scheduler, max_parallel=2), project_dir=tmp_path)
    pids: dict[str, str] = {}
    started = asyncio.Event()

    def on_event(e: Event) -> None:
        if isinstance(e, NodeLog) and e.line.startswith("pid "):
            pids[e.node_id] = e.line.split()[1]
            if len(pids) == 2:
                started.set()

    run.events.subscribe(on_event)
    task = asyncio.ensure_future(run.execute())
    await asyncio.wait_for(started.wait(), 20)  # live stderr told us the remote pids
    t0 = time.monotonic()
    run.cancel()
    await asyncio.wait_for(task, 20)
    assert time.monotonic() - t0 < 10
    assert run.status == "cancelled"
    assert {run.nodes[f"c{i}"].state.value for i in range(2)} == {"cancelled"}
    for pid in pids.values():
        assert await gone_within(pid, 5), f"script {pid} still alive on the worker"


async def test_pause_stops_the_remote_timeout_clock(scheduler: str, tmp_path: Path) -> None:
    """SIGSTOP reaches the worker: paused time does not count against the timeout."""
    code = "import sys, time\nprint('go', file=sys.stderr, flush=True)\ntime.sleep(0.8)\n"
    nodes = [node("s", "start", {}), node("p", "python", {"code": code, "timeout_s": 1.5})]
    run = Run(wf(nodes, ["s->p"], scheduler), project_dir=tmp_path)
    going = asyncio.Event()
    run.events.subscribe(lambda e: going.set() if isinstance(e, NodeLog) else None)
    task = asyncio.ensure_future(run.execute())
    await asyncio.wait_for(going.wait(), 20)
    run.pause()
    await asyncio.sleep(2.0)  # longer than the timeout: only a stopped clock survives this
    run.resume()
    await asyncio.wait_for(task, 20)
    assert run.status == "completed", run.nodes["p"].error


async def test_unreachable_scheduler_is_one_clear_error(tmp_path: Path) -> None:
    nodes = [node("s", "start", {})]
    nodes += [node(f"p{i}", "python", {"code": "print(1)"}) for i in range(3)]
    run = Run(wf(nodes, ["s->p0", "s->p1", "s->p2"], "tcp://no-such-host.invalid:8786",
                 error_mode="continue"), project_dir=tmp_path)
    t0 = time.monotonic()
    await asyncio.wait_for(run.execute(), 30)
    assert time.monotonic() - t0 < 5  # host lookup fails fast; the failure is remembered
    errors = {run.nodes[f"p{i}"].error for i in range(3)}
    assert len(errors) == 1
    (error,) = errors
    assert error and "could not reach the scheduler at tcp://no-such-host.invalid" in error
    assert run.nodes["p0"].error_type == "ExecutorUnavailable"


async def test_no_address_starts_and_closes_a_loopback_cluster(tmp_path: Path) -> None:
    """`{"kind": "dask"}` alone: a LocalCluster on 127.0.0.1 for this run, closed after it."""
    code = "import json, sys\nprint('on the cluster', file=sys.stderr)\nprint('[1]')\n"
    nodes = [node("s", "start", {}), node("p", "python", {"code": code})]
    run = Run(wf(nodes, ["s->p"], None, executor={"kind": "dask"}), project_dir=tmp_path)
    seen: dict[str, Any] = {}

    def on_event(e: Event) -> None:
        if isinstance(e, NodeLog):
            executor = run._executor
            seen["address"] = executor.scheduler_address  # type: ignore[union-attr]
            seen["cluster"] = executor._cluster  # type: ignore[union-attr]

    run.events.subscribe(on_event)
    await asyncio.wait_for(run.execute(), 60)
    assert run.status == "completed", run.nodes["p"].error
    assert run.nodes["p"].output == [1]
    assert seen["address"].startswith("tcp://127.0.0.1:")
    assert seen["cluster"].status.name == "closed"


# --------------------------------------------------------------------------- CLI, extra
def _write_cli_workflow(folder: Path) -> Path:
    (folder / "job.py").write_text(
        "import json, sys\nd = json.load(sys.stdin)\nprint(json.dumps({'y': d['x'] + 1}))\n")
    doc = {
        "format": "nopflow/workflow", "version": 1, "name": "cli dask",
        "nodes": [
            {"id": "s", "type": "start", "config": {}},
            {"id": "j", "type": "python", "config": {"script": "job.py",
                                                      "inputs": {"x": "{{ $input.x }}"}}},
            {"id": "o", "type": "output", "config": {"values": {"y": "{{ $node.j.y }}"}}},
        ],
        "edges": [{"id": "e1", "source": "s", "target": "j"},
                  {"id": "e2", "source": "j", "target": "o"}],
        "inputs": {"x": {"default": 1}},
    }
    path = folder / "cli.nopflow.json"
    path.write_text(json.dumps(doc))
    return path


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_cli_executor_and_address_flags(scheduler: str, tmp_path: Path) -> None:
    path = _write_cli_workflow(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "nopflow", "run", str(path), "--executor", "dask",
         "--address", scheduler, "--input", "x=41", "--json"],
        capture_output=True, text=True, timeout=60, env=_env(), cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "completed"
    assert result["outputs"] == {"y": 42}
    assert f"running scripts on Dask scheduler {scheduler}" in proc.stderr


def test_cli_without_the_extra_exits_2_naming_it(tmp_path: Path) -> None:
    """`distributed` made unimportable (as if the extra were not installed)."""
    path = _write_cli_workflow(tmp_path)
    code = ("import sys; sys.modules['distributed'] = None\n"
            "from nopflow.cli import main\n"
            f"raise SystemExit(main(['run', {str(path)!r}, '--executor', 'dask']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=_env(), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert EXTRA_MESSAGE in proc.stderr
    assert EXTRA_MESSAGE == ("the dask executor needs the 'dask' extra: "
                             "pip install 'nopflow[dask]'")


async def test_engine_without_the_extra_fails_script_nodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # type: ignore[arg-type]
    nodes = [node("s", "start", {}), node("p", "python", {"code": "print(1)"})]
    run = Run(wf(nodes, ["s->p"], "tcp://127.0.0.1:1"), project_dir=tmp_path)
    await asyncio.wait_for(run.execute(), 10)
    assert run.status == "failed"
    assert run.nodes["p"].error == EXTRA_MESSAGE
    assert run.nodes["p"].error_type == "ExecutorUnavailable"


def test_engine_does_not_import_distributed() -> None:
    code = ("import sys\n"
            "import nopflow.engine.runner, nopflow.engine.executor, nopflow.executors.dask\n"
            "from nopflow.engine.executor import create_executor\n"
            "from nopflow.model import ExecutorSettings\n"
            "create_executor(ExecutorSettings(kind='local'))\n"
            "create_executor(ExecutorSettings(kind='dask'))\n"
            "assert 'distributed' not in sys.modules, 'distributed imported eagerly'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=_env())
    assert proc.returncode == 0, proc.stderr


async def test_cancel_reaches_queued_tasks_too(scheduler: str, tmp_path: Path) -> None:
    """More scripts than worker threads: running ones die, queued ones never start."""
    n = 6  # the cluster has 2 workers x 2 threads: two tasks wait on the scheduler
    nodes = [node("s", "start", {})]
    nodes += [node(f"c{i}", "python", {"code": SLEEPER, "env": {"TAG": str(i)}})
              for i in range(n)]
    run = Run(wf(nodes, [f"s->c{i}" for i in range(n)], scheduler, max_parallel=n),
              project_dir=tmp_path)
    pids: list[str] = []
    four = asyncio.Event()

    def on_event(e: Event) -> None:
        if isinstance(e, NodeLog) and e.line.startswith("pid "):
            pids.append(e.line.split()[1])
            if len(pids) == 4:
                four.set()

    run.events.subscribe(on_event)
    task = asyncio.ensure_future(run.execute())
    await asyncio.wait_for(four.wait(), 20)
    run.cancel()
    await asyncio.wait_for(task, 20)
    assert run.status == "cancelled"
    assert {r.state.value for k, r in run.nodes.items() if k != "s"} == {"cancelled"}
    for pid in pids:
        assert await gone_within(pid, 5), f"script {pid} still alive on the worker"
    await asyncio.sleep(1.0)  # a queued task that slipped through would have started now
    assert len(list(tmp_path.glob("pid-*"))) == 4
    client = await asyncio.to_thread(distributed.Client, scheduler, set_as_default=False)
    try:
        live = await asyncio.to_thread(client.run, live_script_pids)
        tasks = await asyncio.to_thread(client.processing)
    finally:
        await asyncio.to_thread(client.close)
    assert all(v == [] for v in live.values()), live
    assert all(not v for v in tasks.values()), tasks


def test_scaleout_benchmark_smoke() -> None:
    """The benchmark still runs end to end (figures are not asserted: shared CI machines)."""
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "dask_scaleout.py"),
                           "--smoke"], capture_output=True, text=True, timeout=120, env=_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "dask 2 worker x 1 thread" in proc.stdout and "no-op/node" in proc.stdout


async def test_shipped_script_lives_only_as_long_as_its_task(scheduler: str,
                                                             tmp_path: Path) -> None:
    """Scratch mode: each task gets its own copy of the script, gone when the task ends,
    so a later script in the same scratch project sees none of them."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.py").write_text(
        "import json\nprint(json.dumps({'file': __file__}))\n")
    listing = ("import json, os\n"
               "print(json.dumps(sorted(os.path.relpath(os.path.join(d, f))\n"
               "                        for d, _s, fs in os.walk('.') for f in fs)))\n")
    nodes = [node("s", "start", {}),
             node("a1", "python", {"script": "lib/a.py"}),
             node("a2", "python", {"script": "lib/a.py"}),
             node("m", "merge", {}),
             node("ls", "python", {"code": listing})]
    executor = DaskExecutor(scheduler, scratch=True)
    run = Run(wf(nodes, ["s->a1", "s->a2", "a1->m", "a2->m", "m->ls"], None, max_parallel=4),
              project_dir=tmp_path, executor=executor)
    try:
        await asyncio.wait_for(run.execute(), 30)
    finally:
        await executor.aclose()
    assert run.status == "completed", {k: r.error for k, r in run.nodes.items()}
    files = {run.nodes[n].output["file"] for n in ("a1", "a2")}
    assert len(files) == 2 and all(f.endswith("/lib/a.py") for f in files)  # one per task
    assert run.nodes["ls"].output == []  # no shipped copy (or temp file) left behind


def test_executors_use_no_private_dask_api() -> None:
    """Every `_name` the executors touch (as an attribute or through getattr) is one that
    nopflow itself defines: nothing private of Dask's."""
    import ast

    def parse(folder: Path) -> list[ast.AST]:
        return [ast.parse(p.read_text(encoding="utf-8")) for p in sorted(folder.rglob("*.py"))]

    own: set[str] = set()
    for tree in parse(REPO / "nopflow"):
        for n in ast.walk(tree):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                own.add(n.name)
            elif isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store):
                own.add(n.attr)
            elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                own.add(n.id)
    used: set[str] = set()
    for tree in parse(REPO / "nopflow" / "executors"):
        for n in ast.walk(tree):
            if isinstance(n, ast.Attribute):
                used.add(n.attr)
            elif (isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                  and n.func.id in ("getattr", "hasattr", "setattr") and len(n.args) > 1
                  and isinstance(n.args[1], ast.Constant) and isinstance(n.args[1].value, str)):
                used.add(n.args[1].value)
    private = {u for u in used if u.startswith("_") and not u.startswith("__")}
    assert private - own == set()
