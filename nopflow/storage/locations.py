"""Where nopflow keeps its files: data dir (history, autosave, scratch projects), config dir.

`NOPFLOW_DATA_DIR` overrides the platform's data directory (DESIGN.md §7); tests and
portable installs use it.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from nopflow.errors import NopflowError

APP = "nopflow"


def _ensure_dir(path: Path, what: str) -> Path:
    """Create a folder, or say clearly why it cannot be (a file in the way, no permission)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NopflowError(f"{what} {path} is a file, not a folder") from None
    except OSError as exc:
        raise NopflowError(f"cannot create {what} {path}: {exc.strerror or exc}") from None
    return path


def safe_name(text: str, fallback: str) -> str:
    """``text`` kept to letters, digits, ``-`` and ``_`` (a safe file name), else ``fallback``."""
    return "".join(c for c in text if c.isalnum() or c in "-_") or fallback


def data_dir() -> Path:
    """The data directory (created on first use)."""
    override = os.environ.get("NOPFLOW_DATA_DIR")
    path = Path(override).expanduser() if override else Path(platformdirs.user_data_dir(APP))
    what = "the data folder (NOPFLOW_DATA_DIR)" if override else "the data folder"
    return _ensure_dir(path, what)


def history_dir() -> Path:
    """Run history files: `history/<workflow-id>.json`."""
    return _ensure_dir(data_dir() / "history", "the history folder")


def autosave_dir() -> Path:
    """Crash-recovery copies of unsaved editor documents."""
    return _ensure_dir(data_dir() / "autosave", "the autosave folder")


def scratch_project_dir(workflow_id: str) -> Path:
    """The project folder of an unsaved workflow (scripts run here until it is saved)."""
    path = data_dir() / "scratch" / safe_name(workflow_id, "unsaved")
    path.mkdir(parents=True, exist_ok=True)
    return path


def workflow_state_dir(workflow_id: str) -> Path:
    """What blocks keep for one workflow across runs (pinned SSH host keys)."""
    return _ensure_dir(data_dir() / "state" / safe_name(workflow_id, "unsaved"),
                       "the workflow state folder")


def config_dir() -> Path:
    """User settings (recent files, window layout live in Qt's QSettings)."""
    override = os.environ.get("NOPFLOW_CONFIG_DIR")
    path = Path(override) if override else Path(platformdirs.user_config_dir(APP))
    path.mkdir(parents=True, exist_ok=True)
    return path
