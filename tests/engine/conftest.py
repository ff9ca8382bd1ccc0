"""Fixtures for engine tests (helpers live in wfhelpers.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Test modules import `wfhelpers` from this folder whatever pytest's import mode is.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private NOPFLOW_DATA_DIR for tests touching history."""
    path = tmp_path / "data"
    monkeypatch.setenv("NOPFLOW_DATA_DIR", str(path))
    return path
