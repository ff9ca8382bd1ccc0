"""Test-wide setup: Qt renders offscreen (no display here) and user data stays in tmp dirs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Must happen before any Qt import: without a display Qt would abort the whole run.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent
# test helpers shared across folders (prochelpers.py) import by name in any import mode
sys.path.insert(0, str(Path(__file__).resolve().parent))
EXAMPLES = REPO / "resources" / "examples"


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own data and config dirs, so history and settings never leak."""
    base = tmp_path_factory.mktemp("userdirs")
    monkeypatch.setenv("NOPFLOW_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("NOPFLOW_CONFIG_DIR", str(base / "config"))
    yield
