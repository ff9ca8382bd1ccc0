"""`merge`: waits for all live inputs and combines their outputs."""

from __future__ import annotations

from typing import Any

from nopflow.blocks.base import Block, Port
from nopflow.blocks.configs import MergeConfig
from nopflow.blocks.registry import register
from nopflow.engine.context import NodeContext, NodeResult


@register
class MergeBlock(Block):
    type = "merge"
    title = "Merge"
    category = "Flow"
    description = "Wait for every live input; output keyed by node id, or lists joined."
    icon = "merge"
    inputs = (Port("in", many=True),)
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
