"""`http`: one HTTP request (docs/blocks.md), on httpx's async client.

httpx because it is a well-kept asyncio client that runs on any loop (qasync's too), has
per-request timeouts and redirect control, and streams responses so a size bound is cheap.
One client per run is shared by the run's http nodes (connection reuse, one TLS context).
"""

from __future__ import annotations

import email.utils
import json
import time
import warnings
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from nopflow.blocks.base import Block, BlockConfig, Port
from nopflow.blocks.fields import JSON, credential
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult
from nopflow.errors import NopflowError

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
#: a response body larger than this is an error, not a memory blow-up in the app
MAX_RESPONSE_BYTES = 64 * 1024 * 1024


def check_url(url: str, field: str = "url") -> None:
    """A literal URL must be absolute http(s) with a host (templates are checked at run time)."""
    if "{{" in url:
        return
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"'{field}' must start with http:// or https:// and name a host, "
                         f"not {url!r}")


def _parse_ok_status(value: Any) -> tuple[set[int], set[int]]:
    """(classes, codes): "2xx" → ({2}, {}); [200, 204] → ({}, {200, 204})."""
    classes: set[int] = set()
    codes: set[int] = set()
    items = value if isinstance(value, list) else str(value).split(",")
    for item in items:
        text = str(item).strip().lower()
        if len(text) == 3 and text.endswith("xx") and text[0] in "12345":
            classes.add(int(text[0]))
        elif text.isdigit() and 100 <= int(text) <= 599:
            codes.add(int(text))
        else:
            raise ValueError(f"'ok_status' takes status codes or classes like \"2xx\", "
                             f"not {item!r}")
    return classes, codes


with warnings.catch_warnings():
    # `json` is the file format's key (docs/blocks.md); it shadows BaseModel's deprecated
    # .json() method, which nopflow never calls on configs.
    warnings.simplefilter("ignore", UserWarning)

    class HttpConfig(BlockConfig):
        """One request: method, URL, query, headers, a JSON or text body, auth."""

        method: str = Field(default="GET", description="GET, POST, PUT, PATCH, DELETE, HEAD, "
                            "OPTIONS ({{ }} allowed)")
        url: str = Field(description="http:// or https:// address ({{ }} allowed)")
        query: dict[str, Any] = Field(default_factory=dict, json_schema_extra=JSON,
                                      description="Query parameters ({{ }} allowed)")
        headers: dict[str, Any] = Field(default_factory=dict, json_schema_extra=JSON,
                                        description="Request headers ({{ }} allowed)")
        json: Any = Field(default=None, json_schema_extra=JSON,
                          description="A JSON body (instead of body)")
        body: str | None = Field(default=None, description="A text body (instead of json)")
        credential: str | None = Field(
            default=None, json_schema_extra=credential("token", "basic", "header"),
            description="token: Bearer header; basic: Basic auth; header: that header")
        timeout_s: float = Field(default=30.0, gt=0, le=86400,
                                 description="Seconds before the request is given up")
        ok_status: str | list[int] = Field(
            default="2xx", description='Statuses that count as success: "2xx" or a list')
        follow_redirects: bool = Field(default=True, description="Follow 3xx redirects")

        @field_validator("method")
        @classmethod
        def _method(cls, value: str) -> str:
            if "{{" not in value and value.strip().upper() not in METHODS:
                raise ValueError(f"unknown method {value!r} (use one of {', '.join(METHODS)})")
            return value

        @field_validator("url")
        @classmethod
        def _url(cls, value: str) -> str:
            check_url(value)
            return value

        @field_validator("ok_status")
        @classmethod
        def _ok(cls, value: str | list[int]) -> str | list[int]:
            _parse_ok_status(value)
            return value

        @model_validator(mode="after")
        def _one_body(self) -> HttpConfig:
            if self.json is not None and self.body is not None:
                raise ValueError("set either 'json' or 'body', not both")
            return self


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A Retry-After header as seconds from now (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class HttpBlock(Block):
    type = "http"
    title = "HTTP request"
    category = "Web"
    description = "Call a web API: method, URL, headers, body; the response as JSON or text."
    icon = "http"
    inputs = (Port("in"),)
    outputs = (Port("out"),)
    Config = HttpConfig
    side_effects = True

    def __init__(self) -> None:
        self._client: Any = None

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"method": "GET", "url": "https://example.com/api"}

    credential_test = "URL"

    @classmethod
    def test_credential(cls, credential: Any, target: str) -> str:
        """GET ``target`` with the credential, as a node would send it."""
        import httpx

        url = target.strip()
        try:
            check_url(url)
        except ValueError as exc:
            raise NopflowError(str(exc)) from None
        request: dict[str, Any] = {}
        headers: dict[str, str] = {}
        authorise(credential, request, headers)
        try:
            response = httpx.get(url, headers=headers, timeout=15, follow_redirects=True,
                                 **request)
        except httpx.HTTPError as exc:
            raise NopflowError(f"cannot reach {url}: {exc or type(exc).__name__}") from None
        line = f"HTTP {response.status_code} {response.reason_phrase} from {response.url}"
        if response.status_code in (401, 403):
            raise NopflowError(f"{line}: the server refused this credential")
        if response.status_code >= 400:
            raise NopflowError(line)
        return line

    def client(self) -> Any:
        """The run's shared client (created on first use, closed by `aclose`)."""
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient()
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def run(self, ctx: NodeContext) -> NodeResult:
        """Send the request; a status outside `ok_status` is an error naming method and URL."""

        config = ctx.config
        assert isinstance(config, HttpConfig)
        method = str(ctx.render("method")).strip().upper()
        url = str(ctx.render("url")).strip()
        where = f"{method} {url}"
        if method not in METHODS:
            raise NodeFailure(f"unknown method {method!r}: {where}", error_type="ValueError")
        try:
            check_url(url)
        except ValueError as exc:
            raise NodeFailure(f"{exc}", error_type="ValueError") from None
        headers = {str(k): "" if v is None else str(v)
                   for k, v in (ctx.render("headers") or {}).items()}
        query = _query(ctx.render("query") or {})
        request: dict[str, Any] = {"params": query, "headers": headers}
        if config.json is not None:
            request["content"] = json.dumps(ctx.render("json"), ensure_ascii=False,
                                            allow_nan=False).encode()
            headers.setdefault("Content-Type", "application/json")
        elif config.body is not None:
            request["content"] = str(ctx.render("body")).encode()
        if config.credential:
            authorise(ctx.credential(config.credential), request, headers)
        ctx.set_inputs({"method": method, "url": url, "query": query, "headers": headers})
        response, raw, elapsed_ms = await send(
            self.client(), method, url, timeout_s=config.timeout_s,
            follow_redirects=config.follow_redirects, **request)
        status = response.status_code
        classes, codes = _parse_ok_status(config.ok_status)
        if status // 100 not in classes and status not in codes:
            raise status_failure(response, where)
        return NodeResult({
            "status": status,
            "headers": {k: v for k, v in response.headers.items()},
            "body": _body(response, raw, where),
            "url": str(response.url),
            "elapsed_ms": elapsed_ms,
        })


