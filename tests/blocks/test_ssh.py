"""The `ssh` block against real OpenSSH servers (sshd from Debian's openssh-server) started
on free ports of 127.0.0.1 with their own host keys, config and authorized key."""

from __future__ import annotations

import getpass
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nopflow.engine.runner import Run
from nopflow.model import Workflow
from nopflow.model.credentials import Credential

REPO = Path(__file__).resolve().parents[2]
HINT = "apt-get install openssh-server (the ssh tests run a real sshd)"


def _need(path: str) -> str:
    found = path if Path(path).exists() else shutil.which(Path(path).name)
    if not found:
        if os.environ.get("CI"):
            pytest.fail(f"{path} not found: {HINT}")
        pytest.skip(f"{path} not found: {HINT}")
    return found


@dataclass
class Sshd:
    port: int
    host_pub: str
    client_key: str
    folder: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, timeout=30)
    return path.with_suffix(".pub").read_text().strip()


def _start_sshd(base: Path, client_pub: str) -> tuple[subprocess.Popen[bytes], int, str]:
    sshd = _need("/usr/sbin/sshd")
    if os.geteuid() == 0:  # sshd's privilege-separation folder (its init script makes it)
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    host_pub = _keygen(base / "host_key")
    auth = base / "authorized_keys"
    auth.write_text(client_pub + "\n")
    os.chmod(auth, 0o644)
    port = _free_port()
    config = base / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {base / 'host_key'}",
        f"AuthorizedKeysFile {auth}", f"PidFile {base / 'sshd.pid'}", "StrictModes no",
        "UsePAM no", "PasswordAuthentication yes", "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password", "LogLevel ERROR", "",
    ]))
    proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                if s.recv(4).startswith(b"SSH-"):
                    return proc, port, host_pub.split()[0] + " " + host_pub.split()[1]
        except OSError:
            time.sleep(0.1)
        if proc.poll() is not None:
            pytest.fail(f"sshd exited: {proc.stderr.read().decode() if proc.stderr else ''}")
    proc.kill()
    pytest.fail("sshd did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Sshd]]:
    """Three sshd's (hosts A, B, C) accepting one client key for the current user."""
    base = tmp_path_factory.mktemp("sshd")
    client_pub = _keygen(base / "client_key")
    client_key = (base / "client_key").read_text()
    procs, out = [], []
    try:
        for name in "abc":
            proc, port, host_pub = _start_sshd(base / name, client_pub)
            procs.append(proc)
            out.append(Sshd(port, host_pub, client_key, base / name))
        yield out
    finally:
        for proc in procs:
            _stop(proc)


def key_cred(server: Sshd) -> dict[str, Credential]:
    return {"box": Credential("box", "ssh_key", {"username": getpass.getuser(),
                                                  "private_key": server.client_key})}


def node(nid: str, server: Sshd, command: str, **config: Any) -> dict[str, Any]:
    cfg = {"host": "127.0.0.1", "port": server.port, "credential": "box",
           "command": command, "host_key": server.host_pub, **config}
    return {"id": nid, "type": "ssh", "config": {k: v for k, v in cfg.items() if v is not None}}


def wf(*nodes: dict[str, Any], fan_out: bool = False) -> Workflow:
    ids = ["start", *(n["id"] for n in nodes)]
    pairs = [("start", n["id"]) for n in nodes] if fan_out else list(itertools.pairwise(ids))
    return Workflow.model_validate({
        "id": "ssh-wf", "settings": {"max_parallel": 8},
        "nodes": [{"id": "start", "type": "start"}, *nodes],
        "edges": [{"id": f"e{i}", "source": a, "target": b} for i, (a, b) in enumerate(pairs)]})


async def run(workflow: Workflow, creds: dict[str, Credential]) -> Run:
    r = Run(workflow, credentials=creds)
    await r.execute()
    return r


async def test_command_runs_on_the_host(servers, tmp_path: Path):
    a = servers[0]
    marker = tmp_path / "ran-on-server"
    r = await run(wf(node("s", a, f"echo hello; echo oops >&2; touch {marker}")), key_cred(a))
    assert r.state.value == "completed", r.nodes["s"].error
    assert r.nodes["s"].output == {"exit_code": 0, "stdout": "hello\n", "stderr": "oops\n",
                                   "host": "127.0.0.1"}
    assert marker.exists()  # the command really ran on the SSH side
    assert "oops" in list(r.nodes["s"].logs)


async def test_exit_code_outside_ok_codes(servers):
    a = servers[0]
    r = await run(wf(node("s", a, "echo broken >&2; exit 3")), key_cred(a))
    assert r.nodes["s"].error == f"ssh 127.0.0.1:{a.port}: exited with code 3: broken"
    r = await run(wf(node("s", a, "exit 3", ok_codes=[0, 3])), key_cred(a))
    assert r.nodes["s"].output["exit_code"] == 3


async def test_three_hosts_run_in_parallel(servers):
    nodes = [node(n, s, "sleep 0.7; hostname") for n, s in zip("ABC", servers, strict=True)]
    creds = key_cred(servers[0])
    r = await run(wf(*nodes, fan_out=True), creds)
    assert r.state.value == "completed", {n: x.error for n, x in r.nodes.items()}
    recs = [r.nodes[n] for n in "ABC"]
    assert max(x.started_at for x in recs) < min(x.ended_at for x in recs)  # they overlapped


async def test_strict_refuses_an_unknown_host_key(servers, monkeypatch, tmp_path):
    a = servers[0]
    monkeypatch.setenv("HOME", str(tmp_path))  # an empty ~/.ssh/known_hosts
    r = await run(wf(node("s", a, "true", host_key=None)), key_cred(a))
    assert r.nodes["s"].error.startswith(f"ssh 127.0.0.1:{a.port}: unknown host key")
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{a.port} {a.host_pub}\n")
    r = await run(wf(node("s", a, "true", host_key=None)), key_cred(a))
    assert r.state.value == "completed", r.nodes["s"].error


async def test_accept_new_pins_then_refuses_a_changed_key(servers):
    a, b = servers[0], servers[1]
    r = await run(wf(node("s", a, "true", host_key=None, known_hosts="accept-new")),
                  key_cred(a))
    assert r.state.value == "completed", r.nodes["s"].error
    pins = Path(os.environ["NOPFLOW_DATA_DIR"]) / "state" / "ssh-wf" / "known_hosts"
    assert a.host_pub.split()[1] in pins.read_text()
    # same name and port, another key: what a man-in-the-middle would present
    text = pins.read_text().replace(a.host_pub.split()[1], b.host_pub.split()[1])
    pins.write_text(text)
    r = await run(wf(node("s", a, "true", host_key=None, known_hosts="accept-new")),
                  key_cred(a))
    assert "the host key changed since it was first seen" in r.nodes["s"].error


async def test_refused_login_and_closed_port(servers):
    a = servers[0]
    bad = {"box": Credential("box", "basic", {"username": getpass.getuser(),
                                               "password": "not-the-password"})}
    r = await run(wf(node("s", a, "true")), bad)
    assert r.nodes["s"].error.startswith(f"ssh 127.0.0.1:{a.port}: login refused for user")
    closed = Sshd(_free_port(), a.host_pub, a.client_key, a.folder)
    r = await run(wf(node("s", closed, "true")), key_cred(a))
    assert r.nodes["s"].error.startswith(f"ssh 127.0.0.1:{closed.port}: cannot connect")


def test_cli_with_the_key_from_the_environment(servers, tmp_path: Path):
    a = servers[0]
    path = tmp_path / "ssh.nopflow.json"
    path.write_text(wf(node("s", a, "echo $((6*7))")).model_dump_json())
    env = {**os.environ, "NOPFLOW_CRED_BOX_USERNAME": getpass.getuser(),
           "NOPFLOW_CRED_BOX_PRIVATE_KEY": a.client_key}
    proc = subprocess.run([sys.executable, "-m", "nopflow", "run", str(path), "--json"],
                          capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["nodes"]["s"]["output"]["stdout"] == "42\n"
    assert "PRIVATE KEY" not in proc.stdout + proc.stderr


def test_shipped_fan_out_example_on_three_hosts(servers, tmp_path: Path):
    """resources/examples/needs-server/ssh-fan-out.nopflow.json with its hosts pointed at the
    three sshd's (the file names no port: the test sets each node's to its server's)."""
    doc = json.loads((REPO / "resources" / "examples" / "needs-server"
                      / "ssh-fan-out.nopflow.json").read_text())
    for node_doc, server in zip([n for n in doc["nodes"] if n["type"] == "ssh"], servers,
                                strict=True):
        node_doc["config"]["port"] = server.port
    path = tmp_path / "ssh-fan-out.nopflow.json"
    path.write_text(json.dumps(doc))
    env = {**os.environ, "NOPFLOW_CRED_LAB_USERNAME": getpass.getuser(),
           "NOPFLOW_CRED_LAB_PRIVATE_KEY": servers[0].client_key}
    proc = subprocess.run(
        [sys.executable, "-m", "nopflow", "run", str(path), "--json", "-q",
         *(a for h in "abc" for a in ("--input", f"host_{h}=127.0.0.1"))],
        capture_output=True, text=True, timeout=90, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)["outputs"]["report"]
    assert sorted(report) == ["host_a", "host_b", "host_c"]
    for line in report.values():
        assert " load " in line and os.uname().sysname in line
