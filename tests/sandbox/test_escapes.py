"""Regression tests for sandbox escapes found by a black-box review (one test per finding).

Every child is bounded by a timeout; nothing here forks without bound.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nopflow.sandbox import ScriptResult, ScriptRunner, ScriptSpec

LINUX = sys.platform.startswith("linux")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    p = tmp_path / "proj"
    p.mkdir()
    return p


@pytest.fixture
async def runner() -> AsyncIterator[ScriptRunner]:
    r = ScriptRunner()
    try:
        yield r
    finally:
        await asyncio.wait_for(r.aclose(), 10)


async def run(runner: ScriptRunner, project: Path, code: str, **kw: object) -> ScriptResult:
    spec = ScriptSpec(project_dir=project, code=textwrap.dedent(code), **kw)  # type: ignore[arg-type]
    return await asyncio.wait_for(runner.run(spec), 30)


# --------------------------------------------------------------------------- 6: NaN
@pytest.mark.parametrize(
    ("value", "name"), [("float('nan')", "NaN"), ("float('-inf')", "-Infinity")]
)
async def test_nan_and_infinity_output_refused(
    runner: ScriptRunner, project: Path, value: str, name: str
) -> None:
    r = await run(runner, project, f"import json\nprint(json.dumps({{'v': {value}}}))")
    assert not r.ok
    assert r.error_type == "InvalidOutput"
    assert r.error is not None and r.error.startswith(
        f"output is not valid JSON: {name} is not allowed (JSON has no NaN or Infinity)"
    ), r.error