async def send(client: Any, method: str, url: str, *, timeout_s: float,
               follow_redirects: bool = True, **request: Any) -> tuple[Any, bytes, float]:
    """One request on a shared client: (response, body bytes, elapsed ms); transport
    failures become node errors naming the method, URL and reason (llm uses it too)."""
    import httpx

    where = f"{method} {url}"
    t0 = time.perf_counter()
    try:
        async with client.stream(method, url, timeout=timeout_s,
                                 follow_redirects=follow_redirects, **request) as response:
            raw = await read_bounded(response, where)
    except httpx.TimeoutException:
        raise NodeFailure(f"timed out after {timeout_s:g} s: {where}",
                          error_type="TimeoutError") from None
    except httpx.TooManyRedirects:
        raise NodeFailure(f"too many redirects: {where}", error_type="HTTPError") from None
    except httpx.InvalidURL as exc:
        raise NodeFailure(f"invalid URL ({exc}): {where}", error_type="ValueError") from None
    except httpx.TransportError as exc:
        host = urlsplit(url).hostname or url
        reason = str(exc) or type(exc).__name__
        raise NodeFailure(f"cannot reach {host}: {reason} ({where})",
                          error_type="ConnectionError") from None
    return response, raw, round((time.perf_counter() - t0) * 1000, 1)


def status_failure(response: Any, where: str, detail: str = "") -> NodeFailure:
    """`HTTP 404 Not Found: GET <url>`, with the server's Retry-After on 429/503."""
    status = response.status_code
    wait = retry_after_seconds(response.headers.get("retry-after")) \
        if status in (429, 503) else None
    extra = f" ({detail})" if detail else ""
    return NodeFailure(f"HTTP {status} {response.reason_phrase}: {where}{extra}",
                       error_type="HTTPError", retry_after_s=wait)


def _query(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in values.items():
        if isinstance(v, list):
            out[str(k)] = [_text(i) for i in v]
        elif v is not None:
            out[str(k)] = _text(v)
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def authorise(cred: Any, request: dict[str, Any], headers: dict[str, str]) -> None:
    if cred.type == "token":
        headers["Authorization"] = f"Bearer {cred.fields['token']}"
    elif cred.type == "basic":
        import httpx

        request["auth"] = httpx.BasicAuth(cred.fields.get("username", ""),
                                          cred.fields.get("password", ""))
    elif cred.type == "header":
        headers[cred.fields["name"]] = cred.fields["value"]
    else:
        raise NodeFailure(f"credential '{cred.name}' is a {cred.type} credential; an http "
                          "node takes token, basic or header", error_type="CredentialError")


async def read_bounded(response: Any, where: str) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise NodeFailure(_too_big(where), error_type="ResponseTooLarge")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise NodeFailure(_too_big(where), error_type="ResponseTooLarge")
        chunks.append(chunk)
    return b"".join(chunks)


def _too_big(where: str) -> str:
    return f"response is larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB: {where}"


def _body(response: Any, raw: bytes, where: str) -> Any:
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    if kind == "application/json" or kind.endswith("+json"):
        if not raw.strip():
            return None
        try:
            return json.loads(text, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            raise NodeFailure(f"response says JSON but is not valid JSON ({exc}): {where}",
                              error_type="JSONDecodeError") from None
    return text


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
