"""Errors never kill the app: log them and show them, then carry on (issue rule 7).

Qt calls Python slots from C++; an exception escaping a slot goes to ``sys.excepthook``,
whose default prints and — with some bindings and settings — aborts. `install_excepthook`
replaces it with one that logs the traceback and shows a one-line summary in every open
window (status bar + Output log). `guarded` wraps a slot so its failure is reported the
same way without even reaching the hook, which keeps the run going.
"""

from __future__ import annotations

import functools
import logging
import sys
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

log = logging.getLogger("nopflow.ui")

F = TypeVar("F", bound=Callable[..., Any])

#: who shows an error to the user; the controller of every window registers one
_sinks: list[Callable[[str], None]] = []
_previous_hook: Any = None


def add_sink(sink: Callable[[str], None]) -> Callable[[], None]:
    """Register a function that shows an error line; returns its remover."""
    _sinks.append(sink)

    def remove() -> None:
        if sink in _sinks:
            _sinks.remove(sink)

    return remove


def report(text: str) -> None:
    """Show an error line in every window (never raises)."""
    for sink in list(_sinks):
        try:
            sink(text)
        except Exception:  # a dying window: the log has it anyway
            log.debug("error sink failed", exc_info=True)


def report_exception(exc: BaseException, where: str = "") -> None:
    """Log ``exc`` with its traceback and show a one-line summary."""
    log.error("%s", where or "unexpected error",
              exc_info=(type(exc), exc, exc.__traceback__))
    prefix = f"{where}: " if where else ""
    report(f"⚠ {prefix}{type(exc).__name__}: {exc}")


def _hook(etype: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    if issubclass(etype, KeyboardInterrupt):
        if _previous_hook is not None:
            _previous_hook(etype, value, tb)
        return
    text = "".join(traceback.format_exception(etype, value, tb))
    log.error("unhandled exception (the app keeps running):\n%s", text)
    print(text, file=sys.stderr)
    report(f"⚠ internal error: {etype.__name__}: {value} (details in the log)")


def install_excepthook() -> None:
    """Make unhandled exceptions (e.g. in Qt slots) logged and shown, never fatal."""
    global _previous_hook
    if sys.excepthook is not _hook:
        _previous_hook = sys.excepthook
        sys.excepthook = _hook


def guarded(where: str) -> Callable[[F], F]:
    """Decorate a slot: an exception inside it is reported instead of propagating."""

    def deco(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                report_exception(exc, where)
                return None

        return wrapper  # type: ignore[return-value]

    return deco
