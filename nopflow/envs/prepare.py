"""Before a run: lock and build the environment of every script that declares packages.

`prepare_environments` is what `nopflow run` and the editor call between compiling and
starting the run: it reads each node's PEP 723 header (through the block's
`script_packages`), takes the versions from the workflow's lock (resolving and writing it
where the header changed), builds missing environments and returns header key →
interpreter for `Run(environments=…)`. Every problem is reported at once, naming the node
and the package; the run then does not start.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.specifiers import SpecifierSet

from nopflow.envs import store, uvcli
from nopflow.errors import NopflowError
from nopflow.model.lockfile import LockEntry, WorkflowLock, load_lock, lock_path, save_lock
from nopflow.model.script_meta import ScriptMeta, ScriptMetaError

Progress = Callable[[str], None]


class EnvironmentError_(NopflowError):
    """Environments could not be prepared; ``problems`` has one line per node and cause."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Header:
    """One distinct header and the nodes that declare it."""

    meta: ScriptMeta
    nodes: list[str] = field(default_factory=list)

    def who(self) -> str:
        return ("node " if len(self.nodes) == 1 else "nodes ") + ", ".join(self.nodes)


def headers_of(plan: object, project_dir: Path | None) -> tuple[dict[str, Header], list[str]]:
    """The distinct headers of the plan's enabled nodes, and unusable-header problems."""
    found: dict[str, Header] = {}
    problems: list[str] = []
    for nid, cn in getattr(plan, "nodes", {}).items():
        if getattr(cn.node, "disabled", False):
            continue
        try:
            meta = cn.block.script_packages(cn.config, project_dir)
        except ScriptMetaError as exc:
            problems.append(f"node {nid}: script header: {exc}")
            continue
        if meta is not None:
            found.setdefault(meta.key, Header(meta)).nodes.append(nid)
    return found, problems


def base_python(settings_python: str | None) -> str:
    """The interpreter environments are made from: settings.python, else nopflow's own."""
    if settings_python:
        return settings_python
    if getattr(sys, "frozen", False):
        raise NopflowError("scripts that declare packages need a Python interpreter: set "
                           "the workflow's settings.python (the bundled app has none uv "
                           "can use)")
    return sys.executable


def python_version(python: str) -> str:
    """`major.minor` of an interpreter (uv runs it too, to make the venv: SECURITY.md)."""
    if python == sys.executable:
        return f"{sys.version_info[0]}.{sys.version_info[1]}"
    try:
        proc = subprocess.run([python, "-I", "-c", "import sys; print('%d.%d' % "
                               "sys.version_info[:2])"], capture_output=True, text=True,
                              timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        raise NopflowError(f"settings.python {python} does not run: {exc}") from None
    return proc.stdout.strip()


def _package_named(message: str, meta: ScriptMeta) -> str:
    """The declared package uv's message is about, for the error's first words."""
    low = message.lower()
    hits = [n for n in meta.names() if n in low or n.replace("-", "_") in low]
    return ", ".join(hits) if hits else meta.describe()


def _resolve(header: Header, python: str) -> LockEntry:
    version = python_version(python)
    requires = header.meta.requires_python
    if requires and version not in SpecifierSet(requires):
        raise NopflowError(f"{header.who()}: the script needs Python {requires}, the "
                           f"interpreter is {version}: set settings.python to a matching one")
    try:
        lines = uvcli.compile_lock(header.meta.dependencies, python)
    except uvcli.UvError as exc:
        raise NopflowError(f"{header.who()}: package {_package_named(str(exc), header.meta)}"
                           f" could not be resolved: {exc}") from None
    return LockEntry(header.meta.dependencies, requires, version, tuple(lines))


def check_lock(plan: object, workflow_file: str | os.PathLike[str],
               project_dir: Path | None) -> list[str]:
    """`validate`: problems where an existing lock no longer matches the headers."""
    path = lock_path(workflow_file)
    try:
        lock = load_lock(path)
    except NopflowError as exc:
        return [str(exc)]
    if lock is None:
        return []
    headers, _bad = headers_of(plan, project_dir)
    return [f"{h.who()}: {path.name} has no entry for its packages ({h.meta.describe()}): "
            f"run `nopflow lock {workflow_file}`"
            for key, h in headers.items()
            if key not in lock.entries or not lock.entries[key].matches(h.meta)]


def lock_workflow(plan: object, workflow_file: str | os.PathLike[str],
                  settings_python: str | None, project_dir: Path | None,
                  progress: Progress = lambda _line: None) -> WorkflowLock:
    """`nopflow lock`: resolve every header afresh (newest matching versions), drop entries
    no node uses, and write the lock. Raises `EnvironmentError_` listing every problem."""
    headers, problems = headers_of(plan, project_dir)
    lock = WorkflowLock()
    python = base_python(settings_python) if headers else ""
    for key, header in headers.items():
        progress(f"resolving {header.meta.describe()} ({header.who()}) …")
        try:
            lock.entries[key] = _resolve(header, python)
        except NopflowError as exc:
            problems.append(str(exc))
    if problems:
        raise EnvironmentError_(problems)
    save_lock(lock, lock_path(workflow_file))
    return lock


def prepare_environments(plan: object, workflow_file: str | os.PathLike[str] | None,
                         settings_python: str | None, project_dir: Path | None,
                         progress: Progress = lambda _line: None) -> dict[str, str]:
    """Header key → interpreter for every header of the plan, built now where missing.

    Locked versions are used when the lock matches; a changed header is resolved and the
    lock rewritten (an unsaved workflow keeps its resolution in memory only).
    """
    headers, problems = headers_of(plan, project_dir)
    if problems:
        raise EnvironmentError_(problems)
    if not headers:
        return {}
    try:
        python = base_python(settings_python)
        path = lock_path(workflow_file) if workflow_file is not None else None
        lock = (load_lock(path) if path is not None else None) or WorkflowLock()
    except NopflowError as exc:
        raise EnvironmentError_([str(exc)]) from None
    changed = False
    found: dict[str, str] = {}
    for key, header in headers.items():
        entry = lock.entries.get(key)
        if entry is None or not entry.matches(header.meta):
            progress(f"resolving {header.meta.describe()} ({header.who()}) …")
            try:
                entry = _resolve(header, python)
            except NopflowError as exc:
                problems.append(str(exc))
                continue
            lock.entries[key] = entry
            changed = True
        ekey = store.env_key(entry, python)
        exe = store.ready(ekey)
        if exe is None:
            progress(f"building environment {ekey[:8]} ({', '.join(entry.pins())}) for "
                     f"{header.who()} …")
            t0 = time.monotonic()
            try:
                exe = store.build(ekey, entry, python)
            except (uvcli.UvError, OSError) as exc:
                problems.append(f"{header.who()}: installing package "
                                f"{_package_named(str(exc), header.meta)} failed: {exc}")
                continue
            progress(f"environment {ekey[:8]} ready in {time.monotonic() - t0:.1f}s")
        store.touch(ekey)
        found[key] = str(exe)
    if changed and path is not None and not problems:
        try:
            save_lock(lock, path)
        except OSError as exc:  # a read-only folder: run anyway, the lock waits
            progress(f"warning: the lock could not be written: {path}: {exc.strerror or exc}")
    if problems:
        raise EnvironmentError_(problems)
    if changed:
        store.prune(keep={store.env_key(lock.entries[k], python) for k in found})
    return found
