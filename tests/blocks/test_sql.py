"""The `sql` block on real databases: SQLite files and a real PostgreSQL server on 127.0.0.1.

The PostgreSQL fixture runs initdb and pg_ctl from Debian's `postgresql` package in a temp
folder, as the unprivileged user `nobody` when the tests run as root (PostgreSQL refuses to
run as root), on a free port, and stops it at the end.
"""

from __future__ import annotations

import glob
import itertools
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nopflow.engine.compiler import validate
from nopflow.engine.runner import Run
from nopflow.model import Workflow
from nopflow.model.credentials import Credential

REPO = Path(__file__).resolve().parents[2]
PG_PASSWORD = "pg-secret-pass-31"


def wf(*nodes: dict[str, Any], **extra: Any) -> Workflow:
    ids = ["start", *(n["id"] for n in nodes)]
    return Workflow.model_validate({
        "nodes": [{"id": "start", "type": "start"}, *nodes],
        "edges": [{"id": f"e{i}", "source": a, "target": b}
                  for i, (a, b) in enumerate(itertools.pairwise(ids))], **extra})


async def run(workflow: Workflow, project: Path, **kw: Any) -> Run:
    r = Run(workflow, project_dir=project, **kw)
    await r.execute()
    return r


def sql(nid: str, database: str, query: str, params: Any = None, **config: Any) -> dict:
    cfg: dict[str, Any] = {"database": database, "query": query, **config}
    if params is not None:
        cfg["params"] = params
    return {"id": nid, "type": "sql", "config": cfg}


# -- SQLite ---------------------------------------------------------------------------------


async def test_sqlite_create_insert_select_with_bound_params(tmp_path: Path):
    r = await run(wf(
        sql("create", "app.db", "CREATE TABLE people (name TEXT, age INTEGER)"),
        sql("ins1", "app.db", "INSERT INTO people VALUES (?, ?)", ["ann", 31]),
        sql("ins2", "app.db", "INSERT INTO people VALUES (:name, :age)",
            {"name": "{{ $input.who }}", "age": 42}),
        sql("sel", "app.db", "SELECT name, age FROM people ORDER BY age"),
        inputs={"who": "bob'); DROP TABLE people; --"}), tmp_path)
    assert r.state.value == "completed", {k: v.error for k, v in r.nodes.items()}
    assert r.nodes["ins1"].output == {"rows": [], "rowcount": 1, "columns": []}
    assert r.nodes["sel"].output == {
        "rows": [{"name": "ann", "age": 31}, {"name": "bob'); DROP TABLE people; --", "age": 42}],
        "rowcount": 2, "columns": ["name", "age"]}
    # committed: another connection sees the rows
    with sqlite3.connect(tmp_path / "app.db") as conn:
        assert conn.execute("SELECT count(*) FROM people").fetchone() == (2,)


async def test_sqlite_errors_name_the_database(tmp_path: Path):
    r = await run(wf(sql("q", "app.db", "SELECT * FROM missing_table")), tmp_path)
    assert r.nodes["q"].error == "sqlite app.db: no such table: missing_table"
    r = await run(wf(sql("q", "app.db", "SELECT ?", [1, 2])), tmp_path)
    assert r.nodes["q"].error.startswith("sqlite app.db: Incorrect number of bindings")


async def test_sqlite_one_connection_per_run(tmp_path: Path):
    """A temp table lives only in the connection that made it: the second node sees it."""
    r = await run(wf(
        sql("t", "app.db", "CREATE TEMP TABLE scratch AS SELECT 7 AS n"),
        sql("s", "app.db", "SELECT n FROM scratch")), tmp_path)
    assert r.nodes["s"].output["rows"] == [{"n": 7}], r.nodes["s"].error


def test_validate_refuses_outside_paths_and_bad_params(tmp_path: Path):
    problems = [str(p) for p in validate(wf(sql("q", "../x.db", "SELECT 1")), tmp_path)]
    assert any("node q: config.database: database outside the project directory" in p
               for p in problems)
    problems = [str(p) for p in validate(wf(sql("q", "a.db", "SELECT ?", "oops")), tmp_path)]
    assert any("node q: config.params: 'params' must be an object" in p for p in problems)
    problems = [str(p) for p in validate(wf(sql("q", "a.db", "SELECT ?", 5)), tmp_path)]
    assert any("config.params" in p for p in problems)


