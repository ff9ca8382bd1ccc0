"""Helpers for the sandbox tests (not fixtures, so they are imported, not injected)."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

from nopflow.sandbox import ScriptResult, ScriptRunner, ScriptSpec

LINUX = sys.platform.startswith("linux")


async def run(runner: ScriptRunner, project: Path, code: str, **kw: object) -> ScriptResult:
    """Run dedented `code` in `project`, bounded by 30 s whatever the script does."""
    spec = ScriptSpec(project_dir=project, code=textwrap.dedent(code), **kw)  # type: ignore[arg-type]
    return await asyncio.wait_for(runner.run(spec), 30)
