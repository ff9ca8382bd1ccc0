"""The uv commands nopflow runs: resolve a header to a lock, make a venv, install a lock.

uv (on PyPI as ``uv``, found with ``uv.find_uv_bin()``) does the resolving and installing;
this module only builds its command lines and turns its failures into one readable line.
Wheels only (``--no-build``): no package code runs while an environment is built.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from nopflow.errors import NopflowError

#: how long one uv step may take before it is given up (a stuck index, a huge download)
TIMEOUT_S = 900.0
_BOX = re.compile(r"^[\s×╰─▶│├┬┴╭╮╯┤:]+")


class UvError(NopflowError):
    """uv failed; the message is uv's own reason on one line."""

    def __init__(self, message: str, *, offline_miss: bool = False) -> None:
        super().__init__(message)
        self.offline_miss = offline_miss


def uv_bin() -> str:
    """The uv binary installed with nopflow (the ``uv`` dependency)."""
    try:
        import uv  # the binary's locator; imported only when an environment is needed
    except ImportError:
        raise UvError("uv is not installed: pip install uv") from None
    try:
        return uv.find_uv_bin()
    except FileNotFoundError:
        raise UvError("the uv binary is missing from its package: pip install --force-"
                      "reinstall uv") from None


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env.update(NO_COLOR="1", UV_NO_PROGRESS="1", UV_PYTHON_DOWNLOADS="never")
    return env


def reason(stderr: str) -> str:
    """uv's error output as one line (box-drawing and hints dropped)."""
    lines = []
    for raw in stderr.splitlines():
        text = _BOX.sub("", raw).strip()
        if not text or text.startswith(("hint:", "help:", "warning:")):
            continue
        lines.append(text.removeprefix("error: ").removeprefix("Caused by: ")
                     .removeprefix("cause: "))
    text = "; ".join(lines) or "uv failed without saying why"
    if any(w in text for w in ("tcp connect error", "dns error", "Connection refused",
                               "Network is unreachable")):
        text = "the package index could not be reached (no network?): " + text
    return text


def run_uv(args: Sequence[str], *, stdin: str | None = None, cwd: Path | None = None) -> str:
    """Run uv with `args`; its stdout, or `UvError` with its reason."""
    argv = [uv_bin(), *args]
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                              timeout=TIMEOUT_S, env=_env(), cwd=cwd,
                              stdin=None if stdin is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise UvError(f"uv took longer than {TIMEOUT_S:.0f} s and was stopped") from None
    except OSError as exc:
        raise UvError(f"uv could not be started: {exc}") from None
    if proc.returncode != 0:
        text = reason(proc.stderr)
        miss = "--offline" in args and ("offline" in text.lower() or "cache" in text.lower())
        raise UvError(text, offline_miss=miss)
    return proc.stdout


def compile_lock(dependencies: Sequence[str], python: str) -> list[str]:
    """Resolve `dependencies` for `python` to pinned lines with hashes (every platform)."""
    out = run_uv(["pip", "compile", "-", "--universal", "--generate-hashes", "--no-header",
                  "--no-annotate", "--no-build", "--quiet", "--python", python],
                 stdin="".join(d + "\n" for d in dependencies))
    return [line.rstrip() for line in out.splitlines() if line.strip()]


def make_venv(path: Path, python: str) -> None:
    """An empty relocatable venv at `path` on interpreter `python`."""
    run_uv(["venv", "--quiet", "--relocatable", "--no-project", "--python", python, str(path)])


def install(env_python: Path, requirements: Path, *, offline: bool) -> None:
    """Make the venv hold exactly the locked files (hashes checked, no builds)."""
    args = ["pip", "sync", "--quiet", "--require-hashes", "--no-build", "--python",
            str(env_python), str(requirements)]
    run_uv([*args, "--offline"] if offline else args)
