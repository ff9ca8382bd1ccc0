"""Facts a script's result depends on besides its config: the file's bytes, the interpreter.

Used for cache keys (docs/partial-runs.md). An interpreter's version is asked once per path and
file identity (``python -c``), so a key costs no process start after the first.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
from pathlib import Path


def file_digest(project_dir: Path | None, name: str) -> str:
    """sha256 of a project file's bytes; a file that cannot be read gives a marker."""
    path = Path(name) if project_dir is None else Path(project_dir) / name
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 16), b""):
                h.update(block)
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    return h.hexdigest()


def interpreter_identity(python: str | None) -> str:
    """The interpreter's path and version (None: the one nopflow runs on)."""
    if not python:
        return f"{sys.executable} {sys.version}"
    try:
        st = os.stat(python)
    except OSError:
        return f"{python} missing"
    return _version_of(python, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=32)
def _version_of(python: str, _mtime_ns: int, _size: int) -> str:
    try:
        out = subprocess.run([python, "-I", "-c", "import sys; print(sys.version)"],
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{python} unknown ({exc})"
    return f"{python} {out.stdout.strip()}"
