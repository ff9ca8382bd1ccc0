"""Block types. Importing this package registers every built-in block (DESIGN.md §3)."""

from nopflow.blocks import (  # noqa: F401  (imported for registration)
    condition,
    delay,
    loop,
    merge,
    output,
    python_script,
    set_vars,
    start,
)
from nopflow.blocks.base import Block, BlockConfig, CheckContext, Port
from nopflow.blocks.registry import all_blocks, block_types, get_block, register

__all__ = [
    "Block",
    "BlockConfig",
    "CheckContext",
    "Port",
    "all_blocks",
    "block_types",
    "get_block",
    "register",
]
