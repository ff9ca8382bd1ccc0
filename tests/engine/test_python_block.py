"""The python block through the executor seam (real sandboxed children)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
from wfhelpers import make_wf, run_wf, states

from nopflow.engine.events import Event, NodeLog
from nopflow.engine.runner import Run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="sandbox needs POSIX")

DOUBLE = (
    "import json, sys\n"
    "d = json.load(sys.stdin)\n"
    "print('doubling', file=sys.stderr)\n"
    "print(json.dumps({'n': d['x'] * 2}))\n"
)


async def test_python_block_inputs_output_and_logs(tmp_path: Path) -> None:
    wf = make_wf(
        [("s", "start", {}),
         ("calc", "python", {"code": DOUBLE, "inputs": {"x": "{{ $vars.t }}"}}),
         ("o", "output", {"values": {"n": "{{ $node.calc.n }}"}})],
        ["s->calc", "calc->o"], variables={"t": 21},
    )
    events: list[Event] = []
    run = await run_wf(wf, events, project_dir=tmp_path)
    assert run.status == "completed", run.nodes["calc"].error
    assert run.outputs == {"n": 42}
    assert run.nodes["calc"].inputs == {"x": 21}
    assert [e.line for e in events if isinstance(e, NodeLog)] == ["doubling"]


async def test_python_block_gets_prev_without_inputs(tmp_path: Path) -> None:
    code = "import json,sys\nprint(json.dumps(json.load(sys.stdin)))"
    wf = make_wf([("s", "start", {}), ("p", "python", {"code": code}),
                  ("o", "output", {"values": {"r": "{{ $prev }}"}})], ["s->p", "p->o"],
                 inputs={"a": 1})
    run = await run_wf(wf, project_dir=tmp_path)
    assert run.outputs == {"r": {"a": 1}}


async def test_python_error_keeps_traceback_and_stderr(tmp_path: Path) -> None:
    wf = make_wf([("s", "start", {}), ("p", "python", {"code": "x = 1\n1 / 0\n"})], ["s->p"])
    run = await run_wf(wf, project_dir=tmp_path)
    rec = run.nodes["p"]
    assert run.status == "failed"
    assert rec.error and rec.error.startswith("ZeroDivisionError")
    assert rec.traceback and "ZeroDivisionError" in rec.traceback
    assert rec.stderr_tail


async def test_cancel_kills_running_script(tmp_path: Path) -> None:
    code = "import time\ntime.sleep(60)\n"
    wf = make_wf([("s", "start", {}), ("p", "python", {"code": code})], ["s->p"])
    run = Run(wf, project_dir=tmp_path)
    task = asyncio.ensure_future(run.execute())
    for _ in range(100):
        await asyncio.sleep(0.05)
        if run.nodes["p"].state == "running":
            break
    await asyncio.sleep(0.2)
    t0 = time.perf_counter()
    run.cancel()
    await asyncio.wait_for(task, 5)
    assert time.perf_counter() - t0 < 3
    assert states(run)["p"] == "cancelled" and run.status == "cancelled"


async def test_pause_suspends_script_timeout(tmp_path: Path) -> None:
    code = "import time\ntime.sleep(0.3)\nprint('{}')\n"
    wf = make_wf([("s", "start", {}), ("p", "python", {"code": code, "timeout_s": 1.0})],
                 ["s->p"])
    run = Run(wf, project_dir=tmp_path)
    task = asyncio.ensure_future(run.execute())
    for _ in range(100):
        await asyncio.sleep(0.02)
        if run.nodes["p"].state == "running":
            break
    run.pause()
    await asyncio.sleep(1.2)  # longer than the timeout: paused time must not count
    run.resume()
    await asyncio.wait_for(task, 5)
    assert run.status == "completed", run.nodes["p"].error


async def test_dask_executor_is_a_clear_node_error(tmp_path: Path) -> None:
    wf = make_wf([("s", "start", {}), ("p", "python", {"code": "print(1)"})], ["s->p"],
                 executor={"kind": "dask", "address": "tcp://nowhere:8786"})
    run = await run_wf(wf, project_dir=tmp_path)
    assert run.status == "failed"
    assert "dask" in (run.nodes["p"].error or "")
    assert run.nodes["p"].error_type == "ExecutorUnavailable"


async def test_unsaved_workflow_uses_scratch_project_dir(data_dir: Path) -> None:
    code = "import json, os\nprint(json.dumps(os.getcwd()))"
    wf = make_wf([("s", "start", {}), ("p", "python", {"code": code})], ["s->p"])
    run = await run_wf(wf)
    assert run.status == "completed", run.nodes["p"].error
    assert Path(run.nodes["p"].output).resolve() == (data_dir / "scratch" / wf.id).resolve()


async def test_secret_values_hidden_from_logs_and_events(tmp_path: Path) -> None:
    code = "import json,sys\nd=json.load(sys.stdin)\nprint('tok=' + d['token'], file=sys.stderr)\n"
    code += "raise SystemExit('bad ' + d['token'])\n"
    wf = make_wf([("s", "start", {}), ("p", "python", {"code": code})], ["s->p"],
                 inputs={"token": {"default": "zz-secret-zz", "secret": True}})
    events: list[Event] = []
    run = await run_wf(wf, events, project_dir=tmp_path)
    assert run.status == "failed"
    text = "\n".join(str(e.to_dict()) for e in events)
    assert "zz-secret-zz" not in text
    assert "tok=***" in text
