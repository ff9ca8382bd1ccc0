"""Block types (docs/blocks.md): the block interface and the registry that finds them.

Importing this package is cheap: block modules load on the first look-up (`get_block`,
`all_blocks`), built-ins and `nopflow.blocks` entry points alike.
"""

from nopflow.blocks.base import Block, BlockConfig, CheckContext, Port
from nopflow.blocks.registry import (
    BlockDefinitionError,
    PluginProblem,
    all_blocks,
    block_origin,
    block_types,
    get_block,
    plugin_problems,
    register,
    unregister,
)

__all__ = [
    "Block",
    "BlockConfig",
    "BlockDefinitionError",
    "CheckContext",
    "PluginProblem",
    "Port",
    "all_blocks",
    "block_origin",
    "block_types",
    "get_block",
    "plugin_problems",
    "register",
    "unregister",
]
