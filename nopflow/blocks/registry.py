"""The palette: maps a node's `type` string to its block class.

Block modules register themselves on import; `nopflow.blocks` imports all built-in ones,
so `get_block` works as soon as the package is imported.
"""

from __future__ import annotations

from typing import TypeVar

from nopflow.blocks.base import Block

_REGISTRY: dict[str, type[Block]] = {}

B = TypeVar("B", bound=type[Block])


def register(cls: B) -> B:
    """Class decorator: make a block type available by its `type` name."""
    name = cls.type
    existing = _REGISTRY.get(name)
    if existing is not None and existing is not cls:
        raise ValueError(f"block type {name!r} is already registered by {existing.__name__}")
    _REGISTRY[name] = cls
    return cls


def get_block(type_name: str) -> type[Block] | None:
    """The block class for a type name, or None when nobody registered it."""
    return _REGISTRY.get(type_name)


def block_types() -> list[str]:
    """All registered type names, in registration (palette) order."""
    return list(_REGISTRY)


def all_blocks() -> list[type[Block]]:
    """All registered block classes, in registration (palette) order."""
    return list(_REGISTRY.values())
