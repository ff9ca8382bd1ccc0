"""`$creds.NAME.FIELD` resolved at run time, in the app process, and redacted everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TOKEN = "tok-7d41-credential-value"

ECHO_SCRIPT = (
    "import json, os, sys\n"
    "d = json.load(sys.stdin)\n"
    "print('got', d, file=sys.stderr)\n"
    "secret = 'tok-7d41' + '-credential-value'  # not written whole in the file\n"
    "print(json.dumps({'seen': d, 'env_has': [k for k, v in os.environ.items() "
    "if secret in v]}))\n"
)


def nopflow(*args: str, env: dict[str, str] | None = None, stdin: str = ""
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nopflow", *args], input=stdin,
                          capture_output=True, text=True, timeout=90, cwd=REPO,
                          env={**os.environ, **(env or {})})


def workflow(folder: Path, nodes: list[dict[str, Any]], edges: list[tuple[str, str]]) -> Path:
    doc = {"format": "nopflow/workflow", "version": 1, "id": "creds-wf", "name": "Creds",
           "nodes": [{"id": "start", "type": "start"}, *nodes],
           "edges": [{"id": f"e{i}", "source": s, "target": t}
                     for i, (s, t) in enumerate(edges)]}
    path = folder / "creds.nopflow.json"
    path.write_text(json.dumps(doc))
    return path


def uses_token(folder: Path) -> Path:
    return workflow(folder, [
        {"id": "call", "type": "python",
         "config": {"code": ECHO_SCRIPT, "inputs": {"auth": "Bearer {{ $creds.api.token }}"}}},
        {"id": "other", "type": "python", "config": {"code": ECHO_SCRIPT}},
        {"id": "out", "type": "output", "config": {"values": {
            "call": "{{ $node.call.seen }}", "other": "{{ $node.other }}"}}},
    ], [("start", "call"), ("call", "other"), ("other", "out")])


def test_script_gets_the_credential_only_through_its_inputs_and_nothing_leaks(tmp_path):
    path = uses_token(tmp_path)
    env = {"NOPFLOW_CRED_API_TOKEN": TOKEN}
    proc = nopflow("run", str(path), "--json", "--events", env=env)
    assert proc.returncode == 0, proc.stderr
    assert TOKEN not in proc.stdout and TOKEN not in proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["status"] == "completed"
    # the script really received the value; everything that left the run shows ***
    assert result["outputs"]["call"] == {"auth": "Bearer ***"}
    assert result["nodes"]["call"]["output"]["seen"] == {"auth": "Bearer ***"}
    # no script saw it in its environment, the node without it not even on stdin
    assert result["nodes"]["call"]["output"]["env_has"] == []
    assert result["nodes"]["other"]["output"]["env_has"] == []
    assert "Bearer" not in json.dumps(result["nodes"]["other"]["output"]["seen"]["env_has"])
    hist = nopflow("history", str(path), "--json", env=env)
    assert hist.returncode == 0 and TOKEN not in hist.stdout
    for folder in (os.environ["NOPFLOW_DATA_DIR"], os.environ["NOPFLOW_CONFIG_DIR"], tmp_path):
        for file in Path(folder).rglob("*"):
            if file.is_file():
                assert TOKEN.encode() not in file.read_bytes(), file


def test_the_value_reaches_the_script_exactly(tmp_path):
    check = ("import json, sys\nd = json.load(sys.stdin)\n"
             "print(json.dumps({'match': d['auth'] == 'Bearer tok-7d41' + "
             "'-credential-value'}))\n")
    path = workflow(tmp_path, [
        {"id": "call", "type": "python",
         "config": {"code": check, "inputs": {"auth": "Bearer {{ $creds.api.token }}"}}},
    ], [("start", "call")])
    proc = nopflow("run", str(path), "--json", env={"NOPFLOW_CRED_API_TOKEN": TOKEN})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["nodes"]["call"]["output"] == {"match": True}


def test_missing_credential_fails_before_any_node_runs(tmp_path):
    path = uses_token(tmp_path)
    proc = nopflow("run", str(path), "--json")
    assert proc.returncode == 2
    assert "node call" in proc.stderr
    assert "credential 'api' does not exist" in proc.stderr
    assert "nopflow creds set api" in proc.stderr and "NOPFLOW_CRED_API_" in proc.stderr
    assert proc.stdout == ""
    hist = nopflow("history", str(path), "--json")
    assert json.loads(hist.stdout or "[]") == []
    val = nopflow("validate", str(path))
    assert val.returncode == 2
    assert "node call: config.inputs.auth: credential 'api' does not exist" in val.stdout


def test_validate_checks_field_names_and_literal_use(tmp_path):
    path = workflow(tmp_path, [
        {"id": "a", "type": "python",
         "config": {"code": "print(1)", "inputs": {"t": "{{ $creds.api.tokn }}"}}},
        {"id": "b", "type": "python",
         "config": {"code": "print(1)", "inputs": {"t": "{{ $creds.api }}"}}},
        {"id": "c", "type": "python",
         "config": {"code": "print(1)", "inputs": {"t": "{{ $creds[$input.k].token }}"}}},
    ], [("start", "a"), ("start", "b"), ("start", "c")])
    proc = nopflow("validate", str(path), env={"NOPFLOW_CRED_API_TOKEN": TOKEN})
    assert proc.returncode == 2
    assert "node a: config.inputs.t: credential 'api' (token) has no field 'tokn'" in proc.stdout
    assert "node b:" in proc.stdout and "$creds.NAME.FIELD" in proc.stdout
    assert "node c:" in proc.stdout and "not computed" in proc.stdout


def test_keyring_credential_is_used_by_a_run(secret_service, tmp_path):
    assert nopflow("creds", "set", "api", "--type", "token",
                   stdin=f"token={TOKEN}\n").returncode == 0
    check = ("import json, sys\nd = json.load(sys.stdin)\n"
             f"print(json.dumps({{'match': d['t'] == {TOKEN!r}, 'echo': d['t']}}))\n")
    path = workflow(tmp_path, [
        {"id": "call", "type": "python",
         "config": {"code": check, "inputs": {"t": "{{ $creds.api.token }}"}}},
    ], [("start", "call")])
    proc = nopflow("run", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)["nodes"]["call"]["output"]
    assert out == {"match": True, "echo": "***"}


def test_no_keyring_and_no_variable_is_a_clear_error(tmp_path):
    """A stored credential whose keyring is gone: exit 2 naming the fix, no traceback."""
    from nopflow.storage.credentials import CredentialStore

    store = CredentialStore()
    store._write({"api": {"type": "token", "fields": ["token"], "public": {},
                          "secret_fields": ["token"]}})
    path = uses_token(tmp_path)
    proc = nopflow("run", str(path), env={"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent"})
    assert proc.returncode == 2
    assert "no usable keyring" in proc.stderr and "Traceback" not in proc.stderr
