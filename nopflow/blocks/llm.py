"""`llm`: ask a language model through any OpenAI-compatible chat-completions server
(docs/blocks.md): Ollama, llama.cpp's server, vLLM, LM Studio or a hosted API.

It speaks the protocol over the http block's client helpers (httpx), so timeouts,
Retry-After, size bounds and error texts match the http block's.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

from pydantic import Field, field_validator

from nopflow.blocks.base import Block, BlockConfig
from nopflow.blocks.fields import TEXT, credential
from nopflow.blocks.http import authorise, check_url, send, status_failure
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult

with warnings.catch_warnings():
    # `json` is the file format's key (docs/blocks.md); it shadows BaseModel's deprecated
    # .json() method, which nopflow never calls on configs.
    warnings.simplefilter("ignore", UserWarning)

    class LlmConfig(BlockConfig):
        """One chat completion: a prompt (and optional system message) to a model."""

        base_url: str = Field(default="http://127.0.0.1:11434/v1",
                              description="The server's OpenAI-compatible API root (…/v1)")
        model: str = Field(min_length=1, description="Model name, e.g. llama3.2 ({{ }} allowed)")
        prompt: str = Field(min_length=1, json_schema_extra=TEXT,
                            description="The user message ({{ }} allowed)")
        system: str = Field(default="", json_schema_extra=TEXT,
                            description="An optional system message ({{ }} allowed)")
        temperature: float = Field(default=0.0, ge=0, le=2, description="0 = most repeatable")
        max_tokens: int | None = Field(default=None, ge=1, description="Cap on the reply length")
        json: bool = Field(default=False, description="Ask for JSON; the reply must parse")
        credential: str | None = Field(default=None, json_schema_extra=credential("token"),
                                       description="API key (a token credential), if needed")
        timeout_s: float = Field(default=120.0, gt=0, le=86400,
                                 description="Seconds before the request is given up")

        @field_validator("base_url")
        @classmethod
        def _url(cls, value: str) -> str:
            check_url(value, "base_url")
            return value


class LlmBlock(Block):
    type = "llm"
    title = "Ask a model"
    category = "AI"
    description = "Send a prompt to an OpenAI-compatible model server; the reply as text/JSON."
    icon = "llm"
    Config = LlmConfig
    side_effects = True

    def __init__(self) -> None:
        self._client: Any = None

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"model": "llama3.2", "prompt": "Summarise: {{ $prev }}"}

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def run(self, ctx: NodeContext) -> NodeResult:
        """POST {base_url}/chat/completions; text, parsed JSON when asked, usage."""
        import httpx

        config = ctx.config
        assert isinstance(config, LlmConfig)
        base = str(ctx.render("base_url")).rstrip("/")
        url = f"{base}/chat/completions"
        where = f"POST {url}"
        messages = []
        system = str(ctx.render("system") or "")
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": _as_text(ctx.render("prompt"))})
        payload: dict[str, Any] = {"model": str(ctx.render("model")), "messages": messages,
                                   "temperature": config.temperature, "stream": False}
        if config.max_tokens is not None:
            payload["max_tokens"] = config.max_tokens
        if config.json:
            payload["response_format"] = {"type": "json_object"}
        headers = {"Content-Type": "application/json"}
        request: dict[str, Any] = {"headers": headers}
        if config.credential:
            authorise(ctx.credential(config.credential), request, headers)
        ctx.set_inputs(payload)
        if self._client is None:
            self._client = httpx.AsyncClient()
        response, raw, _elapsed = await send(
            self._client, "POST", url, timeout_s=config.timeout_s,
            content=json.dumps(payload, ensure_ascii=False).encode(), **request)
        reply = _json(raw)
        if response.status_code >= 400:
            raise status_failure(response, where, _server_message(reply))
        try:
            choice = reply["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise NodeFailure(f"the server's answer is not a chat completion "
                              f"(no choices[0].message.content): {where}",
                              error_type="ProtocolError") from None
        out: dict[str, Any] = {"text": text, "model": reply.get("model", payload["model"]),
                               "usage": reply.get("usage") or {}}
        if config.json:
            out["json"] = _reply_json(text)
        return NodeResult(out)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError:
        return None


def _server_message(reply: Any) -> str:
    """The error text OpenAI-style servers put in {"error": {"message": …}}."""
    if isinstance(reply, dict):
        err = reply.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        if isinstance(err, str):
            return err
    return ""


def _reply_json(text: str) -> Any:
    """The reply parsed as JSON (a ```json fence around it is tolerated)."""
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`")
        body = body[4:] if body.lower().startswith("json") else body
    try:
        return json.loads(body)
    except ValueError as exc:
        preview = text if len(text) <= 200 else text[:200] + "…"
        raise NodeFailure(f"the model's reply is not valid JSON ({exc}): {preview!r}",
                          error_type="JSONDecodeError") from None
