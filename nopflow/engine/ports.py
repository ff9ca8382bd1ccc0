"""Which output ports a node has: its block's, plus `error` when the node's failures are
routed (`error_mode: "route"`, docs/execution.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nopflow.blocks import Block
    from nopflow.model import Node

#: the port a routed failure leaves by
ERROR_PORT = "error"


def node_output_names(node: Node, block: type[Block]) -> tuple[str, ...]:
    """The output ports of ``node`` (a block of type ``block``)."""
    names = block.output_names()
    if node.error_mode == "route" and ERROR_PORT not in names:
        return (*names, ERROR_PORT)
    return names
