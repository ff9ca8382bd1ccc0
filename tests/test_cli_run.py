"""`nopflow run` and `nopflow history` as a user runs them (real subprocesses)."""

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
from prochelpers import script_pid

REPO = Path(__file__).resolve().parent.parent


def write_wf(folder: Path, nodes: list[dict[str, Any]], edges: list[tuple[str, str]],
             **extra: Any) -> Path:
    doc = {
        "format": "nopflow/workflow", "version": 1, "id": extra.pop("id", "cli-wf"),
        "name": "CLI test",
        "nodes": [{"id": "start", "type": "start"}, *nodes],
        "edges": [
            {"id": f"e{i}", "source": s.split(".")[0],
             "source_port": s.split(".")[1] if "." in s else "out", "target": t}
            for i, (s, t) in enumerate(edges)
        ],
        **extra,
    }
    path = folder / "flow.nopflow.json"
    path.write_text(json.dumps(doc))
    return path


def nopflow(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nopflow", *args], capture_output=True, text=True,
        timeout=timeout, cwd=REPO, encoding="utf-8",
    )


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("NOPFLOW_DATA_DIR", str(path))
    return path


def simple(tmp_path: Path) -> Path:
    return write_wf(
        tmp_path,
        [{"id": "calc", "type": "set", "title": "Compute", "config": {"values": {"v": 1}}},
         {"id": "out", "type": "output",
          "config": {"values": {"greeting": "hello {{ $input.name }}", "n": "{{ $input.n }}"}}}],
        [("start", "calc"), ("calc", "out")],
        inputs={"name": {"default": "world"}, "n": 1},
    )


def test_run_json_result_shape(tmp_path: Path, data_dir: Path) -> None:
    path = simple(tmp_path)
    proc = nopflow("run", str(path), "--json", "--input", "name=Ann", "-i", 'n={"a": [1]}')
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result) == {"run_id", "status", "duration_ms", "outputs", "trigger", "nodes"}
    assert result["trigger"] == {"type": "manual"}
    assert result["status"] == "completed"
    assert result["outputs"] == {"greeting": "hello Ann", "n": {"a": [1]}}
    assert set(result["nodes"]) == {"start", "calc", "out"}
    for node in result["nodes"].values():
        assert set(node) == {"status", "attempts", "duration_ms", "output", "error",
                             "source", "reused_from"}
        assert node["source"] == "ran" and node["reused_from"] is None
    assert "✓ calc (Compute) success" in proc.stderr
    hist = nopflow("history", str(path), "--json")
    assert hist.returncode == 0
    runs = json.loads(hist.stdout)
    assert [r["run_id"] for r in runs] == [result["run_id"]]


def test_run_events_stream(tmp_path: Path, data_dir: Path) -> None:
    proc = nopflow("run", str(simple(tmp_path)), "--events", "--quiet")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert events[0]["event"] == "run_started"
    assert events[-1]["event"] == "run_finished" and events[-1]["status"] == "completed"
    assert {"node_state", "progress"} <= {e["event"] for e in events}
    assert proc.stderr == ""


def test_failed_run_exits_1(tmp_path: Path, data_dir: Path) -> None:
    path = write_wf(tmp_path, [{"id": "bad", "type": "delay",
                                "config": {"seconds": "{{ $input.nope }}"}}],
                    [("start", "bad")])
    proc = nopflow("run", str(path), "--json")
    assert proc.returncode == 1
    result = json.loads(proc.stdout)
    assert result["status"] == "failed"
    assert "node bad" in result["nodes"]["bad"]["error"]
    assert "Traceback" not in proc.stderr


