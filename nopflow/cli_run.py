"""`nopflow run FILE [--input k=v]… [--json] [--events] [--executor local|dask [--address A]]`.

(docs/cli.md). `--executor`/`--address` override the workflow's `settings.executor` for
this run; `dask` without an address starts a LocalCluster on 127.0.0.1 and closes it after.

Progress goes to stderr (one line per node state change, plus a bar on a terminal); stdout
carries only machine output (`--json` result or `--events` lines), so both can be piped.
SIGINT/SIGTERM/SIGHUP cancel the run cleanly: children are killed, history records `cancelled`,
exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

from nopflow.cli import (
    CANCEL_SIGNALS,
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    EarlySignals,
    quiet_broken_pipe,
)
from nopflow.cli import first_line as _first_line
from nopflow.file_run import FileRun, PackagesNotInstalled, RunRefused, prepare
from nopflow.model import strict_json
from nopflow.partial_runs import ReuseOptions

_SYMBOLS = {
    "running": "▶",
    "success": "✓",
    "error": "✗",
    "skipped": "–",
    "cancelled": "⊘",
    "pending": "·",
}


def _argv_text(text: str) -> str:
    """Bytes of the command line that were not UTF-8 (kept as surrogates), as `\\xff`."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text


def input_value(key: str, text: str) -> Any:
    """VALUE is strict JSON when it parses as JSON, else plain text (``NaN`` is text).

    JSON nested deeper than `strict_json.MAX_DEPTH` is a `ValueError` (a usage error).
    """
    try:
        return strict_json.loads(text)
    except strict_json.StrictJSONError as exc:
        if "nested too deeply" in exc.detail:
            raise ValueError(f"input {key}: {exc.detail}") from None
        return text
    except ValueError:
        return text


def parse_inputs(pairs: list[str], what: str = "--input") -> dict[str, Any]:
    """`KEY=VALUE` pairs; VALUE is JSON when it parses as JSON, else plain text."""
    inputs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = _argv_text(pair).partition("=")
        key = key.strip()
        if not sep or not key:
            shown = pair if len(pair) <= 60 else pair[:57] + "..."
            raise ValueError(f"{what} expects KEY=VALUE, got {_argv_text(shown)!r}")
        inputs[key] = input_value(key, text)
    return inputs


def read_inputs(source: TextIO, name: str) -> dict[str, Any]:
    """Inputs from a file or stdin: one JSON object, or `KEY=VALUE` lines.

    Blank lines and lines starting with `#` are skipped; values are never echoed back
    in errors (a file like this usually holds secrets).
    """
    try:
        text = source.read()
    except UnicodeDecodeError:
        raise ValueError(f"{name}: not UTF-8 text") from None
    except OSError as exc:
        raise ValueError(f"{name}: cannot read: {exc.strerror or exc}") from None
    if text.lstrip().startswith("{"):
        try:
            doc = strict_json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{name}: not a valid JSON object: {exc}") from None
        if not isinstance(doc, dict):
            raise ValueError(f"{name}: expected a JSON object of inputs")
        return doc
    inputs: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{name}, line {number}: expected KEY=VALUE")
        inputs[key] = input_value(key, value)
    return inputs


def gather_inputs(args: argparse.Namespace) -> dict[str, Any]:
    """Run inputs from `--input-file`s, `--input-stdin` and `--input`, later ones winning."""
    inputs: dict[str, Any] = {}
    for name in getattr(args, "input_file", None) or []:
        if name == "-":
            inputs.update(read_inputs(sys.stdin, "stdin"))
            continue
        try:
            with open(name, encoding="utf-8") as fh:
                inputs.update(read_inputs(fh, name))
        except OSError as exc:
            raise ValueError(f"--input-file {name}: {exc.strerror or exc}") from None
    if getattr(args, "input_stdin", False):
        inputs.update(read_inputs(sys.stdin, "stdin"))
    inputs.update(parse_inputs(list(getattr(args, "input", None) or [])))
    return inputs


