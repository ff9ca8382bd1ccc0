"""What a block type is: its ports, its config model, its palette entry, its run behaviour.

A block class is a description plus behaviour; the engine creates no block instances per
node. The inspector is generated from `Config` (field types, descriptions and the
`widget` hint in `json_schema_extra`), so every user-facing knob lives in that model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # the engine imports blocks at run time, not the other way round
    from nopflow.engine.context import NodeContext, NodeResult
    from nopflow.model.script_meta import ScriptMeta


@dataclass(frozen=True)
class Port:
    """A named connection point; any port takes any number of edges."""

    name: str
    label: str = ""


class BlockConfig(BaseModel):
    """Base of every block's config model: unknown keys are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class SubworkflowCheck(Protocol):
    """The compiler's checks of a sub-workflow file (cycles, depth, the child's problems)."""

    def problems(self, node_id: str, path: Path, where: str) -> list[str]: ...


@dataclass(frozen=True)
class CheckContext:
    """What a block's static `check` may look at besides its own config."""

    project_dir: Path | None
    python: str | None
    #: what is wrong with `python` where the run's executor starts it (None = fine)
    check_python: Callable[[str], str | None] | None = None
    #: the compiler's sub-workflow checks (None: not compiling a workflow)
    subworkflows: SubworkflowCheck | None = None
    #: the node being checked
    node_id: str = ""

    def python_problem(self) -> str | None:
        """The problem with settings.python, checked once by the executor, or None."""
        if not self.python or self.check_python is None:
            return None
        return self.check_python(self.python)

    def for_node(self, node_id: str) -> CheckContext:
        """This context for checking node ``node_id``."""
        return replace(self, node_id=node_id)

    def subworkflow_problems(self, path: str, field: str) -> list[str]:
        """Problems with `path` as a workflow file a node runs as a child (empty: fine)."""
        problem = self.project_file(path, field)
        if problem is not None:
            return [problem]
        if self.subworkflows is None or self.project_dir is None:
            return []
        return self.subworkflows.problems(self.node_id, self.project_dir / path, field)

    def project_file(self, path: str, field: str) -> str | None:
        """A problem with `path` as a file inside the project folder, or None when fine.

        The same containment rule the sandbox enforces at run time (imported here, not at
        module level: the sandbox package is not needed to list or validate blocks).
        """
        if self.project_dir is None:
            return None
        from nopflow.sandbox.paths import SandboxError, check_inside

        try:
            found = check_inside(self.project_dir, path)
        except SandboxError as exc:
            return f"{field}: {exc}"
        if not found.is_file():
            return f"{field}: no such file in the project folder: {path}"
        return None


class Block:
    """Base class of block types. Subclasses set the class attributes and implement `run`."""

    type: ClassVar[str]
    title: ClassVar[str]
    category: ClassVar[str] = "Flow"
    description: ClassVar[str] = ""
    icon: ClassVar[str] = "block"
    inputs: ClassVar[tuple[Port, ...]] = (Port("in"),)
    outputs: ClassVar[tuple[Port, ...]] = (Port("out"),)
    Config: ClassVar[type[BlockConfig]] = BlockConfig

    #: bumped when the config changes shape; `migrate` brings older configs up to it
    version: ClassVar[int] = 1
    #: a run begins at every node of an entry block (start)
    is_entry: ClassVar[bool] = False
    #: output ports whose reach is run once per item (loop: {"body"}); such a block waits
    #: for its body without holding a slot
    body_ports: ClassVar[frozenset[str]] = frozenset()
    #: its output values merge into the run's `outputs`
    contributes_result: ClassVar[bool] = False
    #: it runs work in a child process through the run's executor
    needs_executor: ClassVar[bool] = False
    #: running it may change the world outside the run (docs/blocks.md)
    side_effects: ClassVar[bool] = False
    #: the config field naming a workflow file it runs (the editor offers to open it)
    workflow_file_field: ClassVar[str | None] = None
    #: the config field (an object) holding that workflow's run inputs, one key per input
    workflow_inputs_field: ClassVar[str | None] = None
    #: config fields evaluated once per item, where `$item` and `$index` may be used
    item_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def input_names(cls) -> tuple[str, ...]:
        """Names of the input ports."""
        return tuple(p.name for p in cls.inputs)

    @classmethod
    def output_names(cls) -> tuple[str, ...]:
        """Names of the output ports."""
        return tuple(p.name for p in cls.outputs)

    @classmethod
    def check(cls, config: BlockConfig, ctx: CheckContext) -> list[str]:
        """Static problems beyond the config model (files, interpreters). Empty when fine."""
        return []

    @classmethod
    def script_packages(cls, config: BlockConfig, project_dir: Path | None) -> ScriptMeta | None:
        """The packages (PEP 723 header) its script declares, built before the run; None:
        no environment. `ScriptMetaError` for a header it cannot use."""
        return None

    @classmethod
    def cache_facts(cls, config: BlockConfig, ctx: CheckContext) -> dict[str, str]:
        """What the node's result depends on beyond its config and inputs, as named digests
        for its cache key (docs/partial-runs.md): a script file's content, an interpreter."""
        return {}

    @classmethod
    def migrate(cls, config: dict[str, Any], from_version: int) -> dict[str, Any]:
        """The config of a node saved by block version `from_version`, in today's shape."""
        return config

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        """The config a freshly dropped node starts with (must validate)."""
        return {}

    async def run(self, ctx: NodeContext) -> NodeResult:
        """Do the node's work; every block type implements it (the registry checks)."""
        raise NotImplementedError(f"block type {self.type!r} does not implement run")

    #: what `test_credential` needs besides the credential (e.g. "URL"); None: no test
    credential_test: ClassVar[str | None] = None

    @classmethod
    def test_credential(cls, credential: Any, target: str) -> str:
        """Try a credential the way this block would use it (blocking; the editor runs it
        off the GUI thread); a line saying what happened, NopflowError when it failed."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release what the block kept for its run (a connection pool); called once when the
        run ends. A Run makes one instance per block type, so instance state is per run."""

