"""`sql` (docs/blocks.md): one statement on SQLite (built in) or PostgreSQL (psycopg 3, the
`postgres` extra), parameters always bound by the driver, rows as objects.

A run opens one connection per database and its sql nodes share it (statements are
committed one by one: autocommit). SQLite runs on a thread of its own per connection so the
event loop never waits on the disk; psycopg is asyncio-native.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import decimal
import sqlite3
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, field_validator

from nopflow.blocks.base import Block, BlockConfig, CheckContext
from nopflow.blocks.fields import JSON, TEXT, credential
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult

POSTGRES_EXTRA = "pip install 'nopflow[postgres]'"


def is_postgres(database: str) -> bool:
    return database.startswith(("postgresql://", "postgres://"))


class SqlConfig(BlockConfig):
    """A query or a write on a database; `params` are bound, never pasted into the text."""

    database: str = Field(min_length=1, description="A SQLite file in the project folder, "
                          "or postgresql://host:port/db")
    credential: str | None = Field(default=None, json_schema_extra=credential("basic"),
                                   description="User and password (for a postgresql:// URL)")
    query: str = Field(min_length=1, json_schema_extra=TEXT,
                       description="One SQL statement; ?/:name (SQLite) or %s/%(name)s "
                       "(PostgreSQL) placeholders")
    params: dict[str, Any] | list[Any] = Field(
        default_factory=list, json_schema_extra=JSON,
        description="Values for the placeholders ({{ }} allowed)")
    timeout_s: float = Field(default=30.0, gt=0, le=86400,
                             description="Seconds before the statement is stopped")

    @field_validator("params", mode="before")
    @classmethod
    def _params(cls, value: Any) -> Any:
        if isinstance(value, str) and "{{" in value:
            return value  # checked once rendered
        if not isinstance(value, (dict, list)):
            raise ValueError("'params' must be an object (named placeholders) or a list "
                             "(positional ones)")
        return value


class SqlBlock(Block):
    type = "sql"
    title = "SQL query"
    category = "Data"
    description = "Run one SQL statement on SQLite or PostgreSQL; rows come out as objects."
    icon = "sql"
    Config = SqlConfig
    side_effects = True

    def __init__(self) -> None:
        self._sqlite: dict[str, _SqliteConnection] = {}
        self._postgres: dict[str, Any] = {}
        self._opening = asyncio.Lock()

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"database": "data.db", "query": "SELECT 1 AS one"}

    @classmethod
    def check(cls, config: BlockConfig, ctx: CheckContext) -> list[str]:
        assert isinstance(config, SqlConfig)
        db = config.database
        if "{{" in db or is_postgres(db) or ctx.project_dir is None:
            return []
        from nopflow.sandbox.paths import SandboxError, check_inside

        try:
            check_inside(ctx.project_dir, db, what="database")
        except SandboxError as exc:
            return [f"config.database: {exc}"]
        return []

    async def run(self, ctx: NodeContext) -> NodeResult:
        config = ctx.config
        assert isinstance(config, SqlConfig)
        database = str(ctx.render("database")).strip()
        query = str(ctx.render("query"))
        params = ctx.render("params")
        if not isinstance(params, (dict, list)):
            raise NodeFailure(f"config.params: must be an object or a list, got "
                              f"{type(params).__name__}", error_type="TypeError")
        ctx.set_inputs({"database": database, "query": query, "params": params})
        if is_postgres(database):
            cred = ctx.credential(config.credential) if config.credential else None
            result = await self._run_postgres(database, cred, query, params, config.timeout_s)
        else:
            result = await self._run_sqlite(ctx, database, query, params, config.timeout_s)
        return NodeResult(result)

    # -- SQLite ------------------------------------------------------------------------

    async def _run_sqlite(self, ctx: NodeContext, database: str, query: str,
                          params: Any, timeout_s: float) -> dict[str, Any]:
        from nopflow.sandbox.paths import SandboxError, check_inside

        try:
            path = check_inside(ctx.project_dir, database, what="database")
        except SandboxError as exc:
            raise NodeFailure(f"config.database: {exc}", error_type="PathError") from None
        key = str(path)
        async with self._opening:
            conn = self._sqlite.get(key)
            if conn is None:
                conn = self._sqlite[key] = await _SqliteConnection.open(key, timeout_s)
        label = f"sqlite {path.relative_to(ctx.project_dir.resolve()).as_posix()}"
        try:
            return await asyncio.wait_for(conn.execute(query, params), timeout_s)
        except asyncio.TimeoutError:
            conn.interrupt()
            raise NodeFailure(f"{label}: the statement ran longer than {timeout_s:g} s and "
                              "was stopped", error_type="TimeoutError") from None
        except sqlite3.Error as exc:
            raise NodeFailure(f"{label}: {exc}", error_type=type(exc).__name__) from None
        except asyncio.CancelledError:
            conn.interrupt()
            raise

    # -- PostgreSQL --------------------------------------------------------------------

    async def _run_postgres(self, url: str, cred: Any, query: str, params: Any,
                            timeout_s: float) -> dict[str, Any]:
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError:
            raise NodeFailure(f"PostgreSQL needs the psycopg driver: {POSTGRES_EXTRA}",
                              error_type="MissingExtra") from None
        label = _safe_url(url)
        kwargs: dict[str, Any] = {"autocommit": True, "row_factory": dict_row,
                                  "connect_timeout": max(1, int(timeout_s))}
        if cred is not None:
            if cred.type != "basic":
                raise NodeFailure(f"credential '{cred.name}' is a {cred.type} credential; a "
                                  "sql node takes basic", error_type="CredentialError")
            kwargs.update(user=cred.fields.get("username"), password=cred.fields.get("password"))
        key = f"{url}\x00{cred.name if cred else ''}"
        try:
            async with self._opening:
                conn = self._postgres.get(key)
                if conn is None or conn.closed:
                    conn = self._postgres[key] = await psycopg.AsyncConnection.connect(
                        url, **kwargs)
            async with conn.cursor() as cur:
                await asyncio.wait_for(cur.execute(query, params or None), timeout_s)
                rows: list[dict[str, Any]] = []
                columns: list[str] = []
                if cur.description is not None:
                    columns = [c.name for c in cur.description]
                    rows = [{k: _plain(v) for k, v in r.items()} for r in await cur.fetchall()]
                    count = len(rows)
                else:
                    count = cur.rowcount
        except asyncio.TimeoutError:
            raise NodeFailure(f"{label}: the statement ran longer than {timeout_s:g} s and was "
                              "stopped", error_type="TimeoutError") from None
        except psycopg.Error as exc:
            message = (getattr(exc, "diag", None) and exc.diag.message_primary) or str(exc)
            raise NodeFailure(f"{label}: {message.strip()}",
                              error_type=type(exc).__name__) from None
        return {"rows": rows, "rowcount": count, "columns": columns}

    async def aclose(self) -> None:
        for conn in self._sqlite.values():
            await conn.close()
        self._sqlite.clear()
        for pg in self._postgres.values():
            try:
                await pg.close()
            except Exception:  # a connection the server already dropped
                pass
        self._postgres.clear()


def _safe_url(url: str) -> str:
    """The URL for messages, without a password someone typed into it."""
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _plain(value: Any) -> Any:
    """Database values as JSON-able ones (numbers stay numbers, times as ISO 8601)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, datetime.timedelta)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


