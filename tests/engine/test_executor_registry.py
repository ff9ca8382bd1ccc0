"""The executor registry: kinds by `settings.executor.kind`, plugins, missing extras.

Scripts really run (a registered kind wraps the real local executor); a plugin is a real
distribution on sys.path whose entry points importlib.metadata discovers.
"""

from __future__ import annotations

import ast
import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from wfhelpers import make_wf

import nopflow.engine.executor as registry
from nopflow.engine.executor import (
    ExecutorKind,
    LineCallback,
    ScriptHandle,
    ScriptRequest,
    UnavailableExecutor,
    create_executor,
    executor_kinds,
    register_executor,
)
from nopflow.engine.runner import Run
from nopflow.executors.local import LocalExecutor
from nopflow.model import ExecutorSettings

ENGINE = Path(__file__).resolve().parents[2] / "nopflow" / "engine"
DOUBLE = "import json, sys\nd = json.load(sys.stdin)\nprint(json.dumps(d['x'] * 2))\n"


@pytest.fixture(autouse=True)
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test registers into a copy of the registry; plugins are rediscovered."""
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    monkeypatch.setattr(registry, "_plugins_loaded", False)


def settings(kind: str, address: str | None = None) -> ExecutorSettings:
    """Settings naming a kind the file format does not list (a plugin's)."""
    return ExecutorSettings.model_construct(kind=kind, address=address)


class CountingExecutor:
    """A third-party executor: runs scripts in the local sandbox and counts them."""

    kind = "counting"

    def __init__(self) -> None:
        self.inner = LocalExecutor()
        self.requests: list[ScriptRequest] = []
        self.closed = False

    async def start(self) -> None:
        await self.inner.start()

    def describe(self) -> str:
        return f"counted, on {self.inner.describe()}"

    async def start_script(self, request: ScriptRequest, on_line: LineCallback) -> ScriptHandle:
        self.requests.append(request)
        return await self.inner.start_script(request, on_line)

    async def aclose(self) -> None:
        self.closed = True
        await self.inner.aclose()


def script_workflow(kind: str) -> Any:
    wf = make_wf([("s", "start", {}), ("p", "python", {"code": DOUBLE, "inputs": {"x": 21}})],
                 ["s->p"])
    wf.settings.executor = settings(kind)
    return wf


async def test_the_run_asks_the_registry_for_its_kind(tmp_path: Path) -> None:
    made: list[CountingExecutor] = []

    def factory(_settings: ExecutorSettings) -> CountingExecutor:
        made.append(CountingExecutor())
        return made[-1]

    register_executor(ExecutorKind("counting", "Counted", factory))
    run = Run(script_workflow("counting"), project_dir=tmp_path)
    await asyncio.wait_for(run.execute(), 30)
    assert run.status == "completed", run.nodes["p"].error
    assert run.nodes["p"].output == 42
    (executor,) = made
    assert [r.input for r in executor.requests] == [{"x": 21}]
    assert executor.closed  # the run made it, so the run closed it


async def test_a_factory_named_by_reference_is_loaded_on_first_use() -> None:
    register_executor(ExecutorKind("local-again", "Here", "nopflow.executors.local:create"))
    executor = create_executor(settings("local-again"))
    try:
        assert isinstance(executor, LocalExecutor)
        await executor.start()
        assert executor.describe().startswith("this computer (")
    finally:
        await executor.aclose()


async def test_missing_extra_fails_script_nodes_naming_it(tmp_path: Path) -> None:
    register_executor(ExecutorKind("faraway", "Far away", "no_such_pkg_xyz:create",
                                   requires=("no_such_pkg_xyz",), extra="faraway"))
    run = Run(script_workflow("faraway"), project_dir=tmp_path)
    await asyncio.wait_for(run.execute(), 30)
    assert run.status == "failed"
    assert run.nodes["p"].error == ("the faraway executor needs the 'faraway' extra: "
                                    "pip install 'nopflow[faraway]'")
    assert run.nodes["p"].error_type == "ExecutorUnavailable"


async def test_unknown_kind_and_broken_factory_never_raise(tmp_path: Path) -> None:
    def broken(_settings: ExecutorSettings) -> Any:
        raise RuntimeError("no licence server")

    register_executor(ExecutorKind("broken", "Broken", broken))
    unknown = create_executor(settings("nope"))
    assert isinstance(unknown, UnavailableExecutor)
    assert unknown.reason == "unknown executor kind 'nope' (known: local, dask, broken)"
    failed = create_executor(settings("broken"))
    assert isinstance(failed, UnavailableExecutor)
    assert failed.reason == ("the broken executor could not be created: "
                             "RuntimeError: no licence server")
    run = Run(script_workflow("broken"), project_dir=tmp_path)
    await asyncio.wait_for(run.execute(), 30)
    assert run.nodes["p"].error == failed.reason


def test_plugins_come_from_the_entry_point_group(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A distribution declaring `nopflow.executors` entry points: the good one is listed,
    the broken one is reported by name and skipped."""
    (tmp_path / "nopflow_exec_plugin.py").write_text(
        "from nopflow.engine.executor import ExecutorKind\n"
        "KIND = ExecutorKind('plugged', 'Plugged in', 'nopflow.executors.local:create')\n")
    dist = tmp_path / "nopflow_exec_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nopflow-exec-plugin\n"
                                   "Version: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[nopflow.executors]\nplugged = nopflow_exec_plugin:KIND\n"
        "cracked = nopflow_exec_plugin:MISSING\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    kinds = executor_kinds()
    assert list(kinds)[:2] == ["local", "dask"]
    assert kinds["plugged"].label == "Plugged in"
    assert "cracked" not in kinds
    assert any("cracked" in r.getMessage() and "broken" in r.getMessage()
               for r in caplog.records)
    assert isinstance(create_executor(settings("plugged")), LocalExecutor)


def test_engine_imports_no_executor_implementation() -> None:
    """docs/architecture.md: executors -> sandbox, engine interfaces; never the other way."""
    offenders = []
    for path in sorted(ENGINE.rglob("*.py")):
        for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in n.names] if isinstance(n, ast.Import) else
                     [n.module or ""] if isinstance(n, ast.ImportFrom) else [])
            offenders += [f"{path.name} imports {m}" for m in names
                          if m.split(".")[0] == "distributed"
                          or m.startswith(("nopflow.sandbox", "nopflow.executors"))]
    assert offenders == []


def test_listing_kinds_imports_no_implementation() -> None:
    import subprocess

    code = ("import sys\n"
            "from nopflow.executors import kinds\n"
            "assert [k.label for k in kinds().values()][:2] == ['This computer', "
            "'Dask cluster']\n"
            "loaded = [m for m in sys.modules if m.startswith(('nopflow.executors.',\n"
            "          'nopflow.sandbox', 'distributed'))]\n"
            "assert loaded == [], loaded\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
