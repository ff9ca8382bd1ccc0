"""`merge`: waits for all live inputs and combines their outputs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from nopflow.blocks.base import Block, BlockConfig, Port
from nopflow.engine.context import NodeContext, NodeResult


class MergeConfig(BlockConfig):
    """Waits for its live inputs and combines them."""

    mode: Literal["by_node", "concat"] = Field(
        default="by_node",
        description="by_node: output keyed by upstream node id; concat: lists joined",
    )


class MergeBlock(Block):
    type = "merge"
    title = "Merge"
    category = "Flow"
    description = "Wait for every live input; output keyed by node id, or lists joined."
    icon = "merge"
    inputs = (Port("in"),)
    outputs = (Port("out"),)
    Config = MergeConfig

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"mode": "by_node"}

    async def run(self, ctx: NodeContext) -> NodeResult:
        """Combine the live inputs: keyed by upstream node id, or lists concatenated.

        In `concat` mode a non-list input is appended as one item, so mixing lists and
        single values still gives one flat list.
        """
        if ctx.raw("mode") == "concat":
            out: list[Any] = []
            for value in ctx.by_node.values():
                if isinstance(value, list):
                    out.extend(value)
                else:
                    out.append(value)
            return NodeResult(out)
        return NodeResult(dict(ctx.by_node))
