"""What a block's ``run`` sees (`NodeContext`) and returns (`NodeResult`).

Blocks stay small and engine-agnostic: they render their own config through the context
(so errors name the node and the field), and ask the context for everything that needs the
run — sleeping (pause/cancel aware), running a script (through the active executor),
running a loop body, setting ``$vars``. The runner implements the `RunServices` protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from nopflow.engine import expressions as ex
from nopflow.errors import NopflowError

if TYPE_CHECKING:
    from nopflow.blocks.base import BlockConfig
    from nopflow.engine.executor import ScriptOutcome, ScriptRequest
    from nopflow.engine.state import NodeRecord
    from nopflow.model import Node, Settings
    from nopflow.model.credentials import Credential


class NodeFailure(NopflowError):
    """A node failed in a way the user should read (not an engine bug).

    ``message``'s first line says what happened in the user's terms; the rest goes to
    the node record and history.
    """

    def __init__(
        self,
        message: str,
        *,
        error_type: str | None = None,
        traceback: str | None = None,
        stderr_tail: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type or "NodeError"
        self.traceback = traceback
        self.stderr_tail = stderr_tail
        #: the wait the other side asked for (HTTP Retry-After) before the next attempt
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class NodeResult:
    """A block's result: its output and which output ports fire (None = all of them)."""

    output: Any = None
    ports: frozenset[str] | None = None


class RunServices(Protocol):
    """The run-side operations a block may ask for (implemented by the runner)."""

    async def sleep(self, seconds: float) -> None: ...

    async def run_script(self, ctx: NodeContext, request: ScriptRequest) -> ScriptOutcome: ...

    async def run_loop_body(self, ctx: NodeContext, items: list[Any], parallel: int) -> list[Any]:
        ...

    def set_vars(self, values: Mapping[str, Any]) -> None: ...

    async def run_subworkflow(self, ctx: NodeContext, path: Path,
                              inputs: Mapping[str, Any]) -> Any: ...

    def scope_for(self, ctx: NodeContext) -> ex.Scope: ...

    def credential(self, name: str) -> Credential: ...

    def log(self, node_id: str, line: str, stream: str = "stderr") -> None: ...

    def temp_dir(self) -> Path: ...

    def script_environment(self, key: str) -> str | None: ...

    def state_dir(self) -> Path: ...

    @property
    def project_dir(self) -> Path: ...


class NodeContext:
    """One attempt of one node: its config, inputs, scope and the run's services."""

    __slots__ = (
        "_scope",
        "_services",
        "attempt",
        "by_node",
        "config",
        "group",
        "node",
        "prev",
        "record",
        "settings",
        "vars",
    )

    def __init__(  # the runner passes these by position: once per attempt (hot path)
        self,
        node: Node,
        config: BlockConfig,
        record: NodeRecord,
        prev: Any,
        by_node: dict[str, Any],
        vars: Mapping[str, Any],
        attempt: int,
        settings: Settings,
        services: RunServices,
        group: object = None,
    ) -> None:
        self.node = node
        self.config = config
        self.record = record
        #: `$prev`: the live upstream outputs merged (later edges win)
        self.prev = prev
        #: live upstream outputs keyed by upstream node id, in edge order (merge uses it)
        self.by_node = by_node
        #: `$vars` as they were when the node started (later `set_vars` do not change it)
        self.vars = vars
        self._scope: ex.Scope | None = None
        self.attempt = attempt
        self.settings = settings
        self._services = services
        #: the runner's scheduling group this node runs in (opaque to blocks)
        self.group = group

    @property
    def node_id(self) -> str:
        return self.node.id

    @property
    def scope(self) -> ex.Scope:
        """What this node's expressions read; built on first use (many blocks never do)."""
        if self._scope is None:
            self._scope = self._services.scope_for(self)
        return self._scope

    @property
    def project_dir(self) -> Path:
        """Where scripts run: the workflow file's folder, or the unsaved scratch folder."""
        return self._services.project_dir

    # -- templates ---------------------------------------------------------------------

    def raw(self, name: str) -> Any:
        """A config field as written in the file (templates unrendered), else its default."""
        if name in self.node.config:
            return self.node.config[name]
        return getattr(self.config, name)

    def render(self, name: str) -> Any:
        """Render config field ``name`` with the scope at node start.

        A failure becomes a `NodeFailure` naming the node, the field and the expression.
        """
        value = self.raw(name)
        if not _has_template(value):
            return value
        try:
            return ex.render(value, self.scope, f"node {self.node.id}, config.{name}")
        except ex.ExpressionError as exc:
            raise NodeFailure(str(exc), error_type="ExpressionError") from None

    def evaluate(self, name: str) -> Any:
        """Evaluate config field ``name`` as a bare expression (braces optional)."""
        text = self.raw(name)
        try:
            return ex.evaluate(text, self.scope, f"node {self.node.id}, config.{name}")
        except ex.ExpressionError as exc:
            raise NodeFailure(str(exc), error_type="ExpressionError") from None

    # -- run services ------------------------------------------------------------------

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``; paused time does not count; cancel interrupts at once."""
        await self._services.sleep(seconds)

    async def run_script(self, request: ScriptRequest) -> ScriptOutcome:
        """Run a script through the active executor (pause/cancel handled by the run)."""
        return await self._services.run_script(self, request)

    async def run_loop_body(self, items: list[Any], parallel: int) -> list[Any]:
        """Run this loop node's body once per item; the per-item results in item order."""
        return await self._services.run_loop_body(self, items, parallel)

    async def run_subworkflow(self, path: Path, inputs: Mapping[str, Any]) -> Any:
        """Run the workflow file at ``path`` (inside the project) as a child run with
        ``inputs``; its `outputs`. Its failure is a `NodeFailure` naming the child's node."""
        return await self._services.run_subworkflow(self, path, inputs)

    def set_vars(self, values: Mapping[str, Any]) -> None:
        """Update `$vars` for nodes that start from now on."""
        self._services.set_vars(values)

    def credential(self, name: str) -> Credential:
        """A credential this node's `credential` field names (resolved before the run)."""
        return self._services.credential(name)

    def log(self, line: str, stream: str = "stderr") -> None:
        """Add a line to the node's log (an event, and the record's tail)."""
        self._services.log(self.node.id, line, stream)

    def temp_dir(self) -> Path:
        """The run's private temp folder (created on first use, removed after the run)."""
        return self._services.temp_dir()

    def script_environment(self, key: str) -> str | None:
        """The interpreter of the environment built before the run for the PEP 723 header
        with this key (`ScriptMeta.key`), or None when none was."""
        return self._services.script_environment(key)

    def state_dir(self) -> Path:
        """This workflow's folder in nopflow's data dir, kept across runs (e.g. pinned SSH
        host keys); created on first use."""
        return self._services.state_dir()

    def note(self, key: str, value: Any) -> None:
        """Record a fact on the node record (e.g. a condition's decision)."""
        self.record.details[key] = value

    def set_inputs(self, value: Any) -> None:
        """Record what the node actually consumed (defaults to `$prev`)."""
        self.record.inputs = value


def _has_template(value: Any) -> bool:
    """Cheap check so configs without ``{{`` skip the renderer entirely (the hot path)."""
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_template(v) for v in value)
    return False
