"""Run inputs that never appear in the process's command line: `--input-file FILE`
(KEY=VALUE lines or a JSON object) and `--input-stdin` (real CLI subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def workflow(folder: Path) -> Path:
    doc = {"format": "nopflow/workflow", "version": 1, "id": "inputs", "name": "Inputs",
           "inputs": {"token": {"default": "", "secret": True}, "n": {"default": 0},
                      "who": {"default": "nobody"}},
           "nodes": [{"id": "start", "type": "start"},
                     {"id": "out", "type": "output",
                      "config": {"values": {"n": "{{ $input.n }}", "who": "{{ $input.who }}",
                                            "long": "{{ $input.token | length }}"}}}],
           "edges": [{"id": "e1", "source": "start", "target": "out"}]}
    path = folder / "inputs.nopflow.json"
    path.write_text(json.dumps(doc))
    return path


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nopflow", "run", *args, "--json"],
                          capture_output=True, text=True, timeout=60, cwd=REPO, input=stdin)


def history(path: Path) -> list[dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "nopflow", "history", str(path), "--json"],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    return json.loads(proc.stdout)


def test_input_file_with_key_value_lines(tmp_path: Path) -> None:
    path = workflow(tmp_path)
    secrets = tmp_path / "secrets.env"
    secrets.write_text("# a comment\n\ntoken=hunter2-very-secret\nn=41\nwho = Ann\n")
    proc = run(str(path), "--input-file", str(secrets), "--input", "n=42")
    assert proc.returncode == 0, proc.stderr
    outputs = json.loads(proc.stdout)["outputs"]
    assert outputs == {"n": 42, "who": " Ann", "long": len("hunter2-very-secret")}
    runs = history(path)
    assert runs[0]["inputs"]["token"] == "***"
    assert "hunter2-very-secret" not in json.dumps(runs)


def test_input_file_with_a_json_object(tmp_path: Path) -> None:
    path = workflow(tmp_path)
    doc = tmp_path / "inputs.json"
    doc.write_text(json.dumps({"token": "s3cr3t-value", "n": {"deep": [1, 2]}, "who": "Bo"}))
    proc = run(str(path), "--input-file", str(doc))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outputs"]["n"] == {"deep": [1, 2]}


def test_input_stdin_reads_key_value_lines(tmp_path: Path) -> None:
    path = workflow(tmp_path)
    proc = run(str(path), "--input-stdin", stdin="token=from-stdin-123\nwho=Cy\n")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)["outputs"]
    assert out["who"] == "Cy" and out["long"] == len("from-stdin-123")
    dash = run(str(path), "--input-file", "-", stdin='{"who": "Di"}')
    assert json.loads(dash.stdout)["outputs"]["who"] == "Di"


def test_bad_input_files_are_usage_errors_that_do_not_echo_values(tmp_path: Path) -> None:
    path = workflow(tmp_path)
    bad = tmp_path / "bad.env"
    bad.write_text("token=ok\nthis line has no equals sign hunter3\n")
    proc = run(str(path), "--input-file", str(bad))
    assert proc.returncode == 2
    assert f"{bad}, line 2: expected KEY=VALUE" in proc.stderr
    assert "hunter3" not in proc.stderr and "Traceback" not in proc.stderr
    missing = run(str(path), "--input-file", str(tmp_path / "nope.env"))
    assert missing.returncode == 2 and "nope.env" in missing.stderr
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    proc = run(str(path), "--input-file", str(listed))
    assert proc.returncode == 2 and "expected KEY=VALUE" in proc.stderr
