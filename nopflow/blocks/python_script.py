"""`python`: a Python script run in a sandboxed child process (DESIGN.md §6)."""

from __future__ import annotations

import os
from typing import Any

from nopflow.blocks.base import Block, BlockConfig, CheckContext, Port
from nopflow.blocks.configs import PythonConfig
from nopflow.blocks.registry import register
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult
from nopflow.engine.executor import ScriptRequest

DEFAULT_CODE = (
    "import json, sys\n"
    "\n"
    "data = json.load(sys.stdin)      # the node's inputs\n"
    "print(json.dumps({\"echo\": data}))  # the node's output\n"
)


@register
class PythonBlock(Block):
    type = "python"
    title = "Python"
    category = "Code"
    description = "Run a Python script: JSON in on stdin, JSON out on stdout."
    icon = "python"
    inputs = (Port("in"),)
    outputs = (Port("out"),)
    Config = PythonConfig
    needs_executor = True
    side_effects = True

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"code": DEFAULT_CODE, "timeout_s": 30.0}

    @classmethod
    def check(cls, config: BlockConfig, ctx: CheckContext) -> list[str]:
        assert isinstance(config, PythonConfig)
        problems: list[str] = []
        if config.script and ctx.project_dir is not None and "{{" not in config.script:
            from nopflow.sandbox import SandboxError, check_inside

            try:
                path = check_inside(ctx.project_dir, config.script)
            except SandboxError as exc:
                problems.append(f"config.script: {exc}")
            else:
                if not path.is_file():
                    problems.append(f"config.script: no such file in the project folder: "
                                    f"{config.script}")
        if ctx.python:
            if not (os.path.isfile(ctx.python) and os.access(ctx.python, os.X_OK)):
                problems.append(
                    f"settings.python: interpreter not found or not executable: {ctx.python}"
                )
        return problems

    async def run(self, ctx: NodeContext) -> NodeResult:
        """Run the script through the active executor (sandboxed child by default).

        stdin gets the rendered `inputs`, or `$prev` when `inputs` is not set; stderr lines
        become the node's log; a failure keeps the sandbox's message, stderr tail and
        traceback.
        """
        config = ctx.config
        assert isinstance(config, PythonConfig)
        payload = ctx.render("inputs") if config.inputs else ctx.prev
        ctx.set_inputs(payload)
        env = ctx.render("env") or {}
        script = ctx.render("script") if config.script else None
        request = ScriptRequest(
            project_dir=ctx.project_dir,
            code=config.code if not script else None,
            script=str(script) if script else None,
            input=payload,
            timeout_s=config.timeout_s,
            memory_mb=config.memory_mb,
            python=ctx.settings.python,
            env={str(k): "" if v is None else str(v) for k, v in env.items()},
            temp_dir=ctx.temp_dir(),
            label=f"{ctx.node_id} ({ctx.node.label})" if ctx.node.title else ctx.node_id,
        )
        result = await ctx.run_script(request)
        if result.stderr_tail:
            ctx.record.stderr_tail = result.stderr_tail
        if not result.ok:
            raise NodeFailure(
                result.error or f"script failed (exit code {result.exit_code})",
                error_type=result.error_type or "ScriptError",
                traceback=result.traceback,
                stderr_tail=result.stderr_tail,
            )
        return NodeResult(result.output)