class ProgressPrinter:
    """Readable per-node lines on stderr; a progress bar only when stderr is a terminal."""

    def __init__(self, run: Any, stream: TextIO) -> None:
        self.run = run
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._bar_shown = False
        self.broken = False

    def __call__(self, event: Any) -> None:
        kind = event.kind
        if kind == "node_state":
            self._line(self._node_line(event))
        elif kind == "node_retry":
            err = f": {_first_line(event.error)}" if event.error else ""
            self._line(f"  ↻ {event.node_id} retry (attempt {event.attempt}) in "
                       f"{event.delay_s:.2f}s{err}")
        elif kind == "node_log":
            self._line(f"    {event.node_id} | {event.line}")
        elif kind == "progress" and self.tty and not self.broken:
            width = 24
            filled = int(width * event.done / max(1, event.total))
            bar = "#" * filled + "." * (width - filled)
            self.stream.write(f"\r  [{bar}] {event.done}/{event.total}")
            self.stream.flush()
            self._bar_shown = True
        elif kind == "subworkflow_started":
            self._line(f"  ↳ {event.node_id} runs {Path(event.file).name} as run "
                       f"{event.child_run_id[:8]}")
        elif kind == "run_paused":
            self._line("  ‖ paused")
        elif kind == "run_resumed":
            self._line("  ▶ resumed")
        elif kind == "run_finished":
            self._line(f"run {event.status} in {event.duration_ms / 1000:.2f}s")

    def _node_line(self, event: Any) -> str:
        rec = self.run.nodes.get(event.node_id)
        title = f" ({rec.title})" if rec is not None and rec.title != event.node_id else ""
        text = f"  {_SYMBOLS.get(event.state, '?')} {event.node_id}{title} {event.state}"
        if event.iteration is not None:
            text += f" [item {event.iteration}]"
        if event.state == "running" and event.attempt > 1:
            text += f" (attempt {event.attempt})"
        if event.duration_ms is not None and event.state != "running":
            text += f" {event.duration_ms / 1000:.2f}s"
        if event.error:
            text += f": {_first_line(event.error)}"
        source = getattr(event, "source", "ran")
        if event.state == "success" and source != "ran":
            rid = getattr(event, "reused_from", None)
            text += f" ({source} from run {rid[:8]})" if rid else f" ({source})"
        return text

    def _line(self, text: str) -> None:
        if self.broken:
            return
        try:
            if self._bar_shown:
                self.stream.write("\r\033[K")
                self._bar_shown = False
            self.stream.write(text + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):  # stderr piped into `head`: stop writing
            self.broken = True


class _FinishWatcher:
    """Keeps the (redacted) reason a run ended, for the one line `--quiet` still prints."""

    def __init__(self) -> None:
        self.error: str | None = None

    def __call__(self, event: Any) -> None:
        if event.kind == "run_finished":
            self.error = event.error


class EventPrinter:
    """`--events`: one JSON object per line on stdout, flushed as it happens."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.broken = False

    def __call__(self, event: Any) -> None:
        if self.broken:
            return
        try:
            self.stream.write(strict_json.dumps(event.to_dict(), default=str) + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            self.broken = True
            quiet_broken_pipe()


def _err(message: str) -> None:
    print(f"nopflow: {message}", file=sys.stderr)


async def _execute(prepared: FileRun, early: EarlySignals, quiet: bool = False) -> None:
    loop = asyncio.get_running_loop()
    run = prepared.run
    installed: list[int] = []
    def on_signal(sig: int) -> None:
        early.received.append(sig)
        run.cancel()  # idempotent: a second Ctrl+C changes nothing

    for sig in CANCEL_SIGNALS:
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows: plain handlers
            signal.signal(sig, lambda signum, _f: loop.call_soon_threadsafe(on_signal, signum))
    if early.received:
        run.cancel()
    say = None if quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    try:
        await prepared.execute(say, _err, start_executor=not early.received)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)  # resets to the default handler ...
        early.reinstall()  # ... so put back one that only takes note


def _packages_line(line: str) -> None:
    print(f"  packages: {line}", file=sys.stderr, flush=True)


def cmd_run(args: argparse.Namespace, early: EarlySignals) -> int:
    """Run a workflow headless; returns the exit code. ``early`` holds signals seen so far."""
    for stream in (sys.stderr, sys.stdout):
        try:
            stream.reconfigure(errors="replace")  # type: ignore[attr-defined]
        except (AttributeError, ValueError):
            pass
    try:
        inputs = gather_inputs(args)
    except ValueError as exc:
        _err(str(exc))
        return EXIT_INVALID
    try:
        prepared = prepare(args.file, inputs, executor_kind=getattr(args, "executor", None),
                           address=getattr(args, "address", None), warn=_err,
                           progress=None if getattr(args, "quiet", False) else _packages_line,
                           reuse=ReuseOptions(
                               start=getattr(args, "from_node", None),
                               only=tuple(getattr(args, "only", None) or ()),
                               retry=bool(getattr(args, "retry_failed", False)),
                               pins=bool(getattr(args, "pins", False)),
                               use_cache=not getattr(args, "no_cache", False)))
    except PackagesNotInstalled as exc:  # the workflow is fine; installing failed
        for line in exc.lines:
            print(line, file=sys.stderr)
        _err(str(exc))
        return EXIT_FAILED
    except RunRefused as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        _err(str(exc))
        return EXIT_INVALID
    run = prepared.run
    quiet = bool(getattr(args, "quiet", False))
    finished = _FinishWatcher()
    run.events.subscribe(finished)
    if not quiet:
        run.events.subscribe(ProgressPrinter(run, sys.stderr))
    if getattr(args, "events", False):
        run.events.subscribe(EventPrinter(sys.stdout))
    asyncio.run(_execute(prepared, early, quiet))
    if quiet and run.state.value != "completed":
        why = f": {_first_line(finished.error)}" if finished.error else ""
        _err(f"run {run.state.value}{why}")
    # store warnings and recorder errors were logged (once) as they happened
    if getattr(args, "json", False):
        try:
            sys.stdout.write(strict_json.dumps(run.result(), default=str) + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            quiet_broken_pipe()
    return EXIT_OK if run.state.value == "completed" else EXIT_FAILED
