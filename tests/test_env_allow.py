"""`$env` reads only names listed in settings.env_allow (docs/credentials.md): compile errors name
the node, field, variable, setting and position; a real `nopflow run` with secrets in its
environment never lets an unlisted one reach the script, --json, --events or history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nopflow.engine.compiler import CompileError, compile_workflow, validate
from nopflow.engine.runner import Run
from nopflow.model import Workflow

from .test_secrets_cli import nopflow, write_wf

SECRET = "s3cr3t-value-of-the-app"
TOKEN = "allowed-token-1234"


def _wf(nodes: list[dict[str, Any]], allow: list[str] | None = None) -> Workflow:
    return Workflow.model_validate({
        "settings": {"env_allow": allow or []},
        "nodes": [{"id": "s", "type": "start"}, *nodes],
        "edges": [{"id": f"e{i}", "source": "s", "target": n["id"]} for i, n in enumerate(nodes)],
    })


def _messages(wf: Workflow) -> list[str]:
    return [str(p) for p in validate(wf)]


def test_unlisted_name_is_a_compile_error_naming_node_field_variable_setting_position() -> None:
    wf = _wf([{"id": "o", "type": "output",
               "config": {"values": {"a": "home {{ $env.HOME }}", "b": "{{ $env.REGION }}"}}}],
             allow=["REGION"])
    assert _messages(wf) == [
        "node o: config.values.a: $env.HOME is not allowed: add HOME to the workflow's "
        "settings.env_allow to let it read that environment variable at position 13 in "
        "'home {{ $env.HOME }}'"]


@pytest.mark.parametrize("text", [
    "{{ $env }}", "{{ $env | json }}", "x {{ $env }} ", "{{ $env | length > 0 }}",
])
def test_bare_env_is_never_allowed_also_in_inputs_and_env(text: str) -> None:
    code = "print('{}')"
    wf = _wf([
        {"id": "p", "type": "python",
         "config": {"code": code, "inputs": {"all": text}, "env": {"ALL": text}}},
        {"id": "c", "type": "condition", "config": {"expression": "$env"}},
    ], allow=["HOME"])
    problems = _messages(wf)
    assert len(problems) == 3, problems
    assert all("$env alone is never allowed" in p for p in problems)
    assert any(p.startswith("node p: config.inputs.all:") for p in problems)
    assert any(p.startswith("node p: config.env.ALL:") for p in problems)
    assert any(p.startswith("node c: config.expression:") for p in problems)


def test_computed_env_name_is_refused() -> None:
    wf = _wf([{"id": "o", "type": "output", "config": {"values": {"a": "{{ $env[$input.k] }}"}}}],
             allow=["HOME"])
    (problem,) = _messages(wf)
    assert "needs a variable name written out" in problem and "position 8" in problem


def test_listed_names_compile_and_only_they_reach_the_scope() -> None:
    wf = _wf([{"id": "o", "type": "output",
               "config": {"values": {"r": "{{ $env.REGION }}",
                                     "m": "{{ $env['MISSING'] | default('none') }}"}}}],
             allow=["REGION", "MISSING"])
    compile_workflow(wf)
    run = Run(wf, env={"REGION": "eu", "API_KEY": SECRET})
    assert run._env == {"REGION": "eu"}
    with pytest.raises(CompileError):
        Run(_wf([{"id": "o", "type": "output", "config": {"values": {"k": "{{ $env.API_KEY }}"}}}],
                allow=["REGION"]))


ECHO_STDIN = """\
import json, os, sys
raw = sys.stdin.read()
open("stdin-seen.txt", "w").write(raw)
open("environ-seen.txt", "w").write(json.dumps(dict(os.environ)))
data = json.loads(raw)
print("token is", data["tok"], file=sys.stderr)
print(json.dumps({"got": data, "msg": "Bearer " + data["tok"]}))
"""


def test_run_gives_scripts_only_listed_env_and_redacts_secret_names(
    tmp_path: Path, data_dir: Path
) -> None:
    env = {"APP_SECRET": SECRET, "API_TOKEN": TOKEN, "REGION": "eu-west-1"}
    nodes = [
        {"id": "start", "type": "start"},
        {"id": "py", "type": "python",
         "config": {"code": ECHO_STDIN,
                    "inputs": {"tok": "{{ $env.API_TOKEN }}", "region": "{{ $env.REGION }}"}}},
    ]
    edges = [{"id": "e1", "source": "start", "target": "py"}]
    path = write_wf(tmp_path, {"settings": {"env_allow": ["API_TOKEN", "REGION"]},
                               "nodes": nodes, "edges": edges})
    result_proc = nopflow("run", str(path), "--json", env=env)
    events_proc = nopflow("run", str(path), "--events", env=env)
    for proc in (result_proc, events_proc):
        assert proc.returncode == 0, proc.stderr
        assert SECRET not in proc.stdout + proc.stderr
        assert TOKEN not in proc.stdout + proc.stderr  # allowed, but its name says secret
    seen = json.loads((tmp_path / "stdin-seen.txt").read_text())
    assert seen == {"tok": TOKEN, "region": "eu-west-1"}  # the script gets what it names
    assert SECRET not in (tmp_path / "environ-seen.txt").read_text()
    out = json.loads(result_proc.stdout)["nodes"]["py"]["output"]
    assert out == {"got": {"tok": "***", "region": "eu-west-1"}, "msg": "Bearer ***"}
    assert '"line": "token is ***"' in events_proc.stdout
    history = "".join(p.read_text() for p in (data_dir / "history").glob("*.json"))
    assert TOKEN not in history and SECRET not in history and "eu-west-1" in history

    # asking for the whole environment, or an unlisted name, is refused before anything runs
    nodes[1]["config"]["inputs"] = {"all": "{{ $env }}", "s": "{{ $env.APP_SECRET }}"}
    path = write_wf(tmp_path, {"settings": {"env_allow": ["API_TOKEN"]},
                               "nodes": nodes, "edges": edges})
    (tmp_path / "stdin-seen.txt").unlink()
    for args in (("run", str(path), "--json", "--events"), ("validate", str(path))):
        proc = nopflow(*args, env=env)
        assert proc.returncode == 2, proc.stderr
        shown = proc.stdout + proc.stderr  # validate lists problems on stdout, run on stderr
        assert SECRET not in shown
        assert "node py: config.inputs.all: $env alone is never allowed" in shown
        assert ("node py: config.inputs.s: $env.APP_SECRET is not allowed: add APP_SECRET "
                "to the workflow's settings.env_allow") in shown
    assert not (tmp_path / "stdin-seen.txt").exists()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("NOPFLOW_DATA_DIR", str(path))
    return path
