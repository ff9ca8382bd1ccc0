"""`python`: a Python script run in a sandboxed child process (docs/scripts.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from nopflow.blocks.base import Block, BlockConfig, CheckContext, Port
from nopflow.blocks.fields import CODE, JSON
from nopflow.blocks.interpreter_facts import file_digest, interpreter_identity
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult
from nopflow.engine.executor import ScriptRequest
from nopflow.model.script_meta import ScriptMeta, ScriptMetaError, parse_script_meta

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
        problems += _header_problems(config, ctx.project_dir)
        if problem := ctx.python_problem():  # checked once, confined, however many nodes ask
            problems.append(f"settings.python: {problem}")
        return problems

    @classmethod
    def script_packages(cls, config: BlockConfig, project_dir: Path | None) -> ScriptMeta | None:
        assert isinstance(config, PythonConfig)
        if config.code:
            return parse_script_meta(config.code)
        if config.script and "{{" not in config.script and project_dir is not None:
            from nopflow.sandbox.paths import SandboxError, check_inside

            try:
                source = check_inside(project_dir, config.script).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError, SandboxError):
                return None  # `check` reports the file itself
            return parse_script_meta(source)
        return None

    @classmethod
    def cache_facts(cls, config: BlockConfig, ctx: CheckContext) -> dict[str, str]:
        """The script file's content (inline code is in the config) and the interpreter."""
        assert isinstance(config, PythonConfig)
        facts = {"interpreter": interpreter_identity(ctx.python)}
        if config.script:
            facts["script"] = file_digest(ctx.project_dir, config.script)
        return facts

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
        python = _environment_python(ctx, config, script) or ctx.settings.python
        request = ScriptRequest(
            project_dir=ctx.project_dir,
            code=config.code if not script else None,
            script=str(script) if script else None,
            input=payload,
            timeout_s=config.timeout_s,
            memory_mb=config.memory_mb,
            python=python,
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


def _header_problems(config: PythonConfig, project_dir: Path | None) -> list[str]:
    """A PEP 723 header that cannot be used, as a problem naming the field and line."""
    try:
        PythonBlock.script_packages(config, project_dir)
    except ScriptMetaError as exc:
        return [f"config.{'code' if config.code else 'script'}: {exc}"]
    return []


def _environment_python(ctx: NodeContext, config: PythonConfig, script: str | None) -> str | None:
    """The interpreter of the environment built for the script's PEP 723 header, if any."""
    from nopflow.sandbox.paths import SandboxError, check_inside

    try:
        if script is None:
            meta = parse_script_meta(config.code or "")
        else:
            path = check_inside(ctx.project_dir, str(script))
            meta = parse_script_meta(path.read_text(encoding="utf-8"))
    except ScriptMetaError as exc:
        raise NodeFailure(f"script header: {exc}", error_type="ScriptMetaError") from None
    except (OSError, UnicodeDecodeError, SandboxError):
        return None  # the sandbox reports the script file in its own words
    if meta is None:
        return None
    python = ctx.script_environment(meta.key)
    if python is None:
        raise NodeFailure(
            f"no environment was built for its packages ({meta.describe()}): packages are "
            "installed before a run starts (`nopflow run` and the editor do it; a templated "
            "script path cannot declare packages)", error_type="EnvironmentMissing")
    return python
