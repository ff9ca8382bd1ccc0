"""The `shell` block: real commands in the same sandbox as python blocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nopflow.engine.compiler import validate
from nopflow.engine.runner import Run
from nopflow.model import Workflow

REPO = Path(__file__).resolve().parents[2]


def wf(config: dict[str, Any], **extra: Any) -> Workflow:
    return Workflow.model_validate({
        "nodes": [{"id": "start", "type": "start"}, {"id": "sh", "type": "shell",
                                                     "config": config}],
        "edges": [{"id": "e", "source": "start", "target": "sh"}], **extra})


async def run(workflow: Workflow, project: Path) -> Run:
    r = Run(workflow, project_dir=project)
    await r.execute()
    return r


async def test_argv_runs_in_the_project_folder(tmp_path: Path):
    r = await run(wf({"command": ["sh", "-c", "pwd; echo warn >&2"]}), tmp_path)
    assert r.state.value == "completed", r.nodes["sh"].error
    out = r.nodes["sh"].output
    assert out == {"exit_code": 0, "stdout": f"{tmp_path.resolve()}\n", "stderr": "warn\n"}
    assert "warn" in list(r.nodes["sh"].logs)  # streamed to the node's log


async def test_shell_string_stdin_env_and_parse_json(tmp_path: Path):
    r = await run(wf({"command": "tr a-z A-Z | sed \"s/^/$GREETING /\"", "shell": True,
                      "stdin": "{{ $input.word }}", "env": {"GREETING": "hi"}},
                     inputs={"word": "tea"}), tmp_path)
    assert r.nodes["sh"].output["stdout"] == "hi TEA", r.nodes["sh"].error
    r = await run(wf({"command": ["echo", '{"n": 3}'], "parse_json": True}), tmp_path)
    assert r.nodes["sh"].output["stdout"] == {"n": 3}
    r = await run(wf({"command": ["echo", "nope"], "parse_json": True}), tmp_path)
    assert r.nodes["sh"].error.startswith("stdout is not valid JSON")


async def test_the_apps_environment_stays_out(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("NOPFLOW_TEST_APP_SECRET", "app-secret-value-1")
    r = await run(wf({"command": ["env"]}), tmp_path)
    assert "app-secret-value-1" not in r.nodes["sh"].output["stdout"]


async def test_exit_codes(tmp_path: Path):
    r = await run(wf({"command": "echo first >&2; echo last >&2; exit 4", "shell": True}),
                  tmp_path)
    assert r.nodes["sh"].error == "exited with code 4: last"
    r = await run(wf({"command": ["sh", "-c", "exit 4"], "ok_codes": [0, 4]}), tmp_path)
    assert r.nodes["sh"].output["exit_code"] == 4
    r = await run(wf({"command": ["no-such-command-xyz"]}), tmp_path)
    assert r.nodes["sh"].error.startswith("cannot start the command: ")
    assert "no-such-command-xyz" in r.nodes["sh"].error


async def test_writes_outside_the_project_are_refused(tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    outside = tmp_path / "outside.txt"
    r = await run(wf({"command": ["sh", "-c", f"echo x > {outside}"]}), project)
    assert r.nodes["sh"].state.value == "error"
    assert not outside.exists()
    r = await run(wf({"command": ["sh", "-c", "echo x > inside.txt"]}), project)
    assert r.state.value == "completed" and (project / "inside.txt").read_text() == "x\n"


async def test_timeout_kills_the_command_and_what_it_started(tmp_path: Path):
    r = await run(wf({"command": "sleep 30 & echo \"$(readlink /proc/$!/ns/pid) $!\" > "
                      "child.txt; wait", "shell": True, "timeout_s": 0.5}), tmp_path)
    assert r.nodes["sh"].error.startswith("timed out after 0.5 s")
    ns = (tmp_path / "child.txt").read_text().split()[0]
    assert _alive_in(ns) == []  # the background sleep died with the command


def _alive_in(ns: str) -> list[int]:
    """Host pids of live processes in PID namespace ``ns`` (as readlink shows it), or — when
    scripts share the host's namespace — nothing to look for."""
    if ns == os.readlink("/proc/self/ns/pid"):
        return []
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "ns" / "pid") == ns and \
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX":
                alive.append(int(entry.name))
        except OSError:
            continue
    return alive


def test_validate_refuses_a_string_without_shell(tmp_path: Path):
    problems = [str(p) for p in validate(wf({"command": "ls -l"}))]
    assert any('node sh: config: a command string needs "shell": true' in p for p in problems)


def test_cli(tmp_path: Path):
    path = tmp_path / "sh.nopflow.json"
    path.write_text(wf({"command": ["echo", "{{ $input.x }}"]}, inputs={"x": "1"})
                    .model_dump_json())
    proc = subprocess.run([sys.executable, "-m", "nopflow", "run", str(path), "--json",
                           "--input", "x=hi"], capture_output=True, text=True, timeout=60,
                          cwd=REPO, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["nodes"]["sh"]["output"]["stdout"] == "hi\n"


@pytest.mark.parametrize("bad", [{"command": []}, {"command": ["a"], "shell": True}])
def test_bad_commands(bad):
    assert validate(wf(bad))
