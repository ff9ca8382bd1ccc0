"""Turning how a script ended into the user-facing `ScriptResult` (docs/scripts.md).

The first line of `error` says what happened in the user's terms; the precedence is
cancel > timeout > output overflow > sandbox violation > uncaught exception > bootstrap
failure > signal > exit code > invalid JSON.  Pure logic, kept apart from process code.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
from collections import deque
from typing import Any

from nopflow.sandbox.procs import _Exit
from nopflow.sandbox.spec import ScriptResult, ScriptSpec


def _fmt_num(x: float) -> str:
    return f"{x:g}"


def _fmt_bytes(n: int) -> str:
    if n >= 2**20 and n % 2**20 == 0:
        return f"{n // 2**20} MiB"
    if n >= 2**10 and n % 2**10 == 0:
        return f"{n // 2**10} KiB"
    return f"{n} bytes"


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not allowed (JSON has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text} is out of range (JSON numbers must be finite)")
    return value


# A JSON string, unrolled so that a long string is one tight scan.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


class OutputTooLarge(ValueError):
    """More JSON values than a node's output may hold (its parsed-size bound)."""


def _count_values(data: bytes, bound: int) -> int:
    """At least the number of JSON values in `data` (scalars and containers), counted
    without parsing: commas and opening brackets outside strings.  C-speed counts;
    strings are only blanked out when the rough count is over `bound`."""
    rough = data.count(b",") + data.count(b"[") + data.count(b"{") + 1
    if rough <= bound:
        return rough
    bare = _STRING.sub(b'""', data)
    return bare.count(b",") + bare.count(b"[") + bare.count(b"{") + 1


def _parse_output(data: bytes, max_values: int = 2_000_000) -> object:
    """Strict JSON (Python's json would accept NaN/Infinity, which poison --json and
    history), bounded in parsed size: past `max_values` values nothing is built."""
    if not data.strip():
        return {}
    if _count_values(data, max_values) > max_values:
        raise OutputTooLarge(f"output has more than {max_values:,} JSON values")
    text = data.decode("utf-8").strip()
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if text.count("[") + text.count("{") >= MAX_OUTPUT_DEPTH and _depth(value) > MAX_OUTPUT_DEPTH:
        raise ValueError(f"nested too deeply (more than {MAX_OUTPUT_DEPTH} levels)")
    return value


#: Deepest output accepted: what the app does with a value (expressions, history) recurses.
MAX_OUTPUT_DEPTH = 200


def _depth(value: object) -> int:
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            level += 1
            deepest = max(deepest, level)
            stack.extend((v, level) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


async def build_result(
    spec: ScriptSpec,
    exit_: _Exit,
    duration: float,
    *,
    reason: str | None,
    violation: str | None,
    reports: list[dict[str, Any]],
    stderr_tail: deque[str],
    stdout: bytes | bytearray,
    cpu_s: int,
    loop: asyncio.AbstractEventLoop,
) -> ScriptResult:
    """The result of a finished job, from what its handle observed."""
    tail = "\n".join(stderr_tail)
    exc_info = next((r for r in reports if r.get("t") == "exception"), None)
    internal = next((r for r in reports if r.get("t") == "internal"), None)
    tb = exc_info.get("traceback") if exc_info else None

    def fail(msg: str, etype: str) -> ScriptResult:
        return ScriptResult(False, None, msg, etype, tb or None, tail, exit_.code, duration)

    if reason == "cancelled":
        return fail("cancelled", "Cancelled")
    if reason == "timeout":
        return fail(f"timed out after {_fmt_num(spec.timeout_s)} s", "Timeout")
    if reason == "overflow":
        return fail(f"output larger than {_fmt_bytes(spec.max_stdout_bytes)}", "OutputTooLarge")
    if violation:
        return fail(violation, "SandboxViolation")
    if exc_info is not None:
        etype = str(exc_info.get("type") or "Exception")
        if etype == "MemoryError":
            return fail(f"memory limit of {spec.memory_mb} MB exceeded", "MemoryError")
        msg = str(exc_info.get("message") or "")
        text = f"{etype}: {msg}" if msg else etype
        first, _, rest = text.partition("\n")
        line = exc_info.get("line")
        if line:
            first += f" (line {line})"
        elif exc_info.get("where"):
            first += f" ({exc_info['where']})"
        return fail(first + ("\n" + rest if rest else ""), etype)
    if internal is not None:
        return fail(f"sandbox bootstrap failed: {internal.get('message')}", "SandboxError")
    if exit_.signal is not None:
        sig = exit_.signal
        if sig == getattr(signal, "SIGXCPU", -1):
            return fail(f"CPU time limit of {cpu_s} s exceeded", "CPULimit")
        if sig == getattr(signal, "SIGXFSZ", -1):
            return fail("file size limit exceeded", "FileSizeLimit")
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return fail(f"killed by signal {name}", "Signal")
    if exit_.code is None:
        return fail("the sandbox supervisor process died", "SandboxError")
    if exit_.code != 0:
        last = next((ln.strip() for ln in reversed(stderr_tail) if ln.strip()), "")
        msg = f"exited with code {exit_.code}" + (f": {last}" if last else "")
        return fail(msg, "ExitCode")
    data = bytes(stdout)
    bound = spec.max_output_values
    try:
        if len(data) > 1 << 20:
            output = await loop.run_in_executor(None, _parse_output, data, bound)
        else:
            output = _parse_output(data, bound)
    except OutputTooLarge as exc:
        return fail(f"{exc} (the bound on a node's output)", "OutputTooLarge")
    except ValueError as exc:
        head = data[:80].decode("utf-8", "replace")
        return fail(
            f"output is not valid JSON: {exc} (stdout began with {head!r})", "InvalidOutput"
        )
    return ScriptResult(True, output, None, None, None, tail, exit_.code, duration)
