"""A broken `settings.python` is found by `nopflow validate`, with a clear message
(issue 11 item 20): checked once, confined, not first at run time node by node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nopflow.sandbox import interpreter_problem

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.name != "posix", reason="shell wrappers")


def _workflow(folder: Path, python: str, n_nodes: int = 2) -> Path:
    nodes = [{"id": "start", "type": "start"}]
    nodes += [{"id": f"py{i}", "type": "python", "config": {"code": "print('{}')"}}
              for i in range(n_nodes)]  # fmt: skip
    doc = {
        "format": "nopflow/workflow", "version": 1, "id": "interp", "name": "Interpreter",
        "settings": {"python": python}, "nodes": nodes,
        "edges": [{"id": f"e{i}", "source": "start", "source_port": "out", "target": f"py{i}"}
                  for i in range(n_nodes)],
    }  # fmt: skip
    path = folder / "flow.nopflow.json"
    path.write_text(json.dumps(doc))
    return path


def _nopflow(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOPFLOW_DATA_DIR": str(data)}
    return subprocess.run([sys.executable, "-m", "nopflow", *args], capture_output=True,
                          text=True, timeout=120, cwd=REPO, env=env)  # fmt: skip


def _wrapper(folder: Path, body: str) -> str:
    path = folder / "py.sh"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize(
    ("kind", "expect"),
    [
        ("false", "Python interpreter /bin/false failed (exit code 1) when asked for its "
                  "version, printing nothing: is it a Python?"),
        ("wrapper", "failed (exit code 3) when asked for its version: no python here"),
        ("bare", "Python interpreter not found: no-such-python3 is not on PATH (give its "
                 "full path, e.g. /usr/bin/python3)"),
        ("missing", "Python interpreter not found or not executable: /nowhere/python3"),
    ],
)  # fmt: skip
def test_validate_reports_a_broken_interpreter(tmp_path: Path, kind: str, expect: str) -> None:
    python = {
        "false": "/bin/false",
        "wrapper": _wrapper(tmp_path, "echo 'no python here' >&2\nexit 3\n"),
        "bare": "no-such-python3",
        "missing": "/nowhere/python3",
    }[kind]
    wf = _workflow(tmp_path, python)
    proc = _nopflow("validate", str(wf), data=tmp_path / "data")
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if "settings.python" in ln]
    assert lines, proc.stdout + proc.stderr
    assert all(expect in ln for ln in lines), lines
    assert not any(ln.rstrip().endswith(":") for ln in lines)
    assert "Traceback" not in proc.stderr


def test_validate_accepts_a_working_interpreter(tmp_path: Path, venv_python: str) -> None:
    wf = _workflow(tmp_path, venv_python)
    proc = _nopflow("validate", str(wf), data=tmp_path / "data")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_run_with_a_broken_interpreter_says_why(tmp_path: Path) -> None:
    """The run refuses before any node runs, with the same clear message."""
    wf = _workflow(tmp_path, "/bin/false")
    proc = _nopflow("run", str(wf), data=tmp_path / "data")
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "/bin/false failed (exit code 1)" in out, out
    assert "Traceback" not in out


def test_the_check_runs_once_per_interpreter_file(tmp_path: Path) -> None:
    """Cached by path, size and mtime: validate, the block check and each node's run
    share one check — and a changed file is checked again."""
    wrapper = _wrapper(tmp_path, "exit 3\n")
    st = os.stat(wrapper)
    first = interpreter_problem(wrapper)
    assert first is not None and "exit code 3" in first
    Path(wrapper).write_text("#!/bin/sh\nexit 4\n")  # same size; same mtime restored
    os.utime(wrapper, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert interpreter_problem(wrapper) == first  # not run again
    os.utime(wrapper, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    again = interpreter_problem(wrapper)
    assert again is not None and "exit code 4" in again


def test_the_check_follows_the_executor_kind(tmp_path: Path) -> None:
    """The interpreter is checked where scripts will run: locally for `local`; a Dask
    cluster's workers check it themselves, so `validate` on this machine says nothing."""
    from nopflow.engine.compiler import validate
    from nopflow.model import load_workflow

    doc = json.loads(_workflow(tmp_path, "/bin/false", n_nodes=1).read_text())
    doc["settings"]["executor"] = {"kind": "dask", "address": "tcp://127.0.0.1:1"}
    (tmp_path / "dask.nopflow.json").write_text(json.dumps(doc))
    local = [str(p) for p in validate(load_workflow(tmp_path / "flow.nopflow.json"))]
    remote = [str(p) for p in validate(load_workflow(tmp_path / "dask.nopflow.json"))]
    assert any("settings.python: Python interpreter /bin/false failed" in p for p in local)
    assert not any("settings.python" in p for p in remote), remote
