"""Where block work runs: the executor seam (DESIGN.md §1).

The runner owns scheduling, states, events, errors and retries; an executor only starts
script work and hands back a handle the runner can wait on, pause, resume and cancel.
`LocalExecutor` runs scripts in sandboxed child processes on this machine; `DaskExecutor`
(``nopflow.engine.dask_executor``, needs the ``dask`` extra) runs the same sandbox on the
workers of a Dask cluster. Without the extra, choosing ``dask`` fails the script nodes with
a message naming the extra instead of crashing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nopflow.engine.context import NodeFailure

log = logging.getLogger(__name__)


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
    """Starts block work somewhere; knows nothing about graphs, states or retries."""

    name: str

    async def start_script(self, request: ScriptRequest, on_line: LineCallback) -> ScriptHandle:
        ...

    async def aclose(self) -> None: ...


class ExecutorUnavailable(NodeFailure):
    """The chosen executor cannot run work here (missing component or not implemented)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_type="ExecutorUnavailable")


class LocalExecutor:
    """Scripts in sandboxed child processes on this machine (the default)."""

    name = "local"

    def __init__(self) -> None:
        self._runner: Any = None
        self._warming: asyncio.Task[None] | None = None
        self._closing = False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: the first script starts the sandbox itself
        # Fire and forget: start the sandbox's zygote now, so the first script does not
        # pay for it (~60-100 ms). A failure is logged; the first script then retries.
        self._warming = loop.create_task(self._warm_up())

    async def _warm_up(self) -> None:
        if self._closing:  # closed before this task first ran
            return
        try:
            sandbox = self._sandbox()
            if self._runner is None:
                self._runner = sandbox.ScriptRunner()
            await self._runner.warm_up()
        except Exception as exc:
            if self._runner is None:  # closed meanwhile: nothing to warm any more
                log.debug("sandbox warm-up skipped: %s", exc)
            else:
                log.warning("sandbox warm-up failed: %s", exc)

    def _sandbox(self) -> Any:
        try:
            import nopflow.sandbox as sandbox

            sandbox.ScriptRunner  # noqa: B018  (probe: the API may not be exported yet)
            sandbox.ScriptSpec  # noqa: B018
        except (ImportError, AttributeError) as exc:
            raise ExecutorUnavailable(
                f"script blocks need the sandbox, which is not available ({exc})"
            ) from None
        return sandbox

    async def start_script(self, request: ScriptRequest, on_line: LineCallback) -> ScriptHandle:
        sandbox = self._sandbox()
        if self._runner is None:
            self._runner = sandbox.ScriptRunner()
        spec = sandbox.ScriptSpec(
            project_dir=request.project_dir,
            code=request.code,
            script=request.script,
            input=request.input,
            timeout_s=request.timeout_s,
            memory_mb=request.memory_mb,
            python=request.python,
            env=dict(request.env),
            temp_dir=request.temp_dir,
            label=request.label,
        )
        try:
            return await self._runner.start(spec, on_stderr_line=on_line)
        except sandbox.SandboxError as exc:
            raise NodeFailure(str(exc), error_type=type(exc).__name__) from None

    async def aclose(self) -> None:
        self._closing = True
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.aclose()
        warming, self._warming = self._warming, None
        if warming is not None:
            # not cancelled: a zygote cut off mid-start would be leaked; the closed runner
            # makes a start in progress close its zygote and give up (bounded by its timeout)
            await asyncio.wait({warming})


class UnavailableExecutor:
    """Stands in for an executor this installation cannot provide; fails script nodes."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    async def start_script(self, request: ScriptRequest, on_line: LineCallback) -> ScriptHandle:
        raise ExecutorUnavailable(self.reason)

    async def aclose(self) -> None:
        return None


def make_executor(kind: str = "local", address: str | None = None) -> Executor:
    """The executor for a workflow's ``settings.executor`` (never raises)."""
    if kind == "local":
        return LocalExecutor()
    if kind == "dask":
        # imported here, and `distributed` only inside it: the engine never needs the extra
        from nopflow.engine.dask_executor import DaskExecutor, dask_missing_reason

        reason = dask_missing_reason()
        if reason is not None:
            return UnavailableExecutor("dask", reason)
        return DaskExecutor(address)
    return UnavailableExecutor(kind, f"unknown executor kind {kind!r}")
