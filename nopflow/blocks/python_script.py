"""`python`: a Python script run in a sandboxed child process (docs/scripts.md)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from nopflow.blocks.base import Block, BlockConfig, CheckContext, Port
from nopflow.blocks.fields import CODE, JSON
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult
from nopflow.engine.executor import ScriptRequest

DEFAULT_CODE = (
    "import json, sys\n"
    "\n"
    "data = json.load(sys.stdin)      # the node's inputs\n"
    "print(json.dumps({\"echo\": data}))  # the node's output\n"
)


class PythonConfig(BlockConfig):
    """A Python script run in a sandboxed child process (JSON on stdin, JSON on stdout):
    set `code` or `script`, not both."""

    code: str | None = Field(
        default=None,
        description="Inline Python source. Read JSON from stdin, print JSON to stdout.",
        json_schema_extra=CODE,
    )
    script: str | None = Field(
        default=None,
        description="Path of a .py file inside the project folder (instead of code)",
    )
    inputs: dict[str, Any] | None = Field(
        default=None,
        description="Values sent on stdin ({{ }} templates allowed); empty = $prev",
        json_schema_extra=JSON,
    )
    timeout_s: float = Field(
        default=30.0, gt=0, le=86400, description="Seconds before it is killed"
    )
    memory_mb: int = Field(default=2048, ge=16, le=1024 * 1024, description="Memory limit (MB)")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Extra environment variables for the script ({{ }} allowed)",
        json_schema_extra=JSON,
    )

    @model_validator(mode="after")
    def _one_source(self) -> PythonConfig:
        has_code = bool(self.code and self.code.strip())
        has_script = bool(self.script and self.script.strip())
        if has_code and has_script:
            raise ValueError("set either 'code' or 'script', not both")
        if not has_code and not has_script:
            raise ValueError("set 'code' (inline source) or 'script' (a file in the project)")
        return self


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
        if config.script and "{{" not in config.script:
            problem = ctx.project_file(config.script, "config.script")
            if problem:
                problems.append(problem)
        if problem := ctx.python_problem():  # checked once, confined, however many nodes ask
            problems.append(f"settings.python: {problem}")
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
