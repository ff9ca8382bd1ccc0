"""Which interpreter runs a script, and whether a user-chosen one is usable.

Maps ``ScriptSpec.python`` (None = the app's own Python, or the frozen app itself) to the
argv that starts the stdlib-only bootstrap, and validates user-chosen interpreters.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys

from nopflow.sandbox import bootstrap
from nopflow.sandbox.paths import SandboxError
from nopflow.sandbox.procs import _base_env

__all__ = ["avalidate_interpreter", "validate_interpreter"]


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _interpreter_cmd(python: str | None) -> tuple[str, list[str]]:
    """Return (cache key, argv prefix up to the mode flag) for an interpreter choice."""
    frozen = bool(getattr(sys, "frozen", False))
    if python is None or _same_file(python, sys.executable):
        if frozen:
            return "", [sys.executable]
        return "", [sys.executable, "-I", "-X", "utf8", bootstrap.BOOTSTRAP_FILE]
    path = shutil.which(python) if os.sep not in python else python
    if not path or not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise SandboxError(f"Python interpreter not found: {python}")
    return os.path.realpath(path), [path, "-I", "-X", "utf8", bootstrap.BOOTSTRAP_FILE]


def _mode_flag(prefix: list[str], mode: str) -> str:
    frozen = bool(getattr(sys, "frozen", False)) and prefix == [sys.executable]
    return f"--sandbox-{mode}" if frozen else f"--{mode}"


def validate_interpreter(path: str) -> str | None:
    """Check that `path` is a usable Python (>= 3.8) for script blocks.

    Returns None when fine, else a one-line message.  Blocking (runs the interpreter):
    call from the CLI / validate step, or use `avalidate_interpreter` on the loop.
    """
    try:
        _key, prefix = _interpreter_cmd(path)
    except SandboxError as exc:
        return str(exc)
    try:
        proc = subprocess.run(
            [prefix[0], "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=15,
            env=_base_env(),
            stdin=subprocess.DEVNULL,
            # no console window flashing up from a GUI app on Windows
            creationflags=0x08000000 if sys.platform == "win32" else 0,  # CREATE_NO_WINDOW
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"Python interpreter {path} does not run: {exc}"
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or [""])[-1]
        return f"Python interpreter {path} failed (exit code {proc.returncode}): {tail}"
    try:
        major, minor = (int(x) for x in proc.stdout.strip().split("."))
    except ValueError:
        return f"{path} does not look like a Python interpreter"
    if (major, minor) < (3, 8):
        return f"Python interpreter {path} is {major}.{minor}; script blocks need 3.8 or newer"
    return None


async def avalidate_interpreter(path: str) -> str | None:
    """`validate_interpreter` off the event loop thread."""
    return await asyncio.get_running_loop().run_in_executor(None, validate_interpreter, path)
