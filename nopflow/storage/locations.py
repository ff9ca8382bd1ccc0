"""Where nopflow keeps its files: data dir (history, autosave, scratch projects), config dir.

`NOPFLOW_DATA_DIR` overrides the platform's data directory (docs/history.md); tests and
portable installs use it.
"""

from __future__ import annotations

import hashlib
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


_KEPT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
#: Longest encoded id used whole as a file name (names beyond get a hash, see `id_file_name`).
MAX_NAME = 180


def id_file_name(workflow_id: str) -> str:
    """A file name for an id, distinct for distinct ids: `report.v1` → `report~2Ev1`.

    Lower-case letters, digits, ``-`` and ``_`` are kept; every other UTF-8 byte becomes
    ``~XX`` (so ids differing only in punctuation or case never share a file, even on a
    case-insensitive disk). `id_from_file_name` reverses it. Very long ids end in a hash.
    """
    out = []
    for ch in workflow_id:
        if ch in _KEPT:
            out.append(ch)
        else:
            out.extend(f"~{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
    name = "".join(out) or "~"
    if len(name) > MAX_NAME:
        digest = hashlib.sha256(workflow_id.encode("utf-8", "surrogatepass")).hexdigest()
        name = f"{name[:MAX_NAME - 66]}~~{digest}"
    return name


def id_from_file_name(name: str) -> str | None:
    """The id `id_file_name` encoded, or None when ``name`` is not such a name (or hashed)."""
    if name == "~":
        return ""
    if "~~" in name:
        return None
    raw = bytearray()
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == "~":
            try:
                raw.append(int(name[i + 1:i + 3], 16))
            except ValueError:
                return None
            i += 3
        elif ch in _KEPT:
            raw.extend(ch.encode())
            i += 1
        else:
            return None
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None


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
