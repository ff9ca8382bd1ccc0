"""`nopflow validate` and `--version`: exit codes and messages a person can act on (§8)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from nopflow import __version__

EXAMPLES = Path(__file__).resolve().parent.parent / "resources" / "examples"


def nopflow(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nopflow", *args],
        capture_output=True, text=True, timeout=60, cwd=cwd,
    )


def test_version() -> None:
    res = nopflow("--version")
    assert res.returncode == 0
    assert res.stdout.strip() == f"nopflow {__version__}"


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("nopflow")
    res = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and __version__ in res.stdout


def test_validate_examples_exit_zero() -> None:
    for f in sorted(EXAMPLES.glob("*.nopflow.json")):
        res = nopflow("validate", str(f))
        assert res.returncode == 0, res.stdout + res.stderr
        assert "valid" in res.stderr


def test_validate_lists_problems_one_per_line(tmp_path: Path) -> None:
    doc = {"format": "nopflow/workflow", "version": 1, "nodes": [
        {"id": "s", "type": "start"}, {"id": "x", "type": "teleport"},
        {"id": "c", "type": "condition", "config": {"expression": "$input.n >"}}],
        "edges": [{"id": "e1", "source": "s", "target": "c"},
                  {"id": "e2", "source": "s", "target": "nowhere"}]}
    path = tmp_path / "bad.nopflow.json"
    path.write_text(json.dumps(doc))
    res = nopflow("validate", str(path))
    assert res.returncode == 2
    lines = res.stdout.splitlines()
    assert any(line.startswith("node x: unknown block type 'teleport'") for line in lines)
    assert any(line.startswith("node c: config.expression") for line in lines)
    assert "node s: edge e2: target node 'nowhere' does not exist" in lines
    assert all(line.startswith("node ") for line in lines)
    assert "Traceback" not in res.stderr


def test_malformed_file_exit_two_with_location(tmp_path: Path) -> None:
    path = tmp_path / "broken.nopflow.json"
    path.write_text('{"format": "nopflow/workflow",\n  "version": 1,,\n}')
    res = nopflow("validate", str(path))
    assert res.returncode == 2
    assert str(path) in res.stderr and "line 2" in res.stderr
    assert "Traceback" not in res.stderr


def test_missing_and_non_utf8_files(tmp_path: Path) -> None:
    res = nopflow("validate", str(tmp_path / "nope.json"))
    assert res.returncode == 2 and "no such file" in res.stderr
    bad = tmp_path / "latin1.nopflow.json"
    bad.write_bytes(b'{"name": "caf\xe9"}')
    res = nopflow("validate", str(bad))
    assert res.returncode == 2 and "not UTF-8" in res.stderr and "Traceback" not in res.stderr


def test_usage_errors_exit_two() -> None:
    assert nopflow("validate").returncode == 2
    assert nopflow("frobnicate", "--bogus").returncode == 2


def test_editor_without_display_says_how_to_run_headless(tmp_path: Path) -> None:
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    res = subprocess.run([sys.executable, "-m", "nopflow"], capture_output=True, text=True,
                         timeout=60, env=env)
    assert res.returncode == 2 and "nopflow run FILE" in res.stderr
