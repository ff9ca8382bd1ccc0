"""The ``local`` executor: scripts in sandboxed child processes on this machine (default)."""

from __future__ import annotations

import asyncio
import logging

from nopflow.engine.context import NodeFailure
from nopflow.engine.executor import LineCallback, ScriptHandle, ScriptRequest
from nopflow.model import ExecutorSettings
from nopflow.sandbox import SandboxError, ScriptRunner, ScriptSpec, interpreter_problem

log = logging.getLogger(__name__)


def spec_of(request: ScriptRequest) -> ScriptSpec:
    """The sandbox's spec for an engine request (the two mirror each other)."""
    return ScriptSpec(
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


class LocalExecutor:
    """One ScriptRunner (zygote + spare children) for every script this executor starts.

    Made on a running loop, it starts the zygote in the background at once, so the first
    script does not pay for it (~60-100 ms); ``start()`` waits for that warm-up.
    """

    kind = "local"

    def __init__(self) -> None:
        self._runner: ScriptRunner | None = None
        self._warming: asyncio.Task[None] | None = None
        self._closing = False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: the first script starts the sandbox itself
        self._warming = loop.create_task(self._warm_up())

    def _ensure_runner(self) -> ScriptRunner:
        if self._runner is None:
            self._runner = ScriptRunner()
        return self._runner

    async def _warm_up(self) -> None:
        if self._closing:  # closed before this task first ran
            return
        try:
            await self._ensure_runner().warm_up()
        except Exception as exc:  # logged; the first script then retries
            if self._runner is None:  # closed meanwhile: nothing to warm any more
                log.debug("sandbox warm-up skipped: %s", exc)
            else:
                log.warning("sandbox warm-up failed: %s", exc)

    async def start(self) -> None:
        if self._warming is None:
            self._warming = asyncio.get_running_loop().create_task(self._warm_up())
        await asyncio.shield(self._warming)

    def describe(self) -> str:
        tier = self._runner.tier if self._runner is not None else "sandboxed"
        return f"this computer ({tier} child processes)"

    async def start_script(self, request: ScriptRequest, on_line: LineCallback) -> ScriptHandle:
        try:
            return await self._ensure_runner().start(spec_of(request), on_stderr_line=on_line)
        except SandboxError as exc:
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


def python_problem(python: str) -> str | None:
    """The registry's interpreter check for local scripts: the sandbox's confined one,
    run once per interpreter file (validate, the block checks and every run share it)."""
    return interpreter_problem(python)


def create(settings: ExecutorSettings) -> LocalExecutor:
    """Registry factory for ``{"kind": "local"}``."""
    return LocalExecutor()
