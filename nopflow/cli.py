"""Headless entry point (DESIGN.md §8): `nopflow [FILE]`, `run`, `validate`, `history`.

Exit codes: 0 completed/valid, 1 run failed or cancelled, 2 invalid workflow or usage.
User mistakes print one clear message on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from nopflow.__about__ import __version__

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2

COMMANDS = ("run", "validate", "history", "creds", "schema")


def first_line(text: str | None) -> str:
    """A message's first line once stripped ('' when blank), for one-line summaries."""
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


class _Parser(argparse.ArgumentParser):
    """argparse that exits with 2 and a one-line hint (argparse's default is also 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_INVALID, f"nopflow: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full command-line grammar."""
    parser = _Parser(
        prog="nopflow",
        description="Visual workflow automation. Without a command, opens the editor.",
    )
    parser.add_argument("--version", action="version", version=f"nopflow {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    run = sub.add_parser("run", help="run a workflow headless")
    run.add_argument("file", help="the workflow file (NAME.nopflow.json)")
    run.add_argument(
        "--input", "-i", action="append", default=[], metavar="KEY=VALUE",
        help="set a run input; VALUE is parsed as JSON when it parses, else taken as text",
    )
    run.add_argument("--json", action="store_true",
                     help="print the final result as JSON (with --events: as the last line)")
    run.add_argument("--events", action="store_true", help="print one JSON event per line")
    run.add_argument("--executor", choices=["local", "dask"], help="where blocks run")
    run.add_argument("--address", help="Dask scheduler address (with --executor dask)")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")

    val = sub.add_parser("validate", help="check a workflow without running it")
    val.add_argument("file")

    hist = sub.add_parser("history", help="list the kept runs of a workflow")
    hist.add_argument("file")
    hist.add_argument("--json", action="store_true", help="print the runs as JSON")

    sub.add_parser("schema", help="print the workflow JSON Schema for the installed blocks")

    from nopflow.cli_creds import add_parser as add_creds_parser

    add_creds_parser(sub)
    return parser


def cmd_validate(file: str) -> int:
    """`nopflow validate FILE`: 0 if it can run, else 2 and one line per problem."""
    from nopflow.engine.compiler import validate
    from nopflow.errors import NopflowError
    from nopflow.model import load_workflow

    try:
        wf = load_workflow(file)
    except NopflowError as exc:
        print(f"nopflow: {exc}", file=sys.stderr)
        return EXIT_INVALID
    from nopflow.storage.credentials import CredentialError, catalog

    try:
        credentials = catalog()
    except CredentialError as exc:
        print(f"nopflow: {exc}", file=sys.stderr)
        return EXIT_INVALID
    problems = validate(wf, project_dir=Path(file).resolve().parent, credentials=credentials)
    if problems:
        for p in problems:
            print(str(p))
        n = len(problems)
        print(f"{file}: {n} problem{'s' if n != 1 else ''}", file=sys.stderr)
        return EXIT_INVALID
    print(f"{file}: valid ({len(wf.nodes)} nodes, {len(wf.edges)} edges)", file=sys.stderr)
    return EXIT_OK


def _has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def open_editor(file: str | None) -> int:
    """Start the Qt editor (imported lazily so headless commands never load Qt)."""
    if not _has_display():
        print(
            "nopflow: no display to open the editor on (DISPLAY is not set).\n"
            "  Run a workflow headless instead:  nopflow run FILE",
            file=sys.stderr,
        )
        return EXIT_INVALID
    try:
        from nopflow.ui.app import run_editor
    except ImportError as exc:
        print(f"nopflow: the editor is not available: {exc}", file=sys.stderr)
        return EXIT_INVALID
    return run_editor(file)


class _CliLogFormat(logging.Formatter):
    """Library warnings read like the CLI's own messages: `nopflow: warning: …`."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"nopflow: {record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info and record.levelno >= logging.ERROR:
            text += "\n" + self.formatException(record.exc_info)
        return text


def _setup_logging() -> None:
    """Warnings (history set aside, executor trouble) go to stderr once, never twice."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_CliLogFormat())
        root.addHandler(handler)
        root.setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    # `nopflow FILE` (and editor-only flags) opens the editor; everything else is a command.
    if not args_list or (
        args_list[0] not in COMMANDS and not args_list[0].startswith("-")
    ) or (args_list[0].startswith("--") and args_list[0] not in ("--version", "--help")):
        from nopflow.ui_entry import parse_editor_args

        editor = parse_editor_args(args_list)
        if editor is None:
            return EXIT_INVALID
        return open_editor(editor or None)
    parser = build_parser()
    args = parser.parse_args(args_list)
    _setup_logging()
    try:
        if args.command == "validate":
            return cmd_validate(args.file)
        if args.command == "run":
            from nopflow.cli_run import cmd_run

            return cmd_run(args)
        if args.command == "history":
            from nopflow.cli_history import cmd_history

            return cmd_history(args)
        if args.command == "schema":
            from nopflow.blocks.schema import installed_schema_text

            sys.stdout.write(installed_schema_text())
            return EXIT_OK
        if args.command == "creds":
            from nopflow.cli_creds import cmd_creds

            return cmd_creds(args, parser)
    except KeyboardInterrupt:
        return EXIT_FAILED
    parser.print_help()
    return EXIT_INVALID


def main_gui() -> int:
    """GUI-script entry point (no console window on Windows)."""
    return main()
