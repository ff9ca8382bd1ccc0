"""`start`: the entry point of a run; its output is the run inputs."""

from __future__ import annotations

from nopflow.blocks.base import Block, BlockConfig, Port
from nopflow.engine.context import NodeContext, NodeResult


class StartConfig(BlockConfig):
    """The start block has nothing to configure: its output is the run inputs."""


class StartBlock(Block):
    type = "start"
    title = "Start"
    category = "Flow"
    description = "Where a run begins; passes the run inputs on."
    icon = "start"
    inputs = ()
    outputs = (Port("out"),)
    Config = StartConfig
    is_entry = True

    async def run(self, ctx: NodeContext) -> NodeResult:
        """Output the run inputs (workflow defaults overlaid with the run's own values)."""
        return NodeResult(ctx.scope.input)