class _SqliteConnection:
    """A sqlite3 connection that lives on one worker thread (sqlite3 objects are not
    thread-safe); every call hops there, so the event loop never blocks on the disk."""

    def __init__(self, thread: ThreadPoolExecutor, conn: sqlite3.Connection) -> None:
        self._thread = thread
        self._conn = conn

    @classmethod
    async def open(cls, path: str, timeout_s: float) -> _SqliteConnection:
        thread = ThreadPoolExecutor(1, thread_name_prefix="nopflow-sqlite")
        loop = asyncio.get_running_loop()
        conn = await loop.run_in_executor(thread, lambda: sqlite3.connect(
            path, timeout=timeout_s, isolation_level=None, check_same_thread=False))
        return cls(thread, conn)

    async def execute(self, query: str, params: Any) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._execute, query, params)

    def _execute(self, query: str, params: Any) -> dict[str, Any]:
        cur = self._conn.execute(query, params)
        try:
            if cur.description is None:
                return {"rows": [], "rowcount": cur.rowcount, "columns": []}
            columns = [d[0] for d in cur.description]
            rows = [{c: _plain(v) for c, v in zip(columns, r, strict=True)}
                    for r in cur.fetchall()]
            return {"rows": rows, "rowcount": len(rows), "columns": columns}
        finally:
            cur.close()

    def interrupt(self) -> None:
        self._conn.interrupt()

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._conn.close)
        self._thread.shutdown(wait=False)
