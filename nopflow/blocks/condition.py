"""`condition`: evaluates an expression and takes the `true` or `false` port."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from nopflow.blocks.base import Block, BlockConfig, Port
from nopflow.blocks.fields import EXPRESSION
from nopflow.engine import expressions as ex
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult


class ConditionConfig(BlockConfig):
    """Routes the input to `true` or `false`; only the taken port's edges are live."""

    expression: str = Field(
        min_length=1,
        description='A condition, e.g. $input.n > 5 and $vars.mode == "fast"',
        json_schema_extra=EXPRESSION,
    )


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
