"""The one redactor for everything that leaves a run (docs/credentials.md).

History, the output store, log lines, events (`--events`), the `--json` result, the
editor's panels and exported runs all pass their data through a run's `Redactor`, so they
agree on what is hidden. Rules:

* A value, object key or whole text equal to a secret becomes ``"***"`` (any length).
* Inside longer text only secrets of `MIN_SUBSTRING` or more characters are replaced:
  a short secret (``pin=1``) must not turn "took 100 ms" into "took ***00 ms".
* A number given as a secret matches its numeric forms (``1234``, ``1234.0``) and its
  text; text that holds a number ("1234") also hides that number. A number whose text
  holds a long secret is replaced whole (a number cannot be cut).
* Escaped forms of a secret (JSON ``\\"``, ``\\uXXXX``, Python ``repr``) are replaced too,
  so a script that prints its inputs as JSON or a traceback that shows a repr leaks nothing.

Matching is one compiled regex alternation (longest secret first) per text; a redactor
without secrets returns its input untouched, so runs without secrets pay nothing.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MIN_SUBSTRING", "REDACTED", "Redactor", "is_secret_name", "run_secrets"]

REDACTED = "***"
#: Secrets at least this long are also replaced inside longer text.
MIN_SUBSTRING = 4

_SECRET_NAME = re.compile("KEY|TOKEN|SECRET|PASSWORD", re.IGNORECASE)
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_CONTAINERS = (dict, list, tuple)


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name marks its value as secret (§11)."""
    return bool(_SECRET_NAME.search(name))


def run_secrets(
    secret_inputs: Iterable[str], inputs: Mapping[str, Any], env: Mapping[str, str]
) -> list[Any]:
    """The secret values of a run: its secret inputs and its secret-named `$env` values.

    (Credentials a run resolves are added with `Redactor.with_values`.)
    """
    values = [inputs[name] for name in secret_inputs if name in inputs]
    values.extend(value for name, value in env.items() if is_secret_name(name))
    return values


def _text_forms(text: str) -> set[str]:
    """The ways a text shows up in output: as is, JSON-escaped (both ways), repr-escaped,
    and the text it stands for when it reads as JSON escapes (what printing it as JSON gives)."""
    forms = {text, json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}
    forms.add(repr(text)[1:-1])
    if "\\" in text:
        try:
            forms.add(json.loads(f'"{text}"'))
        except ValueError:
            pass
    return forms


def _number_forms(number: int | float) -> set[str]:
    forms = {repr(number)}
    if isinstance(number, int):
        if abs(number) < 2**63:
            forms.add(repr(float(number)))
    elif number.is_integer() and abs(number) < 1e16:
        forms.add(str(int(number)))
    return forms


def _as_number(text: str) -> int | float | None:
    """The number a text holds when it is written as a JSON number (``"1234"`` → 1234)."""
    stripped = text.strip()
    if not _JSON_NUMBER.fullmatch(stripped):
        return None
    number = json.loads(stripped)
    return number if not isinstance(number, float) or math.isfinite(number) else None


class Redactor:
    """Hides a run's secret values in text and JSON-like values (see the module doc)."""

    __slots__ = ("_numbers", "_pattern", "_secrets", "_whole")

    def __init__(self, values: Iterable[Any] = ()) -> None:
        self._secrets: list[Any] = []
        self._whole: set[str] = set()
        self._numbers: set[int | float] = set()
        long: set[str] = set()
        stack = list(values)
        while stack:
            value = stack.pop()
            if value is None or isinstance(value, bool) or value == "":
                continue
            if isinstance(value, Mapping):
                stack.extend(value.values())
                continue
            if isinstance(value, (list, tuple, set, frozenset)):
                stack.extend(value)
                continue
            self._secrets.append(value)
            if isinstance(value, (int, float)):
                if isinstance(value, float) and not math.isfinite(value):
                    continue
                forms = _number_forms(value)
                self._numbers.add(value)
            else:
                text = str(value)
                forms = _text_forms(text)
                number = _as_number(text)
                if number is not None:
                    self._numbers.add(number)
                    forms |= _number_forms(number)
            forms.discard("")
            self._whole |= forms
            long.update(f for f in forms if len(f) >= MIN_SUBSTRING)
        self._pattern: re.Pattern[str] | None = None
        if long:
            alternatives = sorted(long, key=lambda s: (-len(s), s))
            self._pattern = re.compile("|".join(map(re.escape, alternatives)))

    def __bool__(self) -> bool:
        """Whether there is anything to hide (False: every call returns its input)."""
        return bool(self._whole)

    def with_values(self, values: Iterable[Any]) -> Redactor:
        """A redactor hiding these values as well (e.g. credentials resolved later)."""
        return Redactor([*self._secrets, *values])

    def joined(self, other: Redactor) -> Redactor:
        """A redactor hiding what either hides (a child run hides its parent's secrets)."""
        return self.with_values(other._secrets)

    # ------------------------------------------------------------------ text

    def text(self, text: str | None) -> str | None:
        """``text`` with every secret hidden (None stays None)."""
        if text is None or not self._whole:
            return text
        return self._sub(text)

    def _sub(self, text: str) -> str:
        if text in self._whole:
            return REDACTED
        pattern = self._pattern
        if pattern is None or pattern.search(text) is None:  # the common case: nothing to do
            return text
        text, count = pattern.subn(REDACTED, text)
        while count:  # a replacement can join its neighbours into another secret
            text, count = pattern.subn(REDACTED, text)
        return text

    # ------------------------------------------------------------------ values

    def value(self, value: Any) -> Any:
        """A copy of a JSON-like ``value`` with secrets hidden in keys, values and text.

        Without secrets the value itself is returned. Walks iteratively (no depth limit);
        tuples come back as lists; other objects are kept unless their text holds a secret.
        """
        if not self._whole:
            return value
        if not isinstance(value, _CONTAINERS):
            return self._leaf(value)
        holder: list[Any] = [None]
        stack: list[tuple[Any, Any, Any]] = [(value, holder, 0)]
        leaf = self._leaf
        while stack:
            src, parent, slot = stack.pop()
            if isinstance(src, dict):
                new_dict: dict[Any, Any] = {}
                parent[slot] = new_dict
                for k, v in src.items():
                    key = self._key(k, new_dict)
                    if isinstance(v, _CONTAINERS):
                        new_dict[key] = None
                        stack.append((v, new_dict, key))
                    else:
                        new_dict[key] = leaf(v)
            else:
                new_list: list[Any] = [None] * len(src)
                parent[slot] = new_list
                for i, v in enumerate(src):
                    if isinstance(v, _CONTAINERS):
                        stack.append((v, new_list, i))
                    else:
                        new_list[i] = leaf(v)
        return holder[0]

    def _leaf(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._sub(value)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            if value in self._numbers:
                return REDACTED
            pattern = self._pattern
            if pattern is None:
                return value
            try:
                text = repr(value)
            except ValueError:  # an int too long to print (sys.set_int_max_str_digits)
                return value
            return REDACTED if pattern.search(text) else value
        text = str(value)
        hidden = self._sub(text)
        return value if hidden == text else hidden

    def _key(self, key: Any, taken: dict[Any, Any]) -> Any:
        new = self._leaf(key)
        if new is key or new == key:
            return key
        if new in taken:  # two keys hidden to the same text: keep both entries
            n = 2
            while f"{new} ({n})" in taken:
                n += 1
            new = f"{new} ({n})"
        return new
