"""`condition`: evaluates an expression and takes the `true` or `false` port."""

from __future__ import annotations

from typing import Any

from nopflow.blocks.base import Block, Port
from nopflow.blocks.configs import ConditionConfig
from nopflow.blocks.registry import register
from nopflow.engine import expressions as ex
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult


@register
class ConditionBlock(Block):
    type = "condition"
    title = "Condition"
    category = "Flow"
    description = "Send the input down 'true' or 'false' depending on an expression."
    icon = "condition"
    inputs = (Port("in"),)
    outputs = (Port("true"), Port("false"))
    Config = ConditionConfig

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"expression": "$prev.ok == true"}

    async def run(self, ctx: NodeContext) -> NodeResult:
        """Evaluate the expression; fire `true` or `false`; pass the input through."""
        text = ctx.raw("expression")
        try:
            decision = ex.evaluate_condition(
                text, ctx.scope, f"node {ctx.node_id}, config.expression"
            )
        except ex.ExpressionError as exc:
            raise NodeFailure(str(exc), error_type="ExpressionError") from None
        ctx.note("decision", decision)
        return NodeResult(ctx.prev, frozenset({"true" if decision else "false"}))
