"""nopflow(1) is generated from the parser: every command and option of `--help` is in it."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nopflow.cli_args import build_parser

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "packaging"))
import manpage


def _commands(parser: argparse.ArgumentParser, prefix: str = "nopflow") -> list[str]:
    """Every command path of the grammar (``nopflow creds set``…)."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(f"{prefix} {name}")
                found += _commands(sub, f"{prefix} {name}")
    return found


def _options(parser: argparse.ArgumentParser) -> set[str]:
    opts = {s for a in parser._actions for s in a.option_strings if s.startswith("--")}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                opts |= _options(sub)
    return opts


def test_every_command_and_option_is_in_the_man_page() -> None:
    page = manpage.render()
    assert page.startswith(".TH NOPFLOW \"1\"")
    plain = page.replace("\\-", "-")
    for command in _commands(build_parser()):
        assert f"'{command}'" in plain, command
    for option in _options(build_parser()) - {"--help"}:
        assert option in plain, option
    for section in ("EXIT STATUS", "ENVIRONMENT", "FILES", "NOPFLOW_DATA_DIR"):
        assert section in page


def test_man_renders_the_page(tmp_path: Path) -> None:
    if not shutil.which("man"):
        pytest.skip("man not installed")
    manpage.main(["manpage.py", str(tmp_path)])
    out = subprocess.run(["man", "-l", str(tmp_path / "nopflow.1")], capture_output=True,
                         text=True, timeout=30, env={"MANWIDTH": "100", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert "COMMAND 'nopflow run'" in out.stdout and "EXIT STATUS" in out.stdout
