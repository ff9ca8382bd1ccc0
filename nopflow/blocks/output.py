"""`output`: contributes values to the run's result."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from nopflow.blocks.base import Block, BlockConfig, Port
from nopflow.blocks.fields import JSON
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult


class OutputConfig(BlockConfig):
    """Contributes `values` to the run's result."""

    values: dict[str, Any] = Field(
        default_factory=dict, description="Result values", json_schema_extra=JSON
    )


class OutputBlock(Block):
    type = "output"
    title = "Output"
    category = "Data"
    description = "Add values to the run's result."
    icon = "output"
    inputs = (Port("in"),)
    outputs = ()
    Config = OutputConfig
    contributes_result = True

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"values": {"result": "{{ $prev }}"}}

    async def run(self, ctx: NodeContext) -> NodeResult:
        """Render `values`; the run's `outputs` merge every output block's values."""
        values = ctx.render("values")
        if not isinstance(values, dict):
            raise NodeFailure(f"node {ctx.node_id}, config.values: expected an object",
                              error_type="ValueError")
        return NodeResult(values)
