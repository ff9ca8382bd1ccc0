"""Script-package tests: uv talks only to a package index the test starts on 127.0.0.1.

`pkgindex.py` (wheels and the index) sits beside this file, which puts the folder on
sys.path so test modules import it whatever pytest's import mode is.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pkgindex import PackageIndex, make_wheel


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    make_wheel(folder, "tinycalc", "1.0",
               {"tinycalc/__init__.py": "def double(x):\n    return 2 * x\n"})
    make_wheel(folder, "tinycalc", "1.1", {
        "tinycalc/__init__.py": "def double(x):\n    return x + x\nVERSION = '1.1'\n"})
    make_wheel(folder, "tinyfmt", "2.0", {"tinyfmt.py": "import tinycalc\n"
                                          "def show(x):\n    return f'<{tinycalc.double(x)}>'\n"},
               requires=("tinycalc>=1",))
    return folder


@pytest.fixture
def index(wheels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PackageIndex]:
    """A real index on 127.0.0.1; uv (in this process and in children) uses only it."""
    idx = PackageIndex(wheels)
    monkeypatch.setenv("UV_INDEX_URL", idx.url)
    monkeypatch.setenv("UV_DEFAULT_INDEX", idx.url)
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")  # a stopped index fails at once
    monkeypatch.delenv("UV_OFFLINE", raising=False)
    yield idx
    idx.stop()
