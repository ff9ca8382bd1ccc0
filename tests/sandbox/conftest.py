"""Fixtures shared by the sandbox tests: a project folder and a runner closed after each test.

Helpers that are not fixtures live in `sbhelpers.py`; this folder is put on sys.path so
test modules import them whatever pytest's import mode is.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nopflow.sandbox import ScriptRunner


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory (the script's cwd and its writable area)."""
    p = tmp_path / "proj"
    p.mkdir()
    return p


@pytest.fixture
async def runner() -> AsyncIterator[ScriptRunner]:
    """A default ScriptRunner, closed (zygote and children gone) after the test."""
    r = ScriptRunner()
    try:
        yield r
    finally:
        await asyncio.wait_for(r.aclose(), 10)


@pytest.fixture(scope="session")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A plain venv of the running Python (its bin/python is a symlink to a real binary)."""
    d = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(d)], check=True, timeout=60)
    return str(d / "bin" / "python")
