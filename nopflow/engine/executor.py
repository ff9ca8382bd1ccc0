"""The executor interface the engine defines, and the registry of executor kinds.

The runner owns scheduling, states, events, errors and retries; an executor only starts
script work and hands back a handle the runner can wait on, pause, resume and cancel.
Implementations live in ``nopflow.executors`` (docs/executors.md): the engine names them
only as entry-point references, so it never imports the sandbox or ``distributed``.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Protocol

from nopflow.engine.context import NodeFailure
from nopflow.model import ExecutorSettings

log = logging.getLogger(__name__)

#: the entry-point group third-party executors register in (value: an ExecutorKind)
ENTRY_POINT_GROUP = "nopflow.executors"


@dataclass(frozen=True, slots=True)
class ScriptRequest:
    """What a script block asks to run (mirrors the sandbox's ScriptSpec)."""

    project_dir: Path
    code: str | None
    script: str | None
    input: Any
    timeout_s: float
    memory_mb: int
    python: str | None
    env: Mapping[str, str] = field(default_factory=dict)
    temp_dir: Path | None = None
    label: str = ""


class ScriptOutcome(Protocol):
    """The sandbox's ScriptResult, as the engine reads it."""

    ok: bool
    output: Any
    error: str | None
    error_type: str | None
    traceback: str | None
    stderr_tail: str | None
    exit_code: int | None
    duration_s: float


class ScriptHandle(Protocol):
    """A running script: wait for it, suspend/continue it, or end it."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    async def cancel(self) -> None: ...

    async def wait(self) -> ScriptOutcome: ...


LineCallback = Callable[[str], None]


class Executor(Protocol):
    """Starts block work somewhere; knows nothing about graphs, states or retries.

    Lifecycle: made by its kind's factory (cheap, never blocks), ``start()`` warms up or
    connects (optional: the first script does it too), ``start_script()`` any number of
    times, ``aclose()`` once.
    """

    kind: str

    async def start(self) -> None:
        """Warm up / connect now; raises ExecutorUnavailable, remembered for later scripts."""
        ...

    def describe(self) -> str:
        """Where scripts run, for people: the CLI's progress, the editor's status bar."""
        ...

    async def start_script(self, request: ScriptRequest, on_line: LineCallback) -> ScriptHandle:
        """Start one script; stderr lines go to ``on_line`` as they come."""
        ...

    async def aclose(self) -> None:
        """End everything this executor started (children, connections, clusters)."""
        ...


class ExecutorUnavailable(NodeFailure):
    """The chosen executor cannot run work here (missing extra, unreachable, unknown)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_type="ExecutorUnavailable")


ExecutorFactory = Callable[[ExecutorSettings], Executor]
#: the problem with a user-chosen interpreter (``settings.python``), or None when it runs
PythonCheck = Callable[[str], str | None]


@dataclass(frozen=True)
class ExecutorKind:
    """One registered kind: what the UI and CLI may know before anything is imported.

    ``factory`` is a callable or an entry-point reference ``"module:attr"`` loaded on
    first use, so listing kinds never imports an implementation.
    """

    kind: str
    label: str  # the editor's "Run on" choice
    factory: ExecutorFactory | str
    takes_address: bool = False  # settings.executor.address means something to it
    connects: bool = False  # start() may take seconds: the CLI says where work goes
    per_run: bool = False  # one instance per run (else an editor window keeps one warm)
    requires: tuple[str, ...] = ()  # importable modules it needs ...
    extra: str | None = None  # ... which this pip extra of nopflow installs
    #: "module:attr" of a `PythonCheck` for settings.python where this kind runs scripts
    #: (None: the interpreter lives elsewhere, e.g. on cluster workers, and is checked there)
    python_check: str | None = None

    def unavailable(self) -> str | None:
        """None when it can run here, else a message naming what to install (no import)."""
        for module in self.requires:
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                return missing_extra_message(self.kind, self.extra or module)
        return None

    def load_factory(self) -> ExecutorFactory:
        if callable(self.factory):
            return self.factory
        loaded = EntryPoint(self.kind, self.factory, ENTRY_POINT_GROUP).load()
        if not callable(loaded):
            raise TypeError(f"{self.factory} is not callable")
        return loaded


