"""Pydantic models of the workflow file format, version 1 (DESIGN.md §2).

These models are the single source of truth for the format: the loader validates with them,
the editor edits instances of them, and `resources/workflow.schema.json` is generated from
them. Node `config` stays a plain dict here because its schema depends on the block type;
the compiler validates it against the block's own config model.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

FORMAT = "nopflow/workflow"
FORMAT_VERSION = 1

#: Node ids appear in expressions (`$node.ID.x`) and on the command line, so keep them simple.
NODE_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$"
_NODE_ID_RE = re.compile(NODE_ID_PATTERN)

ErrorMode = Literal["stop", "skip-branch", "continue"]


def new_id() -> str:
    """A fresh stable id (uuid4 hex) for workflows, edges and notes."""
    return uuid.uuid4().hex


class _Strict(BaseModel):
    """Unknown keys are refused so a typo ("erorr_mode") is reported, not silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class ExecutorSettings(_Strict):
    """Where block work runs: in this process with sandboxed children, or on a Dask cluster."""

    kind: Literal["local", "dask"] = "local"
    address: str | None = Field(
        default=None, description="Dask scheduler address, e.g. tcp://host:8786"
    )


class Settings(_Strict):
    """Workflow-wide run settings."""

    error_mode: ErrorMode = Field(
        default="stop",
        description="stop: first failure cancels the rest; skip-branch: skip the failed "
        "node's descendants; continue: descendants run and see $prev.error",
    )
    max_parallel: Annotated[int, Field(ge=1, le=1024)] = Field(
        default=4, description="How many nodes may run at once"
    )
    python: str | None = Field(
        default=None,
        description="Interpreter for script blocks; empty = the one nopflow runs on",
    )
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)


class InputSpec(_Strict):
    """A run input (`$input.NAME`): a default that each run may override."""

    default: Any = None
    description: str = ""
    secret: bool = Field(default=False, description="Redacted in run history and logs")


class RetryPolicy(_Strict):
    """Per-node retry with exponential backoff: delay_k = initial · multiplier^k, capped."""

    max_attempts: Annotated[int, Field(ge=1, le=100)] = 1
    initial_delay_s: Annotated[float, Field(ge=0, le=86400)] = 1.0
    multiplier: Annotated[float, Field(ge=1, le=100)] = 2.0
    max_delay_s: Annotated[float, Field(ge=0, le=86400)] = 30.0

    def delay(self, failed_attempts: int) -> float:
        """Seconds to wait after the `failed_attempts`-th failure (1-based)."""
        k = max(0, failed_attempts - 1)
        try:
            raw = self.initial_delay_s * (self.multiplier**k)
        except OverflowError:
            raw = self.max_delay_s
        return min(raw, self.max_delay_s)


class Node(_Strict):
    """One block on the canvas. `config` is validated by the block type's config model."""

    id: str = Field(pattern=NODE_ID_PATTERN, min_length=1, max_length=200)
    type: str = Field(min_length=1)
    title: str = ""
    position: tuple[float, float] = (0.0, 0.0)
    config: dict[str, Any] = Field(default_factory=dict)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    error_mode: ErrorMode | None = None

    @property
    def label(self) -> str:
        """What a person calls this node: its title, else its id."""
        return self.title or self.id


class Edge(_Strict):
    """A wire from an output port of one node to an input port of another."""

    id: str = Field(default_factory=new_id, min_length=1)
    source: str
    source_port: str = "out"
    target: str
    target_port: str = "in"


class Note(_Strict):
    """A sticky note on the canvas: a comment saved with the workflow, never run."""

    id: str = Field(default_factory=new_id)
    text: str = ""
    position: tuple[float, float] = (0.0, 0.0)
    size: tuple[float, float] = (200.0, 120.0)


class Workflow(BaseModel):
    """A whole workflow document (format `nopflow/workflow`, version 1)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["nopflow/workflow"] = FORMAT
    version: Literal[1] = FORMAT_VERSION
    id: str = Field(default_factory=new_id, min_length=1)
    name: str = "Untitled"
    settings: Settings = Field(default_factory=Settings)
    variables: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)

    @field_validator("inputs", mode="before")
    @classmethod
    def _plain_defaults(cls, value: Any) -> Any:
        """Accept the shorthand `"inputs": {"name": "world"}` as `{"default": "world"}`."""
        if isinstance(value, dict):
            return {
                k: (v if isinstance(v, dict) else {"default": v}) for k, v in value.items()
            }
        return value

    def node(self, node_id: str) -> Node | None:
        """The node with this id, or None (linear; hot paths use the compiled plan)."""
        for n in self.nodes:
            if n.id == node_id:
                return n
        return None

    def input_defaults(self) -> dict[str, Any]:
        """The run inputs a run gets when nobody overrides them."""
        return {name: spec.default for name, spec in self.inputs.items()}

    def secret_inputs(self) -> set[str]:
        """Names of inputs whose values must never reach history or logs."""
        return {name for name, spec in self.inputs.items() if spec.secret}


def is_valid_node_id(value: str) -> bool:
    """True when `value` can be used as a node id (also in `$node.ID`)."""
    return bool(_NODE_ID_RE.match(value))
