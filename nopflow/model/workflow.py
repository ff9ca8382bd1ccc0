"""Pydantic models of the workflow file format, version 2 (docs/file-format.md).

These models are the single source of truth for the format: the loader validates with them,
the editor edits instances of them, and `resources/workflow.schema.json` is generated from
them. Node `config` stays a plain dict here because its schema depends on the block type;
the compiler validates it against the block's own config model.
"""

from __future__ import annotations

import enum
import re
import uuid
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

FORMAT = "nopflow/workflow"
FORMAT_VERSION = 2

#: Node ids appear in expressions (`$node.ID.x`) and on the command line, so keep them simple.
NODE_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$"
_NODE_ID_RE = re.compile(NODE_ID_PATTERN)

ErrorMode = Literal["stop", "skip-branch", "continue"]
#: A node may also route its failure to its `error` port instead (docs/file-format.md).
NodeErrorMode = Literal["stop", "skip-branch", "continue", "route"]

#: Names of `$env` variables: what a shell would accept, so `$env.NAME` can name them.
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"

#: `#RRGGBB` or `#RRGGBBAA`, as the canvas draws group frames.
COLOR_PATTERN = r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$"


class _Unpinned(enum.Enum):
    """The type of `UNPINNED`: an enum member survives copy, deepcopy and pickle as itself."""

    UNPINNED = "unpinned"

    def __repr__(self) -> str:
        return "UNPINNED"


#: `Node.pinned` when the file has no `"pinned"` key (`"pinned": null` pins the value null).
UNPINNED: Final = _Unpinned.UNPINNED


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
    env_allow: list[Annotated[str, Field(pattern=ENV_NAME_PATTERN)]] = Field(
        default_factory=list,
        description="Environment variables `$env.NAME` may read; any other name is an error",
    )
    overlap: Literal["skip", "queue", "allow"] = Field(
        default="skip",
        description="A trigger fire while this workflow still runs: skip it, queue it, "
        "or run beside it",
    )


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


def _no_default(schema: dict[str, Any]) -> None:
    """The JSON Schema has no way to say "absent"; it shows no default instead of the sentinel."""
    schema.pop("default", None)


def _type_required(schema: dict[str, Any]) -> None:
    """A trigger's `type` picks its kind, so the file must say it (the model defaults it)."""
    schema["required"] = ["type", *(k for k in schema.get("required", []) if k != "type")]


class Node(_Strict):
    """One block on the canvas. `config` is validated by the block type's config model.

    `version` is the block version `config` was written for; None (key absent) means the
    installed block's version, and loading with a block catalog fills it in. `pinned` is
    `UNPINNED` when the key is absent: any JSON value, null included, is a pin.
    """

    id: str = Field(pattern=NODE_ID_PATTERN, min_length=1, max_length=200)
    type: str = Field(min_length=1)
    version: Annotated[int, Field(ge=1)] | None = Field(
        default=None,
        description="Version of the block this node's config was written for; "
        "absent = the installed block's version",
    )
    title: str = ""
    position: tuple[float, float] = (0.0, 0.0)
    config: dict[str, Any] = Field(default_factory=dict)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    error_mode: NodeErrorMode | None = Field(
        default=None,
        description="Overrides settings.error_mode for this node; route: a failure goes "
        "out of the node's error port and does not fail the run",
    )
    disabled: bool = Field(
        default=False, description="Does not run; passes its input through (skipped)"
    )
    cache: bool = Field(
        default=False, description="Reuse a stored output with the same cache key"
    )
    pinned: Any = Field(
        default=UNPINNED,
        description="Output this value without running (editor runs and run --pins); "
        "absent = not pinned, null pins null",
        json_schema_extra=_no_default,
    )

    @property
    def label(self) -> str:
        """What a person calls this node: its title, else its id."""
        return self.title or self.id

    @property
    def is_pinned(self) -> bool:
        """True when the node has a pinned output (which may be null)."""
        return self.pinned is not UNPINNED

    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """An unpinned node has no `pinned` key and an unresolved version no `version`."""
        data: dict[str, Any] = handler(self)
        if self.pinned is UNPINNED:
            data.pop("pinned", None)
        if self.version is None:
            data.pop("version", None)
        return data


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


class _TriggerBase(_Strict):
    """What every trigger has: an id, an on/off switch and the run inputs of its runs."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_type_required)

    id: str = Field(default_factory=new_id, min_length=1)
    type: str
    enabled: bool = True
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="Run inputs of the runs it fires (like --input)"
    )


class CronTrigger(_TriggerBase):
    """Fires on a cron schedule (5 fields, or 6 with seconds first)."""

    type: Literal["cron"] = "cron"
    cron: str = Field(min_length=1, description="e.g. '0 7 * * 1-5'")
    timezone: str | None = Field(default=None, description="IANA name; null = local time")
    catch_up: Literal["skip", "once"] = Field(
        default="skip", description="Fires missed while no scheduler ran: skip, or run once"
    )


class IntervalTrigger(_TriggerBase):
    """Fires every `seconds`, the first time `seconds` after the scheduler starts."""

    type: Literal["interval"] = "interval"
    seconds: Annotated[float, Field(ge=1)]


class FileTrigger(_TriggerBase):
    """Fires when files matching `pattern` change in a folder inside the project dir."""

    type: Literal["file"] = "file"
    path: str = Field(min_length=1, description="A folder inside the project dir")
    pattern: str = "*"
    events: list[Literal["created", "modified", "deleted"]] = Field(
        default_factory=lambda: ["created", "modified"], min_length=1
    )
    debounce_s: Annotated[float, Field(ge=0)] = 1.0


class WebhookTrigger(_TriggerBase):
    """Fires on an HTTP request carrying the credential's token as a bearer token."""

    type: Literal["webhook"] = "webhook"
    path: str | None = Field(default=None, description="null = /hooks/<workflow-id>")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    credential: str = Field(
        min_length=1, description="A token credential callers send as 'Authorization: Bearer'"
    )
    respond: Literal["accepted", "result"] = Field(
        default="accepted",
        description="accepted: 202 with the run id at once; result: wait, answer the outputs",
    )


Trigger = Annotated[
    CronTrigger | IntervalTrigger | FileTrigger | WebhookTrigger, Field(discriminator="type")
]
TRIGGER_TYPES = ("cron", "interval", "file", "webhook")


class Group(_Strict):
    """A titled frame drawn behind nodes on the canvas; it does not affect a run."""

    id: str = Field(default_factory=new_id, min_length=1)
    title: str = ""
    rect: tuple[float, float, Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]] = (
        Field(default=(0.0, 0.0, 400.0, 300.0), description="[x, y, width, height]")
    )
    color: str | None = Field(
        default=None, pattern=COLOR_PATTERN, description="#RRGGBB[AA]; null = the theme's"
    )


class Workflow(BaseModel):
    """A whole workflow document (format `nopflow/workflow`, version 2)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["nopflow/workflow"] = FORMAT
    version: Literal[2] = FORMAT_VERSION
    id: str = Field(default_factory=new_id, min_length=1)
    name: str = "Untitled"
    settings: Settings = Field(default_factory=Settings)
    variables: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    groups: list[Group] = Field(default_factory=list)
    triggers: list[Trigger] = Field(default_factory=list)

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
