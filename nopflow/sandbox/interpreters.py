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

__all__ = ["avalidate_interpreter", "interpreter_problem", "validate_interpreter"]


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _venv_of(exe: str) -> str | None:
    """The venv an interpreter path belongs to (``<root>/bin/python`` + pyvenv.cfg)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(exe)))
    return root if os.path.isfile(os.path.join(root, "pyvenv.cfg")) else None


def _is_own(python: str) -> bool:
    """`python` is the app's own interpreter: the same binary *and* the same venv (a venv's
    bin/python is a symlink to the base binary, but has other packages)."""
    return _same_file(python, sys.executable) and _venv_of(python) == _venv_of(sys.executable)


def frozen_child_exe() -> str:
    """The bundle's executable that runs sandbox children.

    On Windows the Start menu launches the windowed `nopflow-gui.exe`, which has no
    console and so no usable standard streams for a child; the console `nopflow.exe`
    beside it is the same program with them. Elsewhere the running executable is right.
    """
    exe = sys.executable
    if sys.platform == "win32":
        console = os.path.join(os.path.dirname(exe), "nopflow.exe")
        if os.path.normcase(os.path.basename(exe)) != "nopflow.exe" and os.path.isfile(console):
            return console
    return exe


def _bootstrap_argv(python: str) -> list[str]:
    """argv that runs the bootstrap file in `python` (isolated, UTF-8 mode)."""
    return [python, "-I", "-X", "utf8", bootstrap.BOOTSTRAP_FILE]


def _trusted_prefix() -> list[str]:
    """argv that runs the bootstrap in the app's own (trusted) interpreter."""
    if getattr(sys, "frozen", False):
        return [frozen_child_exe()]
    return _bootstrap_argv(sys.executable)


def _launcher(path: str) -> list[str]:
    """argv prefix that starts the user-chosen interpreter `path` only once confined.

    The interpreter may be any executable — a shell script, say — and would run before
    any of our layers; so on POSIX our trusted Python runs ``bootstrap.py --launch``,
    confines itself and then execs `path` (see ``bootstrap.launch_main``).  Windows has
    no exec that keeps a process (and no Landlock): there the interpreter is started
    directly, inside the run's Job Object.
    """
    if sys.platform == "win32":
        return _bootstrap_argv(path)
    frozen = bool(getattr(sys, "frozen", False))
    return [*_trusted_prefix(), "--sandbox-launch" if frozen else "--launch", path]


def _find(python: str) -> str:
    bare = os.sep not in python and not (os.altsep and os.altsep in python)
    path = shutil.which(python) if bare else python
    if not path or not os.path.isfile(path) or not os.access(path, os.X_OK):
        if bare:  # a name such as "python3": looked up on PATH, where it is not
            raise SandboxError(
                f"Python interpreter not found: {python} is not on PATH"
                " (give its full path, e.g. /usr/bin/python3)"
            )
        raise SandboxError(f"Python interpreter not found or not executable: {python}")
    return os.path.abspath(path)


def _interpreter_cmd(python: str | None) -> tuple[str, list[str]]:
    """Return (cache key, argv prefix up to the mode flag) for an interpreter choice.

    The key is "" for the app's own interpreter (zygote-capable), the venv's path for
    `own_binary_venv` ones (zygote-capable too); any other user-chosen one's prefix goes
    through the confining launcher and is run as pool/spawn workers.
    """
    if python is None or _is_own(python):
        return "", _trusted_prefix()
    path = _find(python)
    if own_binary_venv(path):  # a zygote of its own, started without site (see there)
        return path, [path, "-I", "-S", "-X", "utf8", bootstrap.BOOTSTRAP_FILE]
    # a venv's bin/python is a symlink to its base: the resolved path would give every
    # venv on one base the same workers, with another venv's packages
    key = path if _venv_of(path) else os.path.realpath(path)
    return key, _launcher(path)


def own_binary_venv(path: str) -> bool:
    """`path` is another venv of the app's own interpreter binary (a script-package
    environment): only its site-packages differ from what the app trusts.

    Such a venv gets a zygote like the app's own interpreter, started with ``-S`` so no
    ``.pth`` file or ``sitecustomize`` of the venv runs unconfined; each job runs
    ``site.main()`` after it is confined (bootstrap.run_job).
    """
    if sys.platform == "win32" or getattr(sys, "frozen", False) or not hasattr(os, "fork"):
        return False
    return _venv_of(path) is not None and _same_file(path, sys.executable)


def _mode_flag(prefix: list[str], mode: str) -> str:
    frozen = bool(getattr(sys, "frozen", False)) and prefix == [frozen_child_exe()]
    return f"--sandbox-{mode}" if frozen else f"--{mode}"


def validate_interpreter(path: str) -> str | None:
    """Check that `path` is a usable Python (>= 3.8) for script blocks.

    Returns None when fine, else a one-line message.  Blocking (runs the interpreter):
    call from the CLI / validate step, or use `avalidate_interpreter` on the loop.
    """
    try:
        exe = _find(path)
    except SandboxError as exc:
        return str(exc)
    try:
        if sys.platform == "win32" or _is_own(exe):
            argv = [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
        else:  # through the launcher: the interpreter never runs unconfined
            argv = [*_launcher(exe), "--check"]
        proc = subprocess.run(
            argv,
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
        said = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        how = (
            f"was killed by signal {-proc.returncode}"
            if proc.returncode < 0
            else f"failed (exit code {proc.returncode})"
        )
        detail = f": {said[-1].strip()}" if said else ", printing nothing: is it a Python?"
        return f"Python interpreter {path} {how} when asked for its version{detail}"
    try:
        major, minor = (int(x) for x in proc.stdout.strip().split("."))
    except ValueError:
        return f"{path} does not look like a Python interpreter (it did not print its version)"
    if (major, minor) < (3, 8):
        return f"Python interpreter {path} is {major}.{minor}; script blocks need 3.8 or newer"
    return None


_checked: dict[tuple[str, int, int], str | None] = {}


def interpreter_problem(path: str) -> str | None:
    """`validate_interpreter`, run once per interpreter file (its path, size and mtime):
    `nopflow validate`, the block check and every run share the one confined check."""
    try:
        exe = _find(path)
        st = os.stat(exe)
    except (SandboxError, OSError) as exc:
        return str(exc)
    key = (os.path.realpath(exe), st.st_size, st.st_mtime_ns)
    if key not in _checked:
        _checked[key] = validate_interpreter(path)
    return _checked[key]


async def avalidate_interpreter(path: str) -> str | None:
    """`interpreter_problem` off the event loop thread."""
    return await asyncio.get_running_loop().run_in_executor(None, interpreter_problem, path)
