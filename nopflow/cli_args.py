"""The command-line grammar (argparse), kept apart so `nopflow.cli` starts without it.

The man page (`packaging/manpage.py`) is generated from `build_parser()`.
"""

from __future__ import annotations

import argparse
import sys

from nopflow.__about__ import __version__
from nopflow.cli import EXIT_INVALID
from nopflow.cli_creds import add_parser as add_creds_parser
from nopflow.cli_envs import add_parser as add_envs_parser
from nopflow.cli_schedule import add_parsers as add_schedule_parsers

DESCRIPTION = "Visual workflow automation. Without a command, opens the editor."


class _Parser(argparse.ArgumentParser):
    """argparse that exits with 2 and a one-line hint (argparse's default is also 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_INVALID, f"nopflow: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full command-line grammar of the headless commands."""
    parser = _Parser(prog="nopflow", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"nopflow {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    run = sub.add_parser("run", help="run a workflow headless",
                         description="Run a workflow headless; progress goes to stderr.")
    run.add_argument("file", help="the workflow file (NAME.nopflow.json)")
    run.add_argument(
        "--input", "-i", action="append", default=[], metavar="KEY=VALUE",
        help="set a run input; VALUE is parsed as JSON when it parses, else taken as text "
             "(visible to other local users in the process list: give secrets with "
             "--input-file or --input-stdin)",
    )
    run.add_argument(
        "--input-file", action="append", default=[], metavar="FILE",
        help="read run inputs from FILE: a JSON object, or KEY=VALUE lines ('-' reads stdin)",
    )
    run.add_argument("--input-stdin", action="store_true",
                     help="read run inputs as KEY=VALUE lines (or a JSON object) from stdin")
    run.add_argument("--json", action="store_true",
                     help="print the final result as JSON (with --events: as the last line)")
    run.add_argument("--events", action="store_true", help="print one JSON event per line")
    run.add_argument("--executor", choices=["local", "dask"], help="where blocks run")
    run.add_argument("--address", help="Dask scheduler address (with --executor dask)")
    run.add_argument("--quiet", "-q", action="store_true",
                     help="no progress on stderr (a failed run still prints why)")
    part = run.add_mutually_exclusive_group()
    part.add_argument("--from", dest="from_node", metavar="NODE",
                      help="run NODE and everything downstream of it; every other node "
                           "reuses its output from the latest run that kept one")
    part.add_argument("--only", action="append", default=[], metavar="NODE",
                      help="run just NODE (repeatable); every other node reuses its kept "
                           "output")
    part.add_argument("--retry-failed", action="store_true",
                      help="re-run the latest run's failed, cancelled and skipped nodes and "
                           "what depends on them; the rest reuses that run's outputs")
    run.add_argument("--no-cache", action="store_true",
                     help="ignore the cache for this run (nodes with \"cache\": true run)")
    run.add_argument("--pins", action="store_true",
                     help="apply pinned outputs (\"pinned\" on a node): pinned nodes do "
                          "not run")

    val = sub.add_parser("validate", help="check a workflow without running it",
                         description="Check a workflow without running it; lists every problem.")
    val.add_argument("file", help="the workflow file")

    hist = sub.add_parser("history", help="list the kept runs of a workflow",
                          description="List the kept runs of a workflow, newest first.")
    hist.add_argument("file", help="the workflow file")
    hist.add_argument("--json", action="store_true", help="print the runs as JSON")
    sub.add_parser("schema", help="print the workflow JSON Schema for the installed blocks")
    add_creds_parser(sub)
    add_schedule_parsers(sub)
    add_envs_parser(sub)
    return parser
