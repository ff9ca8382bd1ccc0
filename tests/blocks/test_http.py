"""The `http` block against a real HTTP server on 127.0.0.1 (stdlib server in a thread)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from nopflow.blocks import http as http_block
from nopflow.engine.compiler import validate
from nopflow.engine.runner import Run
from nopflow.model import Workflow
from nopflow.model.credentials import Credential

REPO = Path(__file__).resolve().parents[2]
TOKEN = "http-token-5f2e9a"


class Server:
    """What the test server saw, and how it should answer."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.flaky_left = 0
        self.url = ""


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep the test output clean
            pass

        def _answer(self, status: int, body: bytes, ctype: str = "application/json",
                    headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            seen = {"method": self.command, "path": parts.path,
                    "query": parse_qs(parts.query), "headers": dict(self.headers),
                    "body": body}
            server.requests.append(seen)
            path = parts.path
            if path == "/echo":
                self._answer(200, json.dumps(seen).encode())
            elif path == "/text":
                self._answer(200, b"plain words", "text/plain; charset=utf-8")
            elif path == "/missing":
                self._answer(404, b'{"error": "no"}')
            elif path == "/busy":
                if server.flaky_left > 0:
                    server.flaky_left -= 1
                    self._answer(503, b"{}", headers={"Retry-After": "1"})
                else:
                    self._answer(200, b'{"ok": true}')
            elif path == "/busy-long":
                self._answer(429, b"{}", headers={"Retry-After": "120"})
            elif path == "/redirect":
                self._answer(302, b"", "text/plain", {"Location": f"{server.url}/text"})
            elif path == "/slow":
                time.sleep(1.5)
                self._answer(200, b"{}")
            elif path == "/bad-json":
                self._answer(200, b"{not json")
            elif path == "/big":
                self._answer(200, b"x" * 5000, "text/plain")
            else:
                self._answer(500, b"{}")

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def wf(config: dict[str, Any], **node: Any) -> Workflow:
    return Workflow.model_validate({
        "inputs": {"who": "ann"},
        "nodes": [{"id": "start", "type": "start"},
                  {"id": "h", "type": "http", "config": config, **node}],
        "edges": [{"id": "e", "source": "start", "target": "h"}]})


async def run(workflow: Workflow, **kw: Any) -> Run:
    r = Run(workflow, **kw)
    await r.execute()
    return r


async def test_get_json_with_query_and_headers(server):
    r = await run(wf({"url": f"{server.url}/echo", "query": {"q": "{{ $input.who }}", "n": 2},
                      "headers": {"X-Who": "{{ $input.who }}"}}))
    out = r.nodes["h"].output
    assert r.state.value == "completed", r.nodes["h"].error
    assert out["status"] == 200 and out["url"].startswith(f"{server.url}/echo?")
    assert out["body"]["query"] == {"q": ["ann"], "n": ["2"]}
    assert out["body"]["headers"]["X-Who"] == "ann"
    assert out["headers"]["content-type"] == "application/json"
    assert isinstance(out["elapsed_ms"], float)


async def test_post_json_body_and_text_body(server):
    r = await run(wf({"method": "POST", "url": f"{server.url}/echo",
                      "json": {"name": "{{ $input.who }}", "n": 1}}))
    seen = server.requests[-1]
    assert seen["method"] == "POST" and json.loads(seen["body"]) == {"name": "ann", "n": 1}
    assert seen["headers"]["Content-Type"] == "application/json"
    r = await run(wf({"method": "put", "url": f"{server.url}/echo", "body": "hi {{ $input.who }}"}))
    assert r.state.value == "completed"
    assert server.requests[-1]["method"] == "PUT" and server.requests[-1]["body"] == "hi ann"


async def test_text_response_stays_text(server):
    r = await run(wf({"url": f"{server.url}/text"}))
    assert r.nodes["h"].output["body"] == "plain words"


@pytest.mark.parametrize("cred, expect", [
    (Credential("api", "token", {"token": TOKEN}), ("Authorization", f"Bearer {TOKEN}")),
    (Credential("api", "basic", {"username": "ann", "password": TOKEN}),
     ("Authorization", "Basic " + base64.b64encode(f"ann:{TOKEN}".encode()).decode())),
    (Credential("api", "header", {"name": "X-Api-Key", "value": TOKEN}), ("X-Api-Key", TOKEN)),
])
async def test_credential_authorises_and_is_redacted(server, cred, expect):
    r = await run(wf({"url": f"{server.url}/echo", "credential": "api"}),
                  credentials={"api": cred})
    assert r.state.value == "completed", r.nodes["h"].error
    name, value = expect
    assert server.requests[-1]["headers"][name] == value
    result = json.dumps(r.result())
    assert TOKEN not in result and "***" in result


async def test_status_outside_ok_status_names_method_and_url(server):
    r = await run(wf({"url": f"{server.url}/missing"}))
    assert r.nodes["h"].state.value == "error"
    assert r.nodes["h"].error == f"HTTP 404 Not Found: GET {server.url}/missing"
    r = await run(wf({"url": f"{server.url}/missing", "ok_status": [200, 404]}))
    assert r.state.value == "completed" and r.nodes["h"].output["body"] == {"error": "no"}


async def test_retry_after_sets_the_wait_before_the_next_attempt(server):
    server.flaky_left = 1
    workflow = wf({"url": f"{server.url}/busy"},
                  retry={"max_attempts": 2, "initial_delay_s": 0, "max_delay_s": 30})
    r = Run(workflow)
    waits: list[float] = []
    r.events.subscribe(lambda e: waits.append(e.delay_s) if e.kind == "node_retry" else None)
    await r.execute()
    assert r.state.value == "completed" and r.nodes["h"].attempt == 2
    assert waits == [1.0]  # the server's Retry-After, not the policy's 0 s


async def test_retry_after_is_capped_by_max_delay(server):
    workflow = wf({"url": f"{server.url}/busy-long"},
                  retry={"max_attempts": 2, "initial_delay_s": 0, "max_delay_s": 0.2})
    r = Run(workflow)
    waits: list[float] = []
    r.events.subscribe(lambda e: waits.append(e.delay_s) if e.kind == "node_retry" else None)
    await r.execute()
    assert waits == [0.2]
    assert r.nodes["h"].error.startswith("HTTP 429 Too Many Requests: GET")


async def test_redirects_followed_or_not(server):
    r = await run(wf({"url": f"{server.url}/redirect"}))
    assert r.nodes["h"].output["url"] == f"{server.url}/text"
    r = await run(wf({"url": f"{server.url}/redirect", "follow_redirects": False,
                      "ok_status": "2xx,3xx"}))
    assert r.nodes["h"].output["status"] == 302


async def test_connection_refused_and_timeout_are_clear(server):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = await run(wf({"url": f"http://127.0.0.1:{port}/x"}))
    assert r.nodes["h"].error.startswith("cannot reach 127.0.0.1: ")
    assert r.nodes["h"].error.endswith(f"(GET http://127.0.0.1:{port}/x)")
    r = await run(wf({"url": f"{server.url}/slow", "timeout_s": 0.3}))
    assert r.nodes["h"].error == f"timed out after 0.3 s: GET {server.url}/slow"


async def test_big_and_broken_responses_are_node_errors(server, monkeypatch):
    monkeypatch.setattr(http_block, "MAX_RESPONSE_BYTES", 1024)
    r = await run(wf({"url": f"{server.url}/big"}))
    assert r.nodes["h"].error.startswith("response is larger than")
    r = await run(wf({"url": f"{server.url}/bad-json"}))
    assert r.nodes["h"].error.startswith("response says JSON but is not valid JSON")


def test_validate_names_node_and_field():
    problems = [str(p) for p in validate(wf({"method": "FETCH", "url": "ftp://x"}))]
    assert any("node h: config.method: unknown method 'FETCH'" in p for p in problems)
    assert any("node h: config.url: 'url' must start with http:// or https://" in p
               for p in problems)
    problems = [str(p) for p in validate(wf({"url": "http://x", "json": {}, "body": "b"}))]
    assert any("set either 'json' or 'body'" in p for p in problems)
    problems = [str(p) for p in validate(wf({"url": "http://x", "credential": "db"}),
                                         credentials=lambda n: ("ssh_key", ("username",)))]
    assert any("credential 'db' is a ssh_key credential; this field takes token or basic or "
               "header" in p for p in problems)
    assert validate(wf({"url": "{{ $input.url }}", "method": "{{ $input.m }}"})) == []


def test_cli_run_with_a_credential_from_the_environment(server, tmp_path):
    path = tmp_path / "web.nopflow.json"
    doc = json.loads(wf({"url": f"{server.url}/echo", "credential": "api"}).model_dump_json())
    path.write_text(json.dumps(doc))
    proc = subprocess.run([sys.executable, "-m", "nopflow", "run", str(path), "--json"],
                          capture_output=True, text=True, timeout=60, cwd=REPO,
                          env={**os.environ, "NOPFLOW_CRED_API_TOKEN": TOKEN})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)["nodes"]["h"]["output"]
    assert out["status"] == 200 and out["body"]["headers"]["Authorization"] == "Bearer ***"
    assert server.requests[-1]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in proc.stdout + proc.stderr
