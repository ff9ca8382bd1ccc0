"""nopflow(1), generated from the CLI's own parser so the page never drifts from `--help`.

Run in the build venv: ``python packaging/manpage.py OUT_DIR`` writes ``OUT_DIR/nopflow.1``.
argparse-manpage renders the commands and options; the sections below add what a parser
cannot say (exit status, environment, files).
"""

from __future__ import annotations

import sys
from pathlib import Path

from argparse_manpage.manpage import Manpage

from nopflow.__about__ import __version__
from nopflow.cli_args import build_parser

EXTRA_SECTIONS = {
    "EXIT STATUS": (
        ".TP\n\\fB0\\fR\nthe run completed (or the command succeeded)\n"
        ".TP\n\\fB1\\fR\nthe run failed or was cancelled (Ctrl+C and SIGTERM cancel cleanly)\n"
        ".TP\n\\fB2\\fR\nan invalid workflow, a missing credential or a usage error"
    ),
    "ENVIRONMENT": (
        ".TP\n\\fBNOPFLOW_DATA_DIR\\fR\nwhere run history is kept "
        "(default: the platform's user data folder)\n"
        ".TP\n\\fBNOPFLOW_CONFIG_DIR\\fR\nwhere credential names and settings are kept\n"
        ".TP\n\\fBNOPFLOW_CRED_\\fINAME\\fB_\\fIFIELD\\fR\n"
        "a credential field, taking precedence over the keyring (for CI and servers)"
    ),
    "FILES": (
        ".TP\n\\fINAME\\fB.nopflow.json\\fR\na workflow; its folder is the project directory\n"
        ".TP\n\\fI$NOPFLOW_DATA_DIR\\fB/history/\\fIWORKFLOW-ID\\fB.json\\fR\n"
        "the five most recent runs of a workflow"
    ),
    "SEE ALSO": (
        "The docs/ folder of the nopflow source (https://github.com/nopflow/nopflow): "
        "cli.md, file-format.md, blocks.md, expressions.md, history.md, credentials.md, "
        "security.md."
    ),
}


def render() -> str:
    """The roff source of nopflow(1)."""
    page = Manpage(build_parser(), _data={
        "project_name": "nopflow",
        "version": __version__,
        "description": "visual workflow automation: run and check node-graph workflows",
        "manual_section": 1,
        "manual_title": "nopflow manual",
        "prog": "nopflow",
        "url": "https://github.com/nopflow/nopflow",
    })
    for heading, content in EXTRA_SECTIONS.items():
        page.add_section(heading, ">", content)
    return str(page)


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(".")
    out.mkdir(parents=True, exist_ok=True)
    (out / "nopflow.1").write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
