"""Headless entry point (docs/cli.md): `nopflow [FILE]`, `run`, `validate`, `history`.

Exit codes: 0 completed/valid, 1 run failed or cancelled, 2 invalid workflow or usage.
User mistakes print one clear message on stderr, never a traceback. Only stdlib modules
that the interpreter has already loaded are imported here, so a Ctrl+C that arrives while
nopflow is still starting finds `main()` ready to handle it.
"""

from __future__ import annotations

# `_signal` (the C module `signal` wraps) because `signal` imports enum, functools and
# collections: ~10 ms in which a Ctrl+C would still be a traceback.
import _signal as signal
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2

COMMANDS = ("run", "validate", "history", "creds", "schema", "schedule", "scheduler",
            "lock", "envs")

#: Signals that cancel `nopflow run` (SIGHUP: the terminal was closed).
CANCEL_SIGNALS = tuple(
    s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s is not None
)


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 edge`, `2 edges` (``many`` for irregular plurals)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def first_line(text: str | None) -> str:
    """A message's first line once stripped ('' when blank), for one-line summaries."""
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


class EarlySignals:
    """Remembers SIGINT/SIGTERM/SIGHUP that arrive before the run's loop handles them.

    Installed first thing in `main()` for `run`: a Ctrl+C while nopflow is still importing
    or compiling ends as a `cancelled` run (exit 1), not a KeyboardInterrupt traceback.
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self._old: dict[int, Any] = {}

    def __enter__(self) -> EarlySignals:
        for sig in CANCEL_SIGNALS:
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except (ValueError, OSError):  # not the main thread
                pass
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        self.received.append(signum)

    def reinstall(self) -> None:
        """After the loop's handlers go: a late signal (a second Ctrl+C) is only noted."""
        for sig in self._old:
            try:
                signal.signal(sig, self._handle)
            except (ValueError, OSError):
                pass

    def __exit__(self, *_exc: object) -> None:
        if self.received:
            # The process is only exiting now, after a clean cancel. Ignore late signals:
            # interpreter shutdown resets Python-level handlers to the default (die by
            # signal), but leaves an ignored signal ignored.
            for sig in self._old:
                try:
                    signal.signal(sig, signal.SIG_IGN)
                except (ValueError, OSError):
                    pass
            return
        for sig, old in self._old.items():
            try:
                signal.signal(sig, old)
            except (ValueError, OSError, TypeError):
                pass


def cmd_validate(file: str) -> int:
    """`nopflow validate FILE`: 0 if it can run, else 2 and one line per problem."""
    from pathlib import Path

    from nopflow.blocks import get_block
    from nopflow.engine.compiler import validate
    from nopflow.errors import NopflowError
    from nopflow.model import load_workflow

    try:
        wf = load_workflow(file, blocks=get_block)
    except NopflowError as exc:
        print(f"nopflow: {exc}", file=sys.stderr)
        return EXIT_INVALID
    from nopflow.storage.credentials import CredentialError, catalog

    try:
        credentials = catalog()
    except CredentialError as exc:
        print(f"nopflow: {exc}", file=sys.stderr)
        return EXIT_INVALID
    problems = validate(wf, project_dir=Path(file).resolve().parent, credentials=credentials,
                        workflow_file=file)
    problems += _lock_problems(wf, file) if not problems else []
    if problems:
        for p in problems:
            print(str(p))
        print(f"{file}: {plural(len(problems), 'problem')}", file=sys.stderr)
        return EXIT_INVALID
    print(f"{file}: valid ({plural(len(wf.nodes), 'node')}, {plural(len(wf.edges), 'edge')})",
          file=sys.stderr)
    return EXIT_OK


def _lock_problems(wf: Any, file: str) -> list[str]:
    """Where the workflow's package lock no longer matches its scripts' headers."""
    from pathlib import Path

    from nopflow.engine.compiler import compile_workflow
    from nopflow.envs.prepare import check_lock

    project_dir = Path(file).resolve().parent
    return check_lock(compile_workflow(wf, project_dir, workflow_file=file), file, project_dir)


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


def _setup_logging() -> None:
    """Warnings (history set aside, executor trouble) go to stderr once, never twice."""
    import logging

    class CliLogFormat(logging.Formatter):
        """Library warnings read like the CLI's own messages: `nopflow: warning: …`."""

        def format(self, record: logging.LogRecord) -> str:
            text = f"nopflow: {record.levelname.lower()}: {record.getMessage()}"
            if record.exc_info and record.levelno >= logging.ERROR:
                text += "\n" + self.formatException(record.exc_info)
            return text

    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(CliLogFormat())
        root.addHandler(handler)
        root.setLevel(logging.WARNING)


def _mistyped_command(word: str) -> str | None:
    """The command ``word`` was probably meant to be (`runn` → `run`), if it is no file."""
    if os.path.exists(word) or word.endswith(".json") or os.sep in word:
        return None
    import difflib

    close = difflib.get_close_matches(word.lower(), COMMANDS, n=1, cutoff=0.6)
    return close[0] if close else None


def quiet_broken_pipe() -> None:
    """The reader of stdout/stderr went away (`| head`): send what is left nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):
            pass
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list and args_list[0] == "run":
            with EarlySignals() as early:
                return _main(args_list, early)
        return _main(args_list, None)
    except KeyboardInterrupt:
        return EXIT_FAILED
    except BrokenPipeError:
        quiet_broken_pipe()
        return EXIT_OK


def _main(args_list: list[str], early: EarlySignals | None) -> int:
    if args_list == ["--version"]:  # answered before the grammar: building it loads pydantic
        from nopflow.__about__ import __version__

        print(f"nopflow {__version__}")
        return EXIT_OK
    # `nopflow FILE` (and editor-only flags) opens the editor; everything else is a command.
    if not args_list or (
        args_list[0] not in COMMANDS and not args_list[0].startswith("-")
    ) or (args_list[0].startswith("--") and args_list[0] not in ("--version", "--help")):
        meant = _mistyped_command(args_list[0]) if args_list else None
        if meant is not None:
            print(f"nopflow: unknown command '{args_list[0]}'; did you mean '{meant}'?\n"
                  f"  (commands: {', '.join(COMMANDS)}; nopflow --help lists them)",
                  file=sys.stderr)
            return EXIT_INVALID
        from nopflow.ui_entry import parse_editor_args

        editor = parse_editor_args(args_list)
        if editor is None:
            return EXIT_INVALID
        return open_editor(editor or None)
    from nopflow.cli_args import build_parser

    parser = build_parser()
    args = parser.parse_args(args_list)
    _setup_logging()
    if args.command == "validate":
        return cmd_validate(args.file)
    if args.command == "run":
        from nopflow.cli_run import cmd_run

        return cmd_run(args, early or EarlySignals())
    if args.command == "history":
        from nopflow.cli_history import cmd_history

        return cmd_history(args)
    if args.command == "schema":
        from nopflow.blocks.schema import installed_schema_text

        sys.stdout.write(installed_schema_text())
        return EXIT_OK
    if args.command in ("schedule", "scheduler"):
        from nopflow.cli_schedule import cmd_schedule, cmd_scheduler

        return cmd_scheduler(args) if args.command == "scheduler" else cmd_schedule(args, parser)
    if args.command == "creds":
        from nopflow.cli_creds import cmd_creds

        return cmd_creds(args, parser)
    if args.command == "lock":
        from nopflow.cli_envs import cmd_lock

        return cmd_lock(args)
    if args.command == "envs":
        from nopflow.cli_envs import cmd_envs

        return cmd_envs(args, parser)
    parser.print_help()
    return EXIT_INVALID


def main_gui() -> int:
    """GUI-script entry point (no console window on Windows)."""
    return main()
