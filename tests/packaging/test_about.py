"""nopflow.about: the facts behind Help -> About, read from the installation (Qt-free)."""

from __future__ import annotations

import subprocess
import sys

from nopflow import about
from nopflow.__about__ import __version__


def test_import_does_not_load_qt() -> None:
    code = "import sys, nopflow.about; print('PySide6' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_about_info(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NOPFLOW_DATA_DIR", str(tmp_path / "data"))
    info = about.about_info()
    assert info.version == __version__ == about.app_version()
    assert info.data_dir == str(tmp_path / "data")
    assert info.qt and info.pyside6  # the test venv has PySide6
    assert info.python.startswith(".".join(map(str, sys.version_info[:2])))
    d = info.as_dict()
    assert d["version"] == __version__ and isinstance(d["components"], list)


def test_components_cover_the_runtime_closure_with_licences() -> None:
    comps = {c.name.lower().replace("_", "-"): c for c in about.bundled_components()}
    for name in ("python", "qt", "pyside6-essentials", "shiboken6", "pydantic",
                 "pydantic-core", "networkx", "qasync", "tenacity", "platformdirs"):
        assert name in comps, name
    assert "nopflow" not in comps  # the app itself is not a "bundled component"
    assert "pytest" not in comps and "hypothesis" not in comps  # test extras are not shipped
    assert comps["pydantic"].license == "MIT" and "Permission is hereby granted" in (
        comps["pydantic"].text)
    assert "LGPL" in comps["qt"].license and "LGPL" in comps["pyside6-essentials"].license
    assert all(c.license for c in comps.values())


def test_about_text_lists_components() -> None:
    text = about.about_text()
    assert text.splitlines()[0] == f"nopflow {__version__}"
    assert "PySide6_Essentials" in text and "Bundled components:" in text
    full = about.about_text(include_licences=True)
    assert len(full) > len(text) and "=====" in full