def missing_extra_message(kind: str, extra: str) -> str:
    """The one wording for "install the extra" (CLI, node errors, the workflow form)."""
    return f"the {kind} executor needs the '{extra}' extra: pip install 'nopflow[{extra}]'"


_BUILTIN = (
    ExecutorKind("local", "This computer", "nopflow.executors.local:create",
                 python_check="nopflow.executors.local:python_problem"),
    ExecutorKind("dask", "Dask cluster", "nopflow.executors.dask:create", takes_address=True,
                 connects=True, per_run=True, requires=("distributed",), extra="dask"),
)
_registry: dict[str, ExecutorKind] = {k.kind: k for k in _BUILTIN}
_plugins_loaded = False


def register_executor(kind: ExecutorKind) -> None:
    """Add (or replace) a kind; plugins may also use the ``nopflow.executors`` group."""
    _registry[kind.kind] = kind


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            kind = ep.load()
            if not isinstance(kind, ExecutorKind):
                raise TypeError(f"{ep.value} is not an ExecutorKind")
        except Exception as exc:  # a broken plugin is reported, never fatal
            log.warning("executor plugin %r (%s) is broken: %s", ep.name, ep.value, exc)
            continue
        _registry.setdefault(kind.kind, kind)


def executor_kinds() -> dict[str, ExecutorKind]:
    """Every known kind, built-ins first (plugins are discovered on the first call)."""
    _load_plugins()
    return dict(_registry)


def executor_kind(kind: str) -> ExecutorKind | None:
    """The registered kind, or None (built-ins answer without scanning plugins)."""
    found = _registry.get(kind)
    if found is None:
        found = executor_kinds().get(kind)
    return found


def create_executor(settings: ExecutorSettings | None = None) -> Executor:
    """The executor for ``settings.executor``; never raises (see UnavailableExecutor)."""
    settings = settings or ExecutorSettings()
    info = executor_kind(settings.kind)
    if info is None:
        known = ", ".join(executor_kinds())
        return UnavailableExecutor(settings.kind, f"unknown executor kind {settings.kind!r} "
                                   f"(known: {known})")
    reason = info.unavailable()
    if reason is not None:
        return UnavailableExecutor(info.kind, reason)
    try:
        return info.load_factory()(settings)
    except Exception as exc:
        log.exception("creating the %s executor failed", info.kind)
        return UnavailableExecutor(info.kind, f"the {info.kind} executor could not be "
                                   f"created: {type(exc).__name__}: {exc}")


def python_problem(settings: ExecutorSettings, python: str) -> str | None:
    """What is wrong with ``python`` as the interpreter of scripts run by the
    ``settings`` kind, checked the way that kind runs it (None: fine, or not checkable here)."""
    info = executor_kind(settings.kind)
    if info is None or info.python_check is None or info.unavailable() is not None:
        return None  # an unknown or uninstalled kind is reported by its own problem
    check = EntryPoint(info.kind, info.python_check, ENTRY_POINT_GROUP).load()
    return check(python)


class UnavailableExecutor:
    """Stands in for an executor this installation cannot provide; fails script nodes."""

    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        self.reason = reason

    async def start(self) -> None:
        raise ExecutorUnavailable(self.reason)

    def describe(self) -> str:
        return f"nowhere ({self.reason})"

    async def start_script(self, request: ScriptRequest, on_line: LineCallback) -> ScriptHandle:
        raise ExecutorUnavailable(self.reason)

    async def aclose(self) -> None:
        return None


__all__ = [
    "ENTRY_POINT_GROUP",
    "Executor",
    "ExecutorKind",
    "ExecutorUnavailable",
    "LineCallback",
    "PythonCheck",
    "ScriptHandle",
    "ScriptOutcome",
    "ScriptRequest",
    "UnavailableExecutor",
    "create_executor",
    "executor_kind",
    "executor_kinds",
    "missing_extra_message",
    "python_problem",
    "register_executor",
]
