"""Strict JSON in and out: never NaN or Infinity, bounded nesting, text UTF-8 can hold.

Python's `json` reads `NaN`, `Infinity` and `1e999` (as infinity) and writes them back as
bare `NaN`/`Infinity`, which no other JSON reader accepts; a lone surrogate in a string
cannot be written as UTF-8 at all. Everything nopflow reads from a user or writes for one
(workflow files, run inputs, `--json`, `--events`, history) goes through here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

#: Deepest nesting accepted in run inputs and documents (deeper is refused, not a crash).
MAX_DEPTH = 200


class StrictJSONError(ValueError):
    """Text that is not strict JSON; ``json_path`` says where, when known."""

    def __init__(self, message: str, json_path: str | None = None) -> None:
        self.json_path = json_path
        self.detail = message
        super().__init__(f"{json_path}: {message}" if json_path else message)


class _Refused:
    """Stands in for a non-finite number while parsing, so its path can be reported."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_CONSTANTS = ("NaN", "Infinity", "-Infinity")


def json_path(parts: Sequence[int | str]) -> str:
    """A location like ('nodes', 2, 'config') as `$.nodes[2].config`."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if str(part).isidentifier() else f"[{json.dumps(str(part))}]"
    return out


def check(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise `StrictJSONError` for a non-finite number or nesting deeper than ``max_depth``."""
    stack: list[tuple[Any, list[int | str]]] = [(value, [])]
    while stack:
        item, where = stack.pop()
        if isinstance(item, _Refused | float):
            text = item.text if isinstance(item, _Refused) else repr(item)
            if isinstance(item, float):
                raise StrictJSONError(f"{text} is not a finite number (JSON has no NaN or "
                                      "Infinity)", json_path(where))
            if text in _CONSTANTS:
                raise StrictJSONError(
                    f"{text} is not allowed (JSON has no NaN or Infinity)", json_path(where))
            raise StrictJSONError(
                f"number {text} is out of range (JSON numbers must be finite)", json_path(where))
        if isinstance(item, dict | list | tuple):
            if len(where) >= max_depth:
                raise StrictJSONError(f"nested too deeply (more than {max_depth} levels)")
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            stack.extend(
                (v, [*where, k]) for k, v in pairs
                if isinstance(v, dict | list | tuple | _Refused)
                or (isinstance(v, float) and not math.isfinite(v))
            )


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Parse strict JSON; `StrictJSONError` (a `ValueError`) names what and where.

    Syntax errors stay `json.JSONDecodeError` (also a `ValueError`), with line and column.
    """
    refused: list[str] = []

    def parse_float(num: str) -> float | _Refused:
        value = float(num)
        if math.isfinite(value):
            return value
        refused.append(num)
        return _Refused(num)

    def parse_constant(name: str) -> _Refused:
        refused.append(name)
        return _Refused(name)

    try:
        value = json.loads(text, parse_float=parse_float, parse_constant=parse_constant)
    except RecursionError:
        raise StrictJSONError(f"nested too deeply (more than {max_depth} levels)") from None
    if refused or _opened(text) >= max_depth:  # the walk only when it can find something
        check(value, max_depth)
    return value


def _opened(text: str | bytes) -> int:
    if isinstance(text, bytes):
        return text.count(b"[") + text.count(b"{")
    return text.count("[") + text.count("{")


def _text(s: str) -> str:
    """``s`` with code points UTF-8 cannot hold (lone surrogates) written as `\\udcff`."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")
    return s


def safe(value: Any, _depth: int = 0) -> Any:
    """A copy that strict JSON can hold: non-finite numbers become null, unencodable text
    is escaped, other objects become their `str()`, nesting past `MAX_DEPTH` a note."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _text(value)
    if _depth >= MAX_DEPTH:
        return f"…nested more than {MAX_DEPTH} levels"
    if isinstance(value, dict):
        return {_text(str(k)): safe(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [safe(v, _depth + 1) for v in value]
    return _text(str(value))


def dumps(value: Any, **kwargs: Any) -> str:
    """`json.dumps` that only ever writes strict JSON encodable as UTF-8 (see `safe`)."""
    kwargs.setdefault("ensure_ascii", False)
    try:
        text = json.dumps(value, allow_nan=False, **kwargs)
        text.encode("utf-8")
        return text
    except (ValueError, TypeError, RecursionError, UnicodeEncodeError):
        return json.dumps(safe(value), allow_nan=False, **kwargs)
