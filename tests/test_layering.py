"""DESIGN.md §1: only nopflow/ui imports Qt; the sandbox imports only the standard library
(plus nopflow.errors); the engine never imports the UI. Checked on the import statements,
including imports inside functions."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "nopflow"
QT = ("PySide6", "shiboken6", "qasync")


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def files(under: Path) -> list[Path]:
    return sorted(under.rglob("*.py"))


def test_only_the_ui_imports_qt() -> None:
    offenders = [
        f"{p.relative_to(PACKAGE.parent)} imports {m}"
        for p in files(PACKAGE) if PACKAGE / "ui" not in p.parents
        for m in imported(p) if m.split(".")[0] in QT
    ]
    assert offenders == []


def test_engine_model_storage_never_import_the_ui() -> None:
    offenders = [
        f"{p.relative_to(PACKAGE.parent)} imports {m}"
        for sub in ("engine", "model", "storage", "blocks", "sandbox")
        for p in files(PACKAGE / sub)
        for m in imported(p) if m.startswith("nopflow.ui")
    ]
    assert offenders == []


def test_sandbox_is_stdlib_only() -> None:
    stdlib = set(sys.stdlib_module_names)
    offenders = [
        f"{p.relative_to(PACKAGE.parent)} imports {m}"
        for p in files(PACKAGE / "sandbox")
        for m in imported(p)
        if m.split(".")[0] not in stdlib and m not in ("nopflow.errors",)
        and not m.startswith("nopflow.sandbox") and m != "__future__"
    ]
    assert offenders == []


def test_headless_run_loads_no_qt(tmp_path: Path) -> None:
    # The CLI path end to end: run a shipped example, then check no Qt module was loaded.
    example = PACKAGE.parent / "resources" / "examples" / "parallel-stats.nopflow.json"
    code = (
        "import sys\nfrom nopflow.cli import main\n"
        f"rc = main(['run', {str(example)!r}, '-q'])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'qasync'))\n"
        "print(rc, loaded)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert res.stdout.strip() == "0 []", res.stdout + res.stderr