def test_invalid_workflow_exits_2(tmp_path: Path, data_dir: Path) -> None:
    path = write_wf(tmp_path, [{"id": "x", "type": "nope"}], [("start", "x")])
    proc = nopflow("run", str(path))
    assert proc.returncode == 2
    assert "node x:" in proc.stderr and "Traceback" not in proc.stderr
    missing = nopflow("run", str(tmp_path / "missing.nopflow.json"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    (tmp_path / "broken.json").write_text("{")
    broken = nopflow("run", str(tmp_path / "broken.json"))
    assert broken.returncode == 2 and "Traceback" not in broken.stderr


def test_usage_errors_exit_2(tmp_path: Path, data_dir: Path) -> None:
    path = simple(tmp_path)
    proc = nopflow("run", str(path), "--input", "novalue")
    assert proc.returncode == 2 and "KEY=VALUE" in proc.stderr
    proc = nopflow("run", str(path), "--input", "other=1")
    assert proc.returncode == 0 and "warning" in proc.stderr and "other" in proc.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signal_cancels_run_and_kills_children(tmp_path: Path, data_dir: Path,
                                               sig: signal.Signals) -> None:
    code = ("import os, sys, time\n"
            "me = os.readlink('/proc/self/ns/pid') + '/' + str(os.getpid())\n"
            "print(me, file=sys.stderr, flush=True)\n"
            "time.sleep(60)\n")
    path = write_wf(tmp_path, [{"id": "slow", "type": "python", "config": {"code": code}},
                               {"id": "wait", "type": "delay", "config": {"seconds": 60}}],
                    [("start", "slow"), ("start", "wait")])
    proc = subprocess.Popen(
        [sys.executable, "-m", "nopflow", "run", str(path), "--events"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    child_pid = None
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        ev = json.loads(line)
        if ev["event"] == "node_log" and ev["node_id"] == "slow":
            child_pid = script_pid(ev["line"])
            break
    assert child_pid is not None
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    last = json.loads(out.splitlines()[-1])
    assert last["event"] == "run_finished" and last["status"] == "cancelled"
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(child_pid, 0)
    assert script_pid(ev["line"]) is None
    hist = nopflow("history", str(path), "--json")
    runs = json.loads(hist.stdout)
    assert runs[0]["status"] == "cancelled"
    assert runs[0]["nodes"]["slow"]["status"] == "cancelled"


def test_history_text(tmp_path: Path, data_dir: Path) -> None:
    path = simple(tmp_path)
    empty = nopflow("history", str(path))
    assert empty.returncode == 0
    for _ in range(2):
        assert nopflow("run", str(path), "-q").returncode == 0
    proc = nopflow("history", str(path))
    assert proc.returncode == 0
    assert proc.stdout.count("completed") == 2 and "calc" in proc.stdout
    bad = nopflow("history", str(tmp_path / "nope.json"))
    assert bad.returncode == 2


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("gap", [0.02, 0.15])
def test_repeated_ctrl_c_still_exits_1_and_keeps_the_run(tmp_path: Path, data_dir: Path,
                                                         gap: float) -> None:
    # An impatient second Ctrl+C lands while the first cancel is cleaning up (or while the
    # process exits): the run must still end as `cancelled`, exit code 1, no traceback.
    path = write_wf(tmp_path, [{"id": "wait", "type": "delay", "config": {"seconds": 60}}],
                    [("start", "wait")])
    proc = subprocess.Popen([sys.executable, "-m", "nopflow", "run", str(path), "--events"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line or json.loads(line)["event"] == "node_state":
            break
    proc.send_signal(signal.SIGINT)
    for _ in range(3):
        time.sleep(gap)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    runs = json.loads(nopflow("history", str(path), "--json").stdout)
    assert runs[0]["status"] == "cancelled"


def test_json_and_events_together(tmp_path: Path, data_dir: Path) -> None:
    proc = nopflow("run", str(simple(tmp_path)), "--events", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert all("event" in ev for ev in lines[:-1])
    assert lines[-2]["event"] == "run_finished"
    assert lines[-1]["status"] == "completed" and lines[-1]["outputs"]["greeting"] == "hello world"


def test_a_data_folder_that_is_a_file_is_a_clear_error(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("NOPFLOW_DATA_DIR", str(blocker))
    path = simple(tmp_path)
    proc = nopflow("history", str(path))
    assert proc.returncode == 2 and "is a file, not a folder" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = nopflow("run", str(path), "--json")  # the run itself still works
    assert proc.returncode == 0 and json.loads(proc.stdout)["status"] == "completed"
    assert proc.stderr.count("is a file, not a folder") == 1


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_while_still_starting_cancels_cleanly(tmp_path: Path, data_dir: Path) -> None:
    # -X importtime prints a line as each module finishes importing: the Ctrl+C lands at a
    # known moment of start-up (parsing the command line, importing the engine).
    path = write_wf(tmp_path, [{"id": "wait", "type": "delay", "config": {"seconds": 60}}],
                    [("start", "wait")])
    markers = ["argparse", "logging", "asyncio", "pydantic"]
    for marker in markers:
        proc = subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", "nopflow", "run", str(path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("import time:") and line.split("|")[-1].strip() == marker:
                proc.send_signal(signal.SIGINT)
                break
        else:
            pytest.fail(f"{marker} was never imported")
        _out, rest = proc.communicate(timeout=30)
        err = "".join(seen) + rest
        assert proc.returncode == 1, (marker, err[-2000:])
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, (marker, err[-2000:])
    runs = json.loads(nopflow("history", str(path), "--json").stdout)
    assert [r["status"] for r in runs] == ["cancelled"] * len(markers)
