"""The `subworkflow` block: a child run of another file, linked in history, controlled with
its parent, checked at compile time (cycles, depth, broken children) naming the files."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from wfhelpers import chain, make_wf, states

from nopflow.blocks import get_block
from nopflow.engine.compiler import CompileError, compile_workflow, validate
from nopflow.engine.events import Event
from nopflow.engine.runner import Run
from nopflow.model import load_workflow, save_workflow
from nopflow.storage.history import HistoryRecorder, HistoryStore

CHILD_NODES = [("s", "start", {}),
               ("calc", "set", {"values": {"twice": "{{ $input.n * 2 }}"}}),
               ("out", "output", {"values": {"twice": "{{ $vars.twice }}"}})]


def write(folder: Path, name: str, nodes: list[Any], edges: list[str], **kw: Any) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    save_workflow(make_wf(nodes, edges, id=kw.pop("id", name.split(".")[0].replace("/", "-")),
                          name=name, **kw), path)
    return path


def parent_of(folder: Path, child: str, child_inputs: dict[str, Any] | None = None,
              name: str = "parent.nopflow.json", key: str = "answer", **kw: Any) -> Path:
    return write(folder, name, [
        ("s", "start", {}),
        ("sub", "subworkflow", {"path": child, "inputs": child_inputs or {}}),
        ("out", "output", {"values": {key: "{{ $prev.twice }}"}})],
        chain("s", "sub", "out"), **kw)


def child(folder: Path, name: str = "child.nopflow.json") -> Path:
    return write(folder, name, CHILD_NODES, chain("s", "calc", "out"),
                 inputs={"n": {"default": 1}})


def run_of(path: Path, **kw: Any) -> Run:
    wf = load_workflow(path, blocks=get_block)
    return Run(compile_workflow(wf, path.parent, workflow_file=path), project_dir=path.parent,
               **kw)


def problems_of(path: Path) -> list[str]:
    wf = load_workflow(path, blocks=get_block)
    return [str(p) for p in validate(wf, path.parent, workflow_file=path)]


def nopflow(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOPFLOW_DATA_DIR": str(data)}
    return subprocess.run([sys.executable, "-m", "nopflow", *args], capture_output=True,
                          text=True, timeout=60, env=env)


# ------------------------------------------------------------------ result and history


def test_cli_run_gives_the_childs_outputs_and_links_both_records(tmp_path: Path) -> None:
    child(tmp_path)
    parent = parent_of(tmp_path, "child.nopflow.json", {"n": 21})
    done = nopflow("run", str(parent), "--json", data=tmp_path / "data")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["outputs"] == {"answer": 42}
    assert result["nodes"]["sub"]["output"] == {"twice": 42}
    assert "↳ sub runs child.nopflow.json as run " in done.stderr

    store = HistoryStore(tmp_path / "data" / "history")
    [kept_parent] = store.list_runs("parent")
    [kept_child] = store.list_runs("child")
    link = kept_parent.nodes["sub"].details["subworkflow"]
    assert link["run_id"] == kept_child.run_id
    assert link["file"] == str((tmp_path / "child.nopflow.json").resolve())
    assert kept_child.parent == {"run_id": result["run_id"], "workflow_id": "parent",
                                 "node_id": "sub"}
    assert kept_child.status == "completed" and kept_child.inputs == {"n": 21}
    assert kept_child.workflow_file == str((tmp_path / "child.nopflow.json").resolve())


def test_events_announce_the_child_and_its_progress(tmp_path: Path) -> None:
    child(tmp_path)
    run = run_of(parent_of(tmp_path, "child.nopflow.json", {"n": 2}))
    events: list[Event] = []
    run.events.subscribe(events.append)
    asyncio.run(run.execute())
    started = [e.to_dict() for e in events if e.kind == "subworkflow_started"]
    progress = [e.to_dict() for e in events if e.kind == "subworkflow_progress"]
    assert len(started) == 1 and started[0]["node_id"] == "sub" and started[0]["total"] == 3
    assert [(p["done"], p["total"]) for p in progress] == [(1, 3), (2, 3), (3, 3)]
    assert {p["child_run_id"] for p in progress} == {started[0]["child_run_id"]}


def test_a_child_in_a_subfolder_runs_there(tmp_path: Path) -> None:
    child(tmp_path, "parts/child.nopflow.json")
    run = run_of(parent_of(tmp_path, "parts/child.nopflow.json", {"n": 5}))
    asyncio.run(run.execute())
    assert run.status == "completed" and run.outputs == {"answer": 10}


def test_the_childs_failure_is_the_nodes_error_naming_the_childs_node(tmp_path: Path) -> None:
    write(tmp_path, "child.nopflow.json",
          [("s", "start", {}), ("boom", "python", {"code": "raise SystemExit('bad row')"})],
          chain("s", "boom"))
    run = run_of(parent_of(tmp_path, "child.nopflow.json"))
    asyncio.run(run.execute())
    assert states(run)["sub"] == "error" and run.status == "failed"
    error = run.nodes["sub"].error or ""
    assert error.startswith("sub-workflow child.nopflow.json failed at node boom: ")
    assert "bad row" in error


# ------------------------------------------------------------------ compile-time checks


def test_a_cycle_of_sub_workflows_is_a_compile_error_naming_the_files(tmp_path: Path) -> None:
    parent_of(tmp_path, "b.nopflow.json", name="a.nopflow.json")
    parent_of(tmp_path, "a.nopflow.json", name="b.nopflow.json")
    [problem] = problems_of(tmp_path / "a.nopflow.json")
    assert problem.startswith("node sub: config.path: ")
    assert "sub-workflow cycle: a.nopflow.json → b.nopflow.json → a.nopflow.json" in problem


def test_a_workflow_running_itself_is_a_cycle(tmp_path: Path) -> None:
    me = parent_of(tmp_path, "me.nopflow.json", name="me.nopflow.json")
    assert problems_of(me) == [
        "node sub: config.path: sub-workflow cycle: me.nopflow.json → me.nopflow.json"]
    done = nopflow("validate", str(me), data=tmp_path / "data")
    assert done.returncode == 2 and "sub-workflow cycle" in done.stdout


def test_nesting_depth_is_at_most_eight(tmp_path: Path) -> None:
    child(tmp_path, "l8.nopflow.json")
    for level in range(7, -1, -1):
        parent_of(tmp_path, f"l{level + 1}.nopflow.json", name=f"l{level}.nopflow.json",
                  key="twice")
    assert problems_of(tmp_path / "l0.nopflow.json") == []  # l0 runs 8 levels below it
    run = run_of(tmp_path / "l0.nopflow.json")
    asyncio.run(run.execute())
    assert run.status == "completed" and run.outputs == {"twice": 2}

    parent_of(tmp_path, "l0.nopflow.json", name="top.nopflow.json")  # a 9th level
    [problem] = problems_of(tmp_path / "top.nopflow.json")
    assert "sub-workflows nest deeper than 8 levels: top.nopflow.json → l0.nopflow.json" \
        in problem and "l8.nopflow.json" in problem


def test_a_path_outside_the_project_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    child(tmp_path, "elsewhere.nopflow.json")
    parent = parent_of(project, "../elsewhere.nopflow.json")
    [problem] = problems_of(parent)
    assert problem.startswith("node sub: config.path: ") and "outside the project" in problem


def test_a_child_that_does_not_load_names_both_files(tmp_path: Path) -> None:
    (tmp_path / "broken.nopflow.json").write_text("{ not json", encoding="utf-8")
    parent = parent_of(tmp_path, "broken.nopflow.json")
    [problem] = problems_of(parent)
    assert "sub-workflow broken.nopflow.json (used by parent.nopflow.json) does not load" \
        in problem
    done = nopflow("validate", str(parent), data=tmp_path / "data")
    assert done.returncode == 2 and "broken.nopflow.json" in done.stdout


def test_a_childs_own_problems_are_the_parents(tmp_path: Path) -> None:
    write(tmp_path, "child.nopflow.json", [("s", "start", {}), ("x", "nosuch", {})],
          chain("s", "x"))
    with pytest.raises(CompileError) as info:
        run_of(parent_of(tmp_path, "child.nopflow.json"))
    [problem] = info.value.problems
    assert problem.node_id == "sub"
    assert "sub-workflow child.nopflow.json (used by parent.nopflow.json) cannot run: " \
           "node x: unknown block type 'nosuch'" in problem.message


def test_a_templated_path_is_checked_when_it_runs(tmp_path: Path) -> None:
    parent_of(tmp_path, "{{ $input.which }}", name="loop.nopflow.json",
              inputs={"which": {"default": "loop.nopflow.json"}})
    run = run_of(tmp_path / "loop.nopflow.json")
    asyncio.run(run.execute())
    assert run.nodes["sub"].error == ("sub-workflow cycle: loop.nopflow.json → "
                                      "loop.nopflow.json")
    child(tmp_path)
    run = run_of(tmp_path / "loop.nopflow.json", inputs={"which": "child.nopflow.json"})
    asyncio.run(run.execute())
    assert run.status == "completed" and run.outputs == {"answer": 2}


# ------------------------------------------------------------------ controls


def slow_child(folder: Path) -> Path:
    return write(folder, "slow.nopflow.json",
                 [("s", "start", {}), ("wait", "delay", {"seconds": 0.4}),
                  ("out", "output", {"values": {"twice": 1}})], chain("s", "wait", "out"))


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def test_pause_and_resume_reach_the_child(tmp_path: Path) -> None:
    slow_child(tmp_path)
    run = run_of(parent_of(tmp_path, "slow.nopflow.json"))
    children: list[Run] = []
    run.watch_children(lambda c, _file: children.append(c))

    async def go() -> float:
        task = asyncio.ensure_future(run.execute())
        await _until(lambda: bool(children) and children[0].status == "running")
        run.pause()
        assert children[0].status == "paused"
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await asyncio.sleep(0.6)  # longer than the child's delay: its clock stopped
        assert children[0].nodes["wait"].state.value == "running"
        run.resume()
        assert children[0].status == "running"
        await task
        return loop.time() - t0

    elapsed = asyncio.run(go())
    assert run.status == "completed" and elapsed >= 0.6


def test_cancel_reaches_the_child_and_both_are_kept_cancelled(tmp_path: Path) -> None:
    slow_child(tmp_path)
    run = run_of(parent_of(tmp_path, "slow.nopflow.json"))
    store = HistoryStore(tmp_path / "history")
    recorder = HistoryRecorder(run, store)

    async def go() -> None:
        task = asyncio.ensure_future(run.execute())
        await _until(lambda: bool(recorder.children)
                     and recorder.children[0].run.status == "running")
        run.cancel()
        await task
        await recorder.wait()

    asyncio.run(go())
    assert run.status == "cancelled" and states(run)["sub"] == "cancelled"
    [kept] = store.list_runs("slow")
    assert kept.status == "cancelled" and kept.nodes["wait"].status == "cancelled"
    assert kept.parent is not None and kept.parent["run_id"] == run.id


def test_a_parent_secret_passed_down_is_hidden_in_the_childs_history(tmp_path: Path) -> None:
    write(tmp_path, "child.nopflow.json",
          [("s", "start", {}), ("echo", "set", {"values": {"twice": "{{ $input.n }}"}}),
           ("out", "output", {"values": {"twice": "got {{ $vars.twice }}"}})],
          chain("s", "echo", "out"), id="child")
    parent = parent_of(tmp_path, "child.nopflow.json", {"n": "{{ $input.token }}"},
                       inputs={"token": {"default": "", "secret": True}})
    run = run_of(parent, inputs={"token": "tok-5up3r-s3cret"})
    store = HistoryStore(tmp_path / "history")
    recorder = HistoryRecorder(run, store)

    async def go() -> None:
        await run.execute()
        await recorder.wait()

    asyncio.run(go())
    assert run.status == "completed"
    kept = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "history").glob("*"))
    assert store.list_runs("child") and "tok-5up3r-s3cret" not in kept
    assert "tok-5up3r-s3cret" not in str(run.result())
