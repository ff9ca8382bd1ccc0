"""Maps a node's `type` string to its block class: the built-ins, then installed plugins.

Discovery is lazy: nothing is imported until the first look-up, so `nopflow --version`
pays nothing. Built-ins are listed in `BUILTIN`; third-party packages declare theirs in
the `nopflow.blocks` entry-point group (`TYPE = "package.module:BlockClass"`, see
docs/blocks.md). A plugin that fails to import, is not a valid block or reuses a taken
type name is skipped and kept in `plugin_problems()`; it never stops the app.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pydantic import ValidationError

from nopflow.blocks.base import Block, BlockConfig, Port
from nopflow.errors import NopflowError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "nopflow.blocks"

#: the built-in blocks ("module:class", like an entry point's value); the palette sorts them
BUILTIN = (
    "nopflow.blocks.aggregate:AggregateBlock",
    "nopflow.blocks.condition:ConditionBlock",
    "nopflow.blocks.delay:DelayBlock",
    "nopflow.blocks.files:ReadFileBlock",
    "nopflow.blocks.filter:FilterBlock",
    "nopflow.blocks.files:WriteFileBlock",
    "nopflow.blocks.http:HttpBlock",
    "nopflow.blocks.llm:LlmBlock",
    "nopflow.blocks.loop:LoopBlock",
    "nopflow.blocks.merge:MergeBlock",
    "nopflow.blocks.output:OutputBlock",
    "nopflow.blocks.python_script:PythonBlock",
    "nopflow.blocks.set_vars:SetBlock",
    "nopflow.blocks.shell:ShellBlock",
    "nopflow.blocks.sql:SqlBlock",
    "nopflow.blocks.ssh:SshBlock",
    "nopflow.blocks.start:StartBlock",
    "nopflow.blocks.subworkflow:SubworkflowBlock",
    "nopflow.blocks.transform:TransformBlock",
)

_TYPE_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\Z")


class BlockDefinitionError(NopflowError):
    """A class offered as a block type is not a usable one (the message says why)."""


@dataclass(frozen=True)
class PluginProblem:
    """An entry point of the `nopflow.blocks` group that could not be used, and why."""

    entry_point: str
    value: str
    distribution: str
    reason: str

    def __str__(self) -> str:
        return (f"block plugin '{self.entry_point}' ({self.value}, from {self.distribution}) "
                f"was skipped: {self.reason}")


@dataclass
class _State:
    blocks: dict[str, type[Block]]
    origins: dict[str, str]
    problems: list[PluginProblem]


_state: _State | None = None
#: discovery may run on a worker thread (the editor's validator): one at a time, and a
#: `rediscover` waits for a discovery in progress instead of being overwritten by it
_lock = threading.RLock()


def _loaded() -> _State:
    global _state
    state = _state
    if state is not None:
        return state
    with _lock:
        if _state is None:
            found = _State({}, {}, [])
            for ref in BUILTIN:  # a broken built-in is a bug in nopflow: let it raise
                _add(found, _resolve(ref), "nopflow")
            for ep in _entry_points():
                _load_plugin(found, ep)
            for problem in found.problems:
                log.warning("%s", problem)
            _state = found
        return _state


def _entry_points() -> list[EntryPoint]:
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.name, ep.value))


def _resolve(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    obj: Any = import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


def _load_plugin(state: _State, ep: EntryPoint) -> None:
    dist = ep.dist
    where = f"{dist.name} {dist.version}" if dist is not None else "an unknown distribution"
    try:
        cls = ep.load()
        _add(state, cls, where)
    except BlockDefinitionError as exc:
        reason = str(exc)
    except (Exception, SystemExit) as exc:  # any import-time failure of third-party code
        reason = f"cannot load it: {type(exc).__name__}: {exc}"
    else:
        return
    state.problems.append(PluginProblem(ep.name, ep.value, where, reason))


def check_block_class(cls: object) -> type[Block]:
    """`cls` if it is a usable block type; else raise BlockDefinitionError saying why."""
    if not (isinstance(cls, type) and issubclass(cls, Block)) or cls is Block:
        raise BlockDefinitionError(f"{cls!r} is not a subclass of nopflow.blocks.Block")
    name = getattr(cls, "type", None)
    if not isinstance(name, str) or not _TYPE_NAME.match(name):
        raise BlockDefinitionError(
            f"{cls.__name__}.type must be a lower-case name such as 'my_block' "
            f"(letters, digits, '_', dotted parts allowed), not {name!r}"
        )
    if not isinstance(getattr(cls, "title", None), str) or not cls.title:
        raise BlockDefinitionError(f"{cls.__name__} ('{name}') has no title")
    if not (isinstance(cls.Config, type) and issubclass(cls.Config, BlockConfig)):
        raise BlockDefinitionError(
            f"{cls.__name__}.Config must subclass nopflow.blocks.BlockConfig")
    for side, ports in (("inputs", cls.inputs), ("outputs", cls.outputs)):
        if not all(isinstance(p, Port) for p in ports):
            raise BlockDefinitionError(f"{cls.__name__}.{side} must be a tuple of Port")
        names = [p.name for p in ports]
        if len(set(names)) != len(names):
            raise BlockDefinitionError(f"{cls.__name__}.{side} has a port name twice")
    unknown = set(cls.body_ports) - set(cls.output_names())
    if unknown:
        raise BlockDefinitionError(
            f"{cls.__name__}.body_ports names no output port: {', '.join(sorted(unknown))}")
    if not isinstance(cls.version, int) or cls.version < 1:
        raise BlockDefinitionError(f"{cls.__name__}.version must be a whole number ≥ 1")
    if cls.run is Block.run:
        raise BlockDefinitionError(f"{cls.__name__} does not implement run()")
    try:
        cls.Config.model_validate(cls.default_config())
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise BlockDefinitionError(
            f"{cls.__name__}.default_config() does not validate: {first.get('msg')}"
        ) from None
    return cls


def _add(state: _State, cls: object, origin: str) -> None:
    block = check_block_class(cls)
    taken = state.blocks.get(block.type)
    if taken is not None and taken is not block:
        raise BlockDefinitionError(
            f"block type '{block.type}' is already provided by {state.origins[block.type]}"
        )
    state.blocks[block.type] = block
    state.origins[block.type] = origin


def register(cls: type[Block], origin: str = "code") -> type[Block]:
    """Add a block type from code (tests, embedding apps); raises BlockDefinitionError."""
    _add(_loaded(), cls, origin)
    return cls


def unregister(type_name: str) -> None:
    """Remove a block type added with `register` (no-op when it is not there)."""
    state = _loaded()
    state.blocks.pop(type_name, None)
    state.origins.pop(type_name, None)


def get_block(type_name: str) -> type[Block] | None:
    """The block class for a type name, or None when no installed block has it."""
    return _loaded().blocks.get(type_name)


def block_types() -> list[str]:
    """All type names: the built-ins in palette order, then plugins by entry-point name."""
    return list(_loaded().blocks)


def all_blocks() -> list[type[Block]]:
    """All block classes, in the order of `block_types`."""
    return list(_loaded().blocks.values())


def block_origin(type_name: str) -> str | None:
    """Who provides a type: "nopflow" for built-ins, else "DISTRIBUTION VERSION"."""
    return _loaded().origins.get(type_name)


def plugin_problems() -> list[PluginProblem]:
    """Entry points that were skipped at discovery, each with the reason."""
    return list(_loaded().problems)


def rediscover() -> None:
    """Forget what was found and look again on the next call (after installing a plugin)."""
    global _state
    with _lock:
        _state = None
