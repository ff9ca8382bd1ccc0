"""The project documents its own contracts: every page the code points to exists, every
command of the CLI is in docs/cli.md, and the README links every page of docs/."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from nopflow.cli_args import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _sources() -> list[Path]:
    files = [*ROOT.glob("nopflow/**/*.py"), *ROOT.glob("nopflow/**/*.md"),
             *DOCS.glob("*.md"), ROOT / "README.md"]
    return [f for f in files if "__pycache__" not in f.parts]


def test_every_docs_page_named_in_the_code_exists() -> None:
    missing = set()
    for f in _sources():
        for page in re.findall(r"docs/([a-z0-9-]+\.md)", f.read_text(encoding="utf-8")):
            if not (DOCS / page).is_file():
                missing.add(f"{f.relative_to(ROOT)} → docs/{page}")
    assert not missing, sorted(missing)


def test_nothing_points_to_a_design_file_outside_the_repository() -> None:
    offenders = [str(f.relative_to(ROOT)) for f in _sources()
                 if "DESIGN.md" in f.read_text(encoding="utf-8")]
    assert not offenders


def test_every_command_is_described_in_docs_cli() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    parser = build_parser()
    commands = [name for a in parser._actions if isinstance(a, argparse._SubParsersAction)
                for name in a.choices]
    assert commands
    for name in commands:
        assert f"nopflow {name}" in text, f"docs/cli.md does not describe `nopflow {name}`"


def test_the_readme_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in sorted(DOCS.glob("*.md")):
        assert f"docs/{page.name}" in readme, f"README.md does not link docs/{page.name}"
