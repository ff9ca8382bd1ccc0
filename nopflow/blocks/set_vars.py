"""`set`: sets workflow variables (`$vars`) for the nodes that run after it."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from nopflow.blocks.base import Block, BlockConfig, Port
from nopflow.blocks.fields import JSON
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult


class SetConfig(BlockConfig):
    """Sets workflow variables ($vars) for the nodes that run after it."""

    values: dict[str, Any] = Field(
        default_factory=dict, description="Variables to set", json_schema_extra=JSON
    )


class SetBlock(Block):
    type = "set"
    title = "Set variables"
    category = "Data"
    description = "Set $vars values from templates."
    icon = "set"
    inputs = (Port("in"),)
    outputs = (Port("out"),)
    Config = SetConfig

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"values": {}}

    async def run(self, ctx: NodeContext) -> NodeResult:
        """Render `values` and update `$vars` for nodes that start after this one.

        The output is the input passed through unchanged (like delay and condition), so a
        set block can sit anywhere in a chain; read the new values with `$vars.NAME`.
        """
        values = ctx.render("values")
        if not isinstance(values, dict):
            raise NodeFailure(f"node {ctx.node_id}, config.values: expected an object",
                              error_type="ValueError")
        ctx.set_vars(values)
        ctx.note("set", sorted(values))
        return NodeResult(ctx.prev)
