"""Config models of the built-in blocks (DESIGN.md §3): the file's `config` object per type.

Kept apart from run behaviour so the compiler, the JSON Schema and the inspector can use
them without pulling in the engine or the sandbox. `json_schema_extra={"widget": ...}`
tells the inspector which editor to show (code, expression, json).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from nopflow.blocks.base import BlockConfig

CODE = {"widget": "code"}
EXPRESSION = {"widget": "expression"}
JSON = {"widget": "json"}


def _number_or_template(value: object, field: str, minimum: float = 0) -> None:
    """A number field that also takes a `{{ }}` template: plain text must be a number."""
    if isinstance(value, str):
        if "{{" in value:
            return
        try:
            number = float(value)
        except ValueError:
            raise ValueError(
                f"'{field}' must be a number or a {{{{ }}}} template, not {value!r}"
            ) from None
        value = number
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < minimum:
        raise ValueError(f"'{field}' must be {minimum:g} or more")


class StartConfig(BlockConfig):
    """The start block has nothing to configure: its output is the run inputs."""


class PythonConfig(BlockConfig):
    """A Python script run in a sandboxed child process (JSON on stdin, JSON on stdout)."""

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


class ConditionConfig(BlockConfig):
    """Routes the input to `true` or `false`; only the taken port's edges are live."""

    expression: str = Field(
        min_length=1,
        description='A condition, e.g. $input.n > 5 and $vars.mode == "fast"',
        json_schema_extra=EXPRESSION,
    )


class LoopConfig(BlockConfig):
    """Runs the nodes reached from `body` once per item; `done` gets all results."""

    items: str | list[Any] | None = Field(
        default=None,
        description="An expression or a JSON list to iterate over",
        json_schema_extra=EXPRESSION,
    )
    count: int | str | None = Field(
        default=None, description="Run the body this many times (instead of items)"
    )
    parallel: int = Field(default=1, ge=1, le=1024, description="Items run at once")

    @model_validator(mode="after")
    def _one_source(self) -> LoopConfig:
        if self.items is None and self.count is None:
            raise ValueError("set 'items' (expression or list) or 'count'")
        if self.items is not None and self.count is not None:
            raise ValueError("set either 'items' or 'count', not both")
        if self.count is not None:
            _number_or_template(self.count, "count")
        return self


class MergeConfig(BlockConfig):
    """Waits for its live inputs and combines them."""

    mode: Literal["by_node", "concat"] = Field(
        default="by_node",
        description="by_node: output keyed by upstream node id; concat: lists joined",
    )


class DelayConfig(BlockConfig):
    """Waits, then passes its input through."""

    seconds: float | str = Field(default=1.0, description="Seconds to wait ({{ }} allowed)")

    @model_validator(mode="after")
    def _not_negative(self) -> DelayConfig:
        _number_or_template(self.seconds, "seconds")
        return self


class SetConfig(BlockConfig):
    """Sets workflow variables ($vars) for the nodes that run after it."""

    values: dict[str, Any] = Field(
        default_factory=dict, description="Variables to set", json_schema_extra=JSON
    )


class OutputConfig(BlockConfig):
    """Contributes `values` to the run's result."""

    values: dict[str, Any] = Field(
        default_factory=dict, description="Result values", json_schema_extra=JSON
    )