def test_cli_sqlite_example_flow(tmp_path: Path):
    path = tmp_path / "db.nopflow.json"
    path.write_text(wf(
        sql("c", "d.db", "CREATE TABLE t (v TEXT)"),
        sql("i", "d.db", "INSERT INTO t VALUES (?)", ["{{ $input.v }}"]),
        sql("s", "d.db", "SELECT v FROM t"), inputs={"v": "x"}).model_dump_json())
    proc = subprocess.run([sys.executable, "-m", "nopflow", "run", str(path), "--json",
                           "--input", "v=hello"], capture_output=True, text=True, timeout=60,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["nodes"]["s"]["output"]["rows"] == [{"v": "hello"}]


# -- PostgreSQL -----------------------------------------------------------------------------


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or (
        [shutil.which(name)] if shutil.which(name) else [])
    if not found:
        hint = "apt-get install postgresql (the sql tests run a real server)"
        if os.environ.get("CI"):
            pytest.fail(f"{name} not found: {hint}")
        pytest.skip(f"{name} not found: {hint}")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A PostgreSQL server with user `app` (password PG_PASSWORD) and database `app`."""
    initdb, pg_ctl, psql = _pg_bin("initdb"), _pg_bin("pg_ctl"), _pg_bin("psql")
    # not under pytest's tmp folder: that one is private to root, and the server runs as
    # nobody when the tests run as root
    base = Path(tempfile.mkdtemp(prefix="nopflow-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "nobody", "--"]
        shutil.chown(base, "nobody")
        shutil.chown(sock, "nobody")
    port = _free_port()
    pwfile = base / "pw"
    pwfile.write_text(PG_PASSWORD)
    if as_user:
        shutil.chown(pwfile, "nobody")

    def call(*cmd: str) -> None:
        subprocess.run([*as_user, *cmd], check=True, capture_output=True, timeout=120,
                       cwd=base)

    call(initdb, "-D", str(data), "-U", "app", "--pwfile", str(pwfile), "-A", "scram-sha-256",
         "--no-sync")
    call(pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60", "-o",
         f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    try:
        env = {**os.environ, "PGPASSWORD": PG_PASSWORD}
        subprocess.run([psql, "-h", "127.0.0.1", "-p", str(port), "-U", "app", "-d",
                        "postgres", "-c", "CREATE DATABASE app"], check=True, env=env,
                       capture_output=True, timeout=60)
        yield f"postgresql://127.0.0.1:{port}/app"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60, cwd=base)
        shutil.rmtree(base, ignore_errors=True)


def pg_cred() -> dict[str, Credential]:
    return {"pg": Credential("pg", "basic", {"username": "app", "password": PG_PASSWORD})}


async def test_postgres_round_trip_with_bound_params(postgres: str, tmp_path: Path):
    r = await run(wf(
        sql("c", postgres, "CREATE TABLE IF NOT EXISTS items (id serial, name text, "
            "price numeric, at timestamptz DEFAULT now())", credential="pg"),
        sql("i", postgres, "INSERT INTO items (name, price) VALUES (%s, %s), (%(n)s, %(p)s)"
            .replace("%(n)s, %(p)s", "%s, %s"), ["tea", 2.5, "{{ $input.x }}", 3],
            credential="pg"),
        sql("s", postgres, "SELECT name, price FROM items WHERE name = ANY(%(names)s) "
            "ORDER BY name", {"names": ["tea", "x'; DROP TABLE items; --"]}, credential="pg"),
        inputs={"x": "x'; DROP TABLE items; --"}), tmp_path, credentials=pg_cred())
    assert r.state.value == "completed", {k: v.error for k, v in r.nodes.items()}
    assert r.nodes["i"].output["rowcount"] == 2
    assert r.nodes["s"].output == {
        "rows": [{"name": "tea", "price": 2.5}, {"name": "x'; DROP TABLE items; --", "price": 3}],
        "rowcount": 2, "columns": ["name", "price"]}
    assert PG_PASSWORD not in json.dumps(r.result())


async def test_postgres_errors_name_database_and_driver_message(postgres: str, tmp_path: Path):
    r = await run(wf(sql("q", postgres, "SELECT * FROM no_such_table", credential="pg")),
                  tmp_path, credentials=pg_cred())
    assert r.nodes["q"].error == (f'{postgres}: relation "no_such_table" does not exist')
    bad = {"pg": Credential("pg", "basic", {"username": "app", "password": "wrong-pass"})}
    r = await run(wf(sql("q", postgres, "SELECT 1", credential="pg")), tmp_path,
                  credentials=bad)
    assert r.nodes["q"].error.startswith(f"{postgres}: ")
    assert "password authentication failed" in r.nodes["q"].error


async def test_postgres_statement_timeout(postgres: str, tmp_path: Path):
    r = await run(wf(sql("q", postgres, "SELECT pg_sleep(5)", credential="pg", timeout_s=0.5)),
                  tmp_path, credentials=pg_cred())
    assert r.nodes["q"].error == (f"{postgres}: the statement ran longer than 0.5 s and was "
                                  "stopped")


def test_cli_postgres_with_credential_from_environment(postgres: str, tmp_path: Path):
    path = tmp_path / "pg.nopflow.json"
    path.write_text(wf(sql("s", postgres, "SELECT %s::int + 1 AS n", [41],
                           credential="pg")).model_dump_json())
    env = {**os.environ, "NOPFLOW_CRED_PG_USERNAME": "app",
           "NOPFLOW_CRED_PG_PASSWORD": PG_PASSWORD}
    proc = subprocess.run([sys.executable, "-m", "nopflow", "run", str(path), "--json"],
                          capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["nodes"]["s"]["output"]["rows"] == [{"n": 42}]
    assert PG_PASSWORD not in proc.stdout + proc.stderr
