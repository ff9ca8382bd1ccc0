"""What a new user sees from the CLI: the reason a quiet run failed, every problem of a
file, a typo'd command, plurals, and a pipe into `head` (real subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def write_wf(folder: Path, nodes: list[dict[str, Any]], edges: list[tuple[str, str]],
             **extra: Any) -> Path:
    doc = {"format": "nopflow/workflow", "version": 1, "id": extra.pop("id", "cli-wf"),
           "name": "CLI test", "nodes": [{"id": "start", "type": "start"}, *nodes],
           "edges": [{"id": f"e{i}", "source": s, "target": t} for i, (s, t) in enumerate(edges)],
           **extra}
    path = folder / "flow.nopflow.json"
    path.write_text(json.dumps(doc))
    return path


def nopflow(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nopflow", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO, encoding="utf-8")


def test_quiet_still_prints_why_the_run_failed(tmp_path: Path) -> None:
    path = write_wf(tmp_path, [{"id": "py", "type": "python",
                                "config": {"code": "raise SystemExit('disk is full')"}}],
                    [("start", "py")])
    proc = nopflow("run", str(path), "--quiet")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("nopflow: run failed: node py:") and "disk is full" in lines[0]


def test_quiet_success_prints_nothing(tmp_path: Path) -> None:
    path = write_wf(tmp_path, [{"id": "v", "type": "set", "config": {"values": {"a": 1}}}],
                    [("start", "v")])
    proc = nopflow("run", str(path), "-q")
    assert proc.returncode == 0 and proc.stderr == ""


def test_load_errors_list_every_problem(tmp_path: Path) -> None:
    doc = {"format": "nopflow/workflow", "version": 1, "name": 7,
           "nodes": [{"id": "start", "type": "start", "bogus": 1},
                     {"id": "d", "type": "delay", "title": 5}], "edges": []}
    path = tmp_path / "bad.nopflow.json"
    path.write_text(json.dumps(doc))
    for command in ("validate", "run", "history"):
        proc = nopflow(command, str(path))
        assert proc.returncode == 2
        assert "more problem" not in proc.stderr
        assert "$.name" in proc.stderr, proc.stderr
        assert "$.nodes[0].bogus (node start): unknown field 'bogus'" in proc.stderr
        assert "$.nodes[1].title (node d)" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_a_mistyped_command_suggests_the_right_one(tmp_path: Path) -> None:
    for typo, meant in (("runn", "run"), ("histroy", "history"), ("valdate", "validate")):
        proc = subprocess.run([sys.executable, "-m", "nopflow", typo, "x.nopflow.json"],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path,
                              env={"PATH": "/usr/bin:/bin", "DISPLAY": ""})
        assert proc.returncode == 2
        assert f"did you mean '{meant}'?" in proc.stderr, proc.stderr


def test_validate_counts_use_singular_and_plural(tmp_path: Path) -> None:
    path = write_wf(tmp_path, [{"id": "v", "type": "set", "config": {"values": {"a": 1}}}],
                    [("start", "v")])
    proc = nopflow("validate", str(path))
    assert proc.returncode == 0
    assert "valid (2 nodes, 1 edge)" in proc.stderr, proc.stderr
    one = write_wf(tmp_path, [], [])
    assert "valid (1 node, 0 edges)" in nopflow("validate", str(one)).stderr


def _history_with_many_lines(tmp_path: Path, data_dir: Path) -> Path:
    """A workflow with a kept run of 4,000 nodes: more output than a pipe holds."""
    path = write_wf(tmp_path, [], [], id="piped")
    nodes = {f"node{i:05d}": {"status": "success", "attempts": 1, "duration_ms": 1}
             for i in range(4000)}
    run = {"run_id": "r1", "workflow_id": "piped", "workflow_name": "CLI test",
           "status": "completed", "started_at": "2026-01-01T00:00:00.000Z",
           "ended_at": "2026-01-01T00:00:01.000Z", "duration_ms": 1000,
           "inputs": {}, "outputs": {}, "error": None, "nodes": nodes}
    folder = data_dir / "history"
    folder.mkdir(parents=True)
    (folder / "piped.json").write_text(json.dumps(
        {"format": "nopflow/history", "version": 1, "workflow_id": "piped",
         "workflow_name": "CLI test", "runs": [run]}))
    return path


def test_output_piped_into_head_ends_quietly(tmp_path: Path, monkeypatch) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("NOPFLOW_DATA_DIR", str(data_dir))
    path = _history_with_many_lines(tmp_path, data_dir)
    nop = f"{sys.executable} -m nopflow"
    for command in (f"history {path}", f"history {path} --json",
                    f"run {path} --events", f"run {path} --json", f"validate {path}"):
        proc = subprocess.run(f"{nop} {command} 2>&1 | head -n 1", shell=True,
                              capture_output=True, text=True, timeout=60, cwd=REPO)
        assert "BrokenPipeError" not in proc.stdout + proc.stderr, command
        assert "Traceback" not in proc.stdout + proc.stderr, command
    proc = subprocess.run(f"{nop} history {path} | head -n 2; echo status=${{PIPESTATUS[0]}}",
                          shell=True, executable="/bin/bash", capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert proc.stderr == "", proc.stderr
    assert "status=0" in proc.stdout
