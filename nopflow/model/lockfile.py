"""The workflow's package lock: ``NAME.nopflow.lock`` beside ``NAME.nopflow.json``.

One entry per distinct PEP 723 header (keyed by `ScriptMeta.key`) holding the exact
versions and hashes uv resolved, so a run next month or on another machine installs the
same files (docs/script-packages.md). Written atomically; a bad lock is an error naming the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nopflow.errors import NopflowError
from nopflow.model.fileio import atomic_write_text
from nopflow.model.script_meta import ScriptMeta

FORMAT = "nopflow/lock"
VERSION = 1


class LockFileError(NopflowError):
    """A lock file that cannot be read; the message names the file and what to do."""


@dataclass(frozen=True, slots=True)
class LockEntry:
    """What one header resolved to: pinned requirement lines (with hashes) for uv."""

    dependencies: tuple[str, ...]
    requires_python: str | None
    python: str  # the Python version the resolution was made for ("3.11")
    requirements: tuple[str, ...]

    def matches(self, meta: ScriptMeta) -> bool:
        return (self.dependencies, self.requires_python) == (meta.dependencies,
                                                              meta.requires_python)

    def requirements_text(self) -> str:
        return "".join(line + "\n" for line in self.requirements)

    def pins(self) -> list[str]:
        """``name==version`` of every locked package, for people (the Packages hint)."""
        return [line.split(" ", 1)[0].rstrip("\\").strip() for line in self.requirements
                if line and not line[0].isspace() and not line.startswith("#")]


@dataclass(slots=True)
class WorkflowLock:
    """Every locked environment of one workflow, by header key."""

    entries: dict[str, LockEntry] = field(default_factory=dict)

    def to_json(self) -> str:
        doc = {"format": FORMAT, "version": VERSION, "environments": {
            key: {"dependencies": list(e.dependencies), "requires-python": e.requires_python,
                  "python": e.python, "requirements": list(e.requirements)}
            for key, e in sorted(self.entries.items())}}
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def lock_path(workflow_file: str | os.PathLike[str]) -> Path:
    """``x.nopflow.json`` → ``x.nopflow.lock`` (any other name: ``name.lock`` beside it)."""
    path = Path(workflow_file)
    name = path.name.removesuffix(".json") if path.name.endswith(".json") else path.name
    return path.with_name(name + ".lock")


def _entry(path: Path, key: str, raw: Any) -> LockEntry:
    where = f"{path}: environments.{key}"
    if not isinstance(raw, dict):
        raise LockFileError(f"{where}: expected an object; run `nopflow lock` to rewrite it")
    deps, reqs = raw.get("dependencies"), raw.get("requirements")
    if not (isinstance(deps, list) and isinstance(reqs, list)
            and all(isinstance(x, str) for x in [*deps, *reqs])):
        raise LockFileError(f"{where}: 'dependencies' and 'requirements' must be lists of "
                            "strings; run `nopflow lock` to rewrite it")
    requires = raw.get("requires-python")
    return LockEntry(tuple(deps), requires if isinstance(requires, str) else None,
                     str(raw.get("python", "")), tuple(reqs))


def load_lock(path: str | os.PathLike[str]) -> WorkflowLock | None:
    """The lock at `path`, None when there is none; `LockFileError` when unreadable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise LockFileError(f"{path}: cannot read the lock: {exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LockFileError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg}); "
                            "run `nopflow lock` to rewrite it") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise LockFileError(f"{path}: not a nopflow lock (format {FORMAT!r} expected)")
    if doc.get("version") != VERSION:
        raise LockFileError(f"{path}: lock version {doc.get('version')!r} is not supported "
                            f"(this nopflow reads {VERSION})")
    envs = doc.get("environments", {})
    if not isinstance(envs, dict):
        raise LockFileError(f"{path}: 'environments' must be an object")
    return WorkflowLock({str(k): _entry(path, str(k), v) for k, v in envs.items()})


def save_lock(lock: WorkflowLock, path: str | os.PathLike[str]) -> None:
    """Write the lock atomically (temp file, fsync, rename)."""
    atomic_write_text(path, lock.to_json())
