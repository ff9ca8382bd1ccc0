"""Secrets through the CLI (real `nopflow` subprocesses): one redactor for --json, --events,
progress lines and history; `$env` reads only allow-listed names (docs/credentials.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nopflow.model import FORMAT_VERSION

REPO = Path(__file__).resolve().parent.parent
TOKEN = "hunter2-token-xyz"

ECHO_CODE = """\
import json, sys
data = json.load(sys.stdin)
t = data["t"]
print("using", t, "pin", data["p"], file=sys.stderr)
print(json.dumps({"auth": "Bearer " + t, t: "as a key", "pin": data["p"],
                  "took": "took 100 ms", "count": 10}))
"""

BOOM_CODE = """\
import json, sys
data = json.load(sys.stdin)
raise ValueError("bad token " + data["t"])
"""


def write_wf(folder: Path, doc: dict[str, Any]) -> Path:
    base = {"format": "nopflow/workflow", "version": FORMAT_VERSION, "id": "secrets-wf",
            "name": "Secrets"}
    path = folder / "flow.nopflow.json"
    path.write_text(json.dumps({**base, **doc}))
    return path


def nopflow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nopflow", *args], capture_output=True, text=True, timeout=90,
        cwd=REPO, encoding="utf-8", env={**os.environ, **(env or {})},
    )


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("NOPFLOW_DATA_DIR", str(path))
    return path


def _history_text(data_dir: Path) -> str:
    return "".join(p.read_text() for p in (data_dir / "history").glob("*.json"))


def test_secret_inputs_are_redacted_in_json_events_progress_and_history(
    tmp_path: Path, data_dir: Path
) -> None:
    node_inputs = {"t": "{{ $input.token }}", "p": "{{ $input.pin }}"}
    path = write_wf(tmp_path, {
        "inputs": {"token": {"secret": True}, "pin": {"secret": True}},
        "nodes": [
            {"id": "start", "type": "start"},
            {"id": "echo", "type": "python", "config": {"code": ECHO_CODE, "inputs": node_inputs}},
            {"id": "boom", "type": "python", "error_mode": "continue",
             "retry": {"max_attempts": 2, "initial_delay_s": 0},
             "config": {"code": BOOM_CODE, "inputs": node_inputs}},
            {"id": "out", "type": "output",
             "config": {"values": {"said": "{{ $node.echo.auth }}", "pin": "{{ $input.pin }}",
                                   "took": "{{ $node.echo.took }}"}}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "echo"},
                  {"id": "e2", "source": "start", "target": "boom"},
                  {"id": "e3", "source": "echo", "target": "out"}],
    })
    args = ("run", str(path), "--input", f"token={TOKEN}", "--input", "pin=1")
    result_proc = nopflow(*args, "--json")
    events_proc = nopflow(*args, "--events")
    for proc in (result_proc, events_proc):
        assert proc.returncode == 1, proc.stderr  # boom failed (and was continued)
        assert TOKEN not in proc.stdout and TOKEN not in proc.stderr
    result = json.loads(result_proc.stdout)
    nodes = result["nodes"]
    assert nodes["start"]["output"] == {"token": "***", "pin": "***"}
    assert nodes["echo"]["output"] == {"auth": "Bearer ***", "***": "as a key", "pin": "***",
                                       "took": "took 100 ms", "count": 10}
    assert nodes["boom"]["error"].startswith("ValueError: bad token ***")
    assert result["outputs"] == {"said": "Bearer ***", "pin": "***", "took": "took 100 ms"}

    events = [json.loads(line) for line in events_proc.stdout.splitlines()]
    kinds = {e["event"] for e in events}
    assert {"run_started", "node_log", "node_retry", "node_state", "run_finished"} <= kinds
    started = next(e for e in events if e["event"] == "run_started")
    assert started["inputs"] == {"token": "***", "pin": "***"}
    # a short secret inside longer text stays (only whole values hide it)
    logs = [e["line"] for e in events if e["event"] == "node_log" and e["node_id"] == "echo"]
    assert "using *** pin 1" in logs
    retry = next(e for e in events if e["event"] == "node_retry")
    assert "bad token ***" in retry["error"]
    finished = events[-1]
    assert finished["outputs"]["said"] == "Bearer ***" and finished["outputs"]["took"] == (
        "took 100 ms")
    assert "using *** pin 1" in events_proc.stderr  # the progress lines

    history = _history_text(data_dir)
    assert TOKEN not in history
    hist = nopflow("history", str(path), "--json")
    assert hist.returncode == 0 and TOKEN not in hist.stdout
    kept = json.loads(hist.stdout)[0]
    assert kept["inputs"] == {"token": "***", "pin": "***"}
    assert kept["nodes"]["echo"]["output"]["took"] == "took 100 ms"
    assert kept["nodes"]["echo"]["output"]["***"] == "as a key"
    assert kept["nodes"]["boom"]["attempt_log"][0]["attempt"] == 1  # a number, not "***"
    assert "bad token ***" in kept["nodes"]["boom"]["attempt_log"][0]["error"]
