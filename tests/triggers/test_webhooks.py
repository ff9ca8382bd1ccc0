"""Webhook triggers against a real scheduler process: bearer-token auth, 202 with the run
id, `respond: result`, a bounded body, and the token never reaching history."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from trighelpers import Scheduler, free_port, history, nopflow, wait_history, write_flow

TOKEN = "hook-s3cret-value"


@pytest.fixture
def env() -> dict[str, str]:
    return {**os.environ, "NOPFLOW_CRED_HOOKCRED_TOKEN": TOKEN}


def failing_nodes() -> list[dict]:
    return [{"id": "start", "type": "start"},
            {"id": "boom", "type": "shell", "config": {"command": ["false"]}}]


def test_webhook_auth_accept_result_and_limits(tmp_path: Path, env: dict[str, str]) -> None:
    accepted = write_flow(tmp_path / "a", [
        {"id": "hook", "type": "webhook", "credential": "hookcred", "inputs": {"who": "web"}},
    ], wf_id="acc")
    result = write_flow(tmp_path / "r", [
        {"id": "sync", "type": "webhook", "credential": "hookcred", "path": "/sync",
         "respond": "result"},
    ], wf_id="res")
    failing = write_flow(tmp_path / "f", [
        {"id": "bad", "type": "webhook", "credential": "hookcred", "path": "/fail",
         "respond": "result"},
    ], wf_id="fails", nodes=failing_nodes())
    for path in (accepted, result, failing):
        assert nopflow("schedule", "enable", str(path), env=env).returncode == 0
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with Scheduler("--duration", "60", "--port", str(port), env=env) as sched:
        sched.wait_for(f"webhooks: listening on http://127.0.0.1:{port}")
        auth = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(timeout=20) as http:
            assert http.post(f"{base}/hooks/acc", json={"a": 1}).status_code == 401
            wrong = http.post(f"{base}/hooks/acc", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            assert wrong.headers["WWW-Authenticate"] == "Bearer"
            assert http.get(f"{base}/hooks/acc", headers=auth).status_code == 405
            assert http.post(f"{base}/nowhere", headers=auth).status_code == 404
            big = http.post(f"{base}/hooks/acc", headers=auth, content=b"x" * (2 << 20))
            assert big.status_code == 413
            assert history(accepted) == []  # nothing was run by any of those

            ok = http.post(f"{base}/hooks/acc?source=test", headers=auth,
                           json={"order": 42})
            assert ok.status_code == 202, ok.text
            run_id = ok.json()["run_id"]
            [run] = wait_history(accepted, 1)
            assert run["run_id"] == run_id and run["status"] == "completed"
            trig = run["trigger"]
            assert trig["type"] == "webhook" and trig["id"] == "hook"
            assert trig["json"] == {"order": 42}
            assert trig["query"] == {"source": "test"}
            assert trig["headers"]["Authorization"] == "***"
            assert run["outputs"]["who"] == "web"

            sync = http.post(f"{base}/sync", headers=auth, content=b"plain text")
            assert sync.status_code == 200, sync.text
            body = sync.json()
            assert body["status"] == "completed"
            assert body["outputs"]["trigger"]["body"] == "plain text"

            fail = http.post(f"{base}/fail", headers=auth)
            assert fail.status_code == 500
            assert fail.json()["status"] == "failed"
            assert "node boom" in fail.json()["error"]
        assert sched.stop() == 0
    data = Path(os.environ["NOPFLOW_DATA_DIR"])
    for file in data.rglob("*"):
        if file.is_file():
            assert TOKEN.encode() not in file.read_bytes(), file
    assert TOKEN not in sched.text()
