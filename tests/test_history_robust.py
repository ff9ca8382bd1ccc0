"""History keeps every run through odd ids, crashes and foreign files (real CLI
subprocesses, real files, real signals)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def write(folder: Path, wf_id: str, nodes: list[dict[str, Any]] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nodes = nodes or [{"id": "v", "type": "set", "config": {"values": {"a": 1}}}]
    doc = {"format": "nopflow/workflow", "version": 1, "id": wf_id, "name": f"wf {wf_id}",
           "nodes": [{"id": "start", "type": "start"}, *nodes],
           "edges": [{"id": f"e{i}", "source": "start", "target": n["id"]}
                     for i, n in enumerate(nodes)]}
    path = folder / "flow.nopflow.json"
    path.write_text(json.dumps(doc))
    return path


def nopflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nopflow", *args], capture_output=True,
                          text=True, timeout=60, cwd=REPO)


def runs_of(path: Path) -> list[dict[str, Any]]:
    proc = nopflow("history", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def history_dir() -> Path:
    return Path(os.environ["NOPFLOW_DATA_DIR"]) / "history"


def test_ids_that_differ_in_punctuation_or_case_keep_separate_histories(tmp_path: Path) -> None:
    ids = ["report.v1", "reportv1", "report-v1", "Reportv1"]
    paths = [write(tmp_path / str(i), wf_id) for i, wf_id in enumerate(ids)]
    for path in paths:
        assert nopflow("run", str(path), "-q").returncode == 0
    for wf_id, path in zip(ids, paths, strict=True):
        runs = runs_of(path)
        assert [r["workflow_id"] for r in runs] == [wf_id]
    names = sorted(p.name for p in history_dir().glob("*.json"))
    assert len(names) == len(ids), names


def test_old_style_history_files_stay_readable_and_move_over(tmp_path: Path) -> None:
    # before ids were encoded, report.v1 and reportv1 both lived in reportv1.json
    folder = history_dir()
    folder.mkdir(parents=True)
    old_runs = [{"run_id": f"old-{wf_id}", "workflow_id": wf_id, "workflow_name": wf_id,
                 "status": "completed", "started_at": f"2026-01-0{i + 1}T00:00:00.000Z",
                 "nodes": {}} for i, wf_id in enumerate(["report.v1", "reportv1"])]
    (folder / "reportv1.json").write_text(json.dumps(
        {"format": "nopflow/history", "version": 1, "workflow_id": "reportv1",
         "workflow_name": "reportv1", "runs": old_runs}))
    dotted = write(tmp_path / "a", "report.v1")
    plain = write(tmp_path / "b", "reportv1")
    assert [r["run_id"] for r in runs_of(dotted)] == ["old-report.v1"]
    assert [r["run_id"] for r in runs_of(plain)] == ["old-reportv1"]
    assert nopflow("run", str(dotted), "-q").returncode == 0
    dotted_runs = runs_of(dotted)
    assert len(dotted_runs) == 2 and dotted_runs[1]["run_id"] == "old-report.v1"
    assert [r["run_id"] for r in runs_of(plain)] == ["old-reportv1"]
    left = json.loads((folder / "reportv1.json").read_text())
    assert [r["run_id"] for r in left["runs"]] == ["old-reportv1"]


def test_history_shows_which_file_each_run_came_from(tmp_path: Path) -> None:
    first = write(tmp_path / "one", "shared-id")
    copy = write(tmp_path / "two", "shared-id")  # a copied file keeps its id
    assert nopflow("run", str(first), "-q").returncode == 0
    assert nopflow("run", str(copy), "-q").returncode == 0
    runs = runs_of(first)
    assert [r["workflow_file"] for r in runs] == [str(copy.resolve()), str(first.resolve())]
    text = nopflow("history", str(first)).stdout
    assert f"from {copy.resolve()}" in text and f"from {first.resolve()}" in text
    assert "history file: " in text


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_run_killed_with_sigkill_shows_as_interrupted(tmp_path: Path) -> None:
    path = write(tmp_path, "killed", [{"id": "wait", "type": "delay",
                                       "config": {"seconds": 60}}])
    proc = subprocess.Popen([sys.executable, "-m", "nopflow", "run", str(path), "--events"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=REPO)
    assert proc.stdout is not None
    for line in proc.stdout:
        if json.loads(line).get("node_id") == "wait":
            break
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the start record is written off the loop
        files = list(history_dir().glob("killed.json"))
        if files and "running" in files[0].read_text():
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=20)
    runs = runs_of(path)
    assert [r["status"] for r in runs] == ["interrupted"]
    assert "stopped before the run finished" in runs[0]["error"]
    text = nopflow("history", str(path)).stdout
    assert "interrupted" in text
    # the next run keeps it, and settles it for good
    quick = write(tmp_path, "killed")
    assert nopflow("run", str(quick), "-q").returncode == 0
    stored = json.loads((history_dir() / "killed.json").read_text())
    assert [r["status"] for r in stored["runs"]] == ["completed", "interrupted"]


def test_a_running_run_shows_as_running_not_interrupted(tmp_path: Path) -> None:
    path = write(tmp_path, "live", [{"id": "wait", "type": "delay", "config": {"seconds": 60}}])
    proc = subprocess.Popen([sys.executable, "-m", "nopflow", "run", str(path), "--events"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=REPO)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if json.loads(line).get("node_id") == "wait":
                break
        deadline = time.monotonic() + 20
        runs: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not runs:
            runs = runs_of(path)
            time.sleep(0.05)
        assert [r["status"] for r in runs] == ["running"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert [r["status"] for r in runs_of(path)] == ["cancelled"]


def test_records_with_wrong_field_types_are_set_aside(tmp_path: Path) -> None:
    path = write(tmp_path, "typed")
    assert nopflow("run", str(path), "-q").returncode == 0
    file = history_dir() / "typed.json"
    doc = json.loads(file.read_text())
    good = doc["runs"][0]
    doc["runs"] += [
        {**good, "run_id": "bad-nodes", "nodes": []},
        {**good, "run_id": "bad-duration", "duration_ms": "abc"},
        {**good, "run_id": "bad-node", "nodes": {"v": {"status": 5, "attempts": "x"}}},
        "not even an object",
    ]
    file.write_text(json.dumps(doc))
    first = nopflow("history", str(path))
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    assert "4 records not readable" in first.stderr and ".invalid-" in first.stderr
    assert good["run_id"] in first.stdout
    second = nopflow("history", str(path))
    assert second.returncode == 0 and second.stderr == ""
    aside = list(history_dir().glob("typed.invalid-*.json"))
    assert len(aside) == 1
    assert len(json.loads(aside[0].read_text())["runs"]) == 4
    assert nopflow("run", str(path), "-q").returncode == 0
    assert len(runs_of(path)) == 2


def test_a_history_file_from_a_newer_nopflow_is_never_rewritten(tmp_path: Path) -> None:
    path = write(tmp_path, "future")
    folder = history_dir()
    folder.mkdir(parents=True)
    future = folder / "future.json"
    future.write_text(json.dumps(
        {"format": "nopflow/history", "version": 7, "workflow_id": "future",
         "workflow_name": "wf future", "runs": [
             {"run_id": "from-the-future", "workflow_id": "future", "workflow_name": "x",
              "status": "completed", "started_at": "2030-01-01T00:00:00.000Z",
              "nodes": {}, "hologram": True}]}))
    before = future.read_bytes()
    proc = nopflow("run", str(path), "-q")
    assert proc.returncode == 0
    assert "newer nopflow" in proc.stderr and "was not kept" in proc.stderr
    assert future.read_bytes() == before
    assert [r["run_id"] for r in runs_of(path)] == ["from-the-future"]
    assert future.read_bytes() == before
