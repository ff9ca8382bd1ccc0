"""`nopflow schedule install|uninstall`: start `nopflow scheduler` at login (docs/triggers.md).

Linux: a systemd user unit; macOS: a launchd agent; Windows: a Task Scheduler task. The
command is this interpreter running `-m nopflow scheduler`, with the data and config dir
overrides in force now, so the scheduler at login sees the same enabled set and history.
"""

from __future__ import annotations

import os
import plistlib
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from nopflow.errors import NopflowError

NAME = "nopflow-scheduler"
LABEL = "org.nopflow.scheduler"
_PASSED_ON = ("NOPFLOW_DATA_DIR", "NOPFLOW_CONFIG_DIR")


def command() -> list[str]:
    return [sys.executable, "-m", "nopflow", "scheduler"]


def _environment() -> dict[str, str]:
    return {k: os.environ[k] for k in _PASSED_ON if os.environ.get(k)}


# ---------------------------------------------------------------------- systemd


def systemd_unit_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user" / f"{NAME}.service"


def systemd_unit() -> str:
    env = "".join(f'Environment="{k}={v}"\n' for k, v in _environment().items())
    return (
        "[Unit]\n"
        "Description=nopflow scheduler (runs the triggers of enabled workflows)\n"
        "After=default.target\n\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={shlex.join(command())}\n"
        f"{env}"
        "Restart=on-failure\n"
        "RestartSec=5\n"
        "KillSignal=SIGTERM\n"
        "TimeoutStopSec=30\n\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


# ---------------------------------------------------------------------- launchd


def launchd_plist_path() -> Path:
    return Path.home() / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def launchd_plist() -> bytes:
    from nopflow.storage.locations import data_dir

    log = str(data_dir() / "scheduler.log")
    doc = {"Label": LABEL, "ProgramArguments": command(), "RunAtLoad": True,
           "KeepAlive": {"SuccessfulExit": False}, "StandardErrorPath": log,
           "StandardOutPath": log, "EnvironmentVariables": _environment()}
    return plistlib.dumps(doc)


# ---------------------------------------------------------------------- Task Scheduler


def schtasks_create() -> list[str]:
    return ["schtasks", "/Create", "/F", "/TN", NAME, "/SC", "ONLOGON",
            "/TR", subprocess.list2cmdline(command())]


# ---------------------------------------------------------------------- install


def _run(args: list[str]) -> tuple[bool, str]:
    if shutil.which(args[0]) is None:
        return False, f"{args[0]} not found"
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return proc.returncode == 0, (proc.stderr or proc.stdout).strip()


def _write(path: Path, data: bytes) -> None:
    from nopflow.model.fileio import atomic_write_bytes

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise NopflowError(f"cannot write {path}: {exc.strerror or exc}") from None


def install() -> str:
    """Register the scheduler to start at login; returns what was done and how to check it."""
    if sys.platform == "darwin":
        path = launchd_plist_path()
        _write(path, launchd_plist())
        ok, why = _run(["launchctl", "load", "-w", str(path)])
        started = "loaded" if ok else f"not loaded now ({why}); it loads at the next login"
        return (f"wrote the launchd agent {path}: {started}\n"
                f"check it with: launchctl list {LABEL}")
    if sys.platform == "win32":
        ok, why = _run(schtasks_create())
        if not ok:
            raise NopflowError(f"Task Scheduler refused the task: {why}")
        return (f"created the Task Scheduler task {NAME} (at logon)\n"
                f"check it with: schtasks /Query /TN {NAME}")
    path = systemd_unit_path()
    _write(path, systemd_unit().encode())
    ok, why = _run(["systemctl", "--user", "daemon-reload"])
    if ok:
        ok, why = _run(["systemctl", "--user", "enable", "--now", f"{NAME}.service"])
    started = "enabled and started" if ok else (
        f"not enabled now ({why}); run: systemctl --user enable --now {NAME}.service")
    return (f"wrote the systemd user unit {path}: {started}\n"
            f"check it with: systemctl --user status {NAME}  (log: journalctl --user -u "
            f"{NAME})")


def uninstall() -> str:
    """Undo `install`; returns what was removed."""
    if sys.platform == "darwin":
        path = launchd_plist_path()
        _run(["launchctl", "unload", "-w", str(path)])
    elif sys.platform == "win32":
        ok, why = _run(["schtasks", "/Delete", "/F", "/TN", NAME])
        return f"removed the Task Scheduler task {NAME}" if ok else f"nothing removed: {why}"
    else:
        path = systemd_unit_path()
        _run(["systemctl", "--user", "disable", "--now", f"{NAME}.service"])
    if not path.exists():
        return f"nothing to remove: {path} does not exist"
    try:
        path.unlink()
    except OSError as exc:
        raise NopflowError(f"cannot remove {path}: {exc.strerror or exc}") from None
    if sys.platform not in ("darwin", "win32"):
        _run(["systemctl", "--user", "daemon-reload"])
    return f"removed {path}"
