"""The `llm` block against a local server that speaks OpenAI's chat-completions protocol."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from nopflow.engine.compiler import validate
from nopflow.engine.runner import Run
from nopflow.model import Workflow
from nopflow.model.credentials import Credential

KEY = "sk-local-test-key-123"


class ChatServer:
    """A tiny chat-completions server: replies with the prompt upper-cased, or JSON."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply_override: str | None = None
        self.url = ""


def _handler(state: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append({"path": self.path, "body": body,
                                   "auth": self.headers.get("Authorization")})
            if self.path != "/v1/chat/completions":
                return self._send(404, {"error": {"message": "no such endpoint"}})
            if body["model"] == "missing":
                return self._send(404, {"error": {"message": "model 'missing' not found"}})
            prompt = body["messages"][-1]["content"]
            if state.reply_override is not None:
                content = state.reply_override
            elif body.get("response_format", {}).get("type") == "json_object":
                content = json.dumps({"words": prompt.split()})
            else:
                content = prompt.upper()
            self._send(200, {
                "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})

        def _send(self, status: int, doc: Any) -> None:
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    state = ChatServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def wf(config: dict[str, Any]) -> Workflow:
    return Workflow.model_validate({
        "inputs": {"topic": "tea leaves"},
        "nodes": [{"id": "start", "type": "start"}, {"id": "ask", "type": "llm", "config": config}],
        "edges": [{"id": "e", "source": "start", "target": "ask"}]})


async def run(workflow: Workflow, **kw: Any) -> Run:
    r = Run(workflow, **kw)
    await r.execute()
    return r


async def test_text_reply_usage_and_what_was_sent(chat):
    r = await run(wf({"base_url": chat.url, "model": "m1", "prompt": "about {{ $input.topic }}",
                      "system": "be brief", "temperature": 0.5, "max_tokens": 20}))
    assert r.state.value == "completed", r.nodes["ask"].error
    assert r.nodes["ask"].output == {"text": "ABOUT TEA LEAVES", "model": "m1",
                                     "usage": {"prompt_tokens": 5, "completion_tokens": 3,
                                               "total_tokens": 8}}
    sent = chat.requests[-1]["body"]
    assert sent["messages"] == [{"role": "system", "content": "be brief"},
                                {"role": "user", "content": "about tea leaves"}]
    assert sent["temperature"] == 0.5 and sent["max_tokens"] == 20
    assert "response_format" not in sent


async def test_json_mode_parses_the_reply(chat):
    r = await run(wf({"base_url": chat.url, "model": "m1", "prompt": "a b", "json": True}))
    out = r.nodes["ask"].output
    assert out["json"] == {"words": ["a", "b"]}
    assert chat.requests[-1]["body"]["response_format"] == {"type": "json_object"}
    chat.reply_override = "Sure! Here it is: {oops"
    r = await run(wf({"base_url": chat.url, "model": "m1", "prompt": "a b", "json": True}))
    assert r.nodes["ask"].error.startswith("the model's reply is not valid JSON")
    assert "Sure! Here it is" in r.nodes["ask"].error


async def test_api_key_from_a_credential_is_sent_and_redacted(chat):
    r = await run(wf({"base_url": chat.url, "model": "m1", "prompt": "hi", "credential": "ai"}),
                  credentials={"ai": Credential("ai", "token", {"token": KEY})})
    assert chat.requests[-1]["auth"] == f"Bearer {KEY}"
    assert KEY not in json.dumps(r.result())


async def test_server_errors_say_what_the_server_said(chat):
    r = await run(wf({"base_url": chat.url, "model": "missing", "prompt": "hi"}))
    assert r.nodes["ask"].error == (f"HTTP 404 Not Found: POST {chat.url}/chat/completions "
                                    "(model 'missing' not found)")


async def test_no_server_is_a_clear_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = await run(wf({"base_url": f"http://127.0.0.1:{port}/v1", "model": "m", "prompt": "x"}))
    assert r.nodes["ask"].error.startswith("cannot reach 127.0.0.1: ")


def test_validate_checks_the_config():
    problems = [str(p) for p in validate(wf({"base_url": "localhost:11434", "prompt": "x"}))]
    assert any("node ask: config.model: required field is missing" in p for p in problems)
    assert any("node ask: config.base_url: 'base_url' must start with http://" in p
               for p in problems)
    problems = [str(p) for p in validate(wf({"model": "m", "prompt": "x", "temperature": 5}))]
    assert any("config.temperature" in p for p in problems)


def test_shipped_ai_example_against_a_local_server(chat, tmp_path):
    """resources/examples/needs-server/ask-a-model.nopflow.json, pointed at this server."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    example = (Path(__file__).resolve().parents[2] / "resources" / "examples" / "needs-server"
               / "ask-a-model.nopflow.json")
    shutil.copy(example, tmp_path / example.name)
    chat.reply_override = json.dumps({"sentiment": "neutral", "topic": "export",
                                      "reply": "Thanks! Export is under File."})
    proc = subprocess.run(
        [sys.executable, "-m", "nopflow", "run", example.name, "--json", "-q",
         "--input", f"base_url={chat.url}", "--input", "model=m1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outputs"] == {
        "sentiment": "neutral", "topic": "export", "reply": "Thanks! Export is under File.",
        "tokens": 8}
    sent = chat.requests[-1]["body"]
    assert sent["response_format"] == {"type": "json_object"}
    assert sent["messages"][-1]["content"].startswith("Feedback: The app is fast")
