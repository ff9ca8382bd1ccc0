"""Webhook triggers: one aiohttp server on the scheduler's loop, routes from the triggers.

aiohttp is a well-kept asyncio HTTP server with a request-size bound (`client_max_size`);
the routes are a table the scheduler swaps on reload, looked up by one catch-all handler.
A request without the trigger credential's token as `Authorization: Bearer …` gets 401.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from nopflow.file_run import run_error
from nopflow.model.redact import REDACTED

if TYPE_CHECKING:
    from nopflow.triggers.scheduler import Entry, TriggerScheduler

#: largest request body a webhook accepts (a bigger one gets 413 and runs nothing)
MAX_BODY_BYTES = 1024 * 1024
#: `$trigger.body` holds the text of a body up to this size (json too)
_HIDDEN_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


def _token_of(name: str) -> str | None:
    from nopflow.storage.credentials import CredentialError, resolve

    try:
        cred = resolve([name])[name]
    except CredentialError:
        return None
    return cred.fields.get("token") or None


class WebhookServer:
    """Answers webhook requests for the scheduler (routes: (method, path) -> trigger)."""

    def __init__(self, scheduler: TriggerScheduler) -> None:
        self.scheduler = scheduler
        self.routes: dict[tuple[str, str], tuple[Entry, Any]] = {}
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self, host: str, port: int) -> None:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        server = site._server  # the bound port when 0 was asked for
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        found = self.routes.get((request.method, request.path))
        if found is None:
            if any(path == request.path for _m, path in self.routes):
                return _json(405, {"error": f"{request.method} is not accepted here"})
            return _json(404, {"error": "no webhook trigger has this path"})
        entry, trig = found
        token = await asyncio.to_thread(_token_of, trig.credential)
        sent = request.headers.get("Authorization", "")
        scheme, _sp, given = sent.partition(" ")
        if token is None or scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), token.encode()):
            if token is None:
                self.scheduler.say(f"{entry.label}: trigger {trig.id}: credential "
                                   f"'{trig.credential}' has no token; request refused")
            return _json(401, {"error": "missing or wrong bearer token"},
                         headers={"WWW-Authenticate": "Bearer"})
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _json(413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"})
        body = raw.decode("utf-8", "replace")
        try:
            parsed = json.loads(body) if body.strip() else None
        except ValueError:
            parsed = None
        headers = {k: (REDACTED if k.lower() in _HIDDEN_HEADERS else v)
                   for k, v in request.headers.items()}
        info = {"method": request.method, "body": body, "json": parsed, "headers": headers,
                "query": dict(request.query)}
        fire = self.scheduler.fire(entry, trig, info)
        if fire is None:
            return _json(409, {"error": "not run: the workflow is still running "
                                        "(settings.overlap) or the scheduler is stopping"})
        if trig.respond != "result":
            return _json(202, {"run_id": fire.run_id, "status": "accepted"})
        assert fire.done is not None
        run = await asyncio.shield(fire.done)
        if run is None:
            return _json(500, {"run_id": fire.run_id, "status": "not run",
                               "error": fire.refused or "the workflow could not run"})
        result = run.result()
        if run.status == "completed":
            return _json(200, {"run_id": run.id, "status": run.status,
                               "outputs": result["outputs"]})
        return _json(500, {"run_id": run.id, "status": run.status, "error": run_error(run)})


def _json(status: int, doc: dict[str, Any], headers: dict[str, str] | None = None,
          ) -> web.Response:
    return web.json_response(doc, status=status, headers=headers,
                             dumps=lambda v: json.dumps(v, default=str))
