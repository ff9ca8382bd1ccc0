"""`filter`: keeps the items of a list for which a condition on `$item`/`$index` holds."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from nopflow.blocks.base import Block, Port
from nopflow.blocks.fields import EXPRESSION
from nopflow.blocks.items import ItemsConfig, per_item_context, read_items
from nopflow.engine import expressions as ex
from nopflow.engine.compiled import Condition, compile_condition
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult


class FilterConfig(ItemsConfig):
    """Keeps the items for which `where` holds (a condition, like the condition block's)."""

    where: str = Field(
        min_length=1,
        description="A condition per item, e.g. $item.price > 10 and $item.tags | length",
        json_schema_extra=EXPRESSION,
    )


class FilterBlock(Block):
    type = "filter"
    title = "Filter"
    category = "Data"
    description = "Keep the items of a list for which a condition holds ($item, $index)."
    icon = "filter"
    inputs = (Port("in"),)
    outputs = (Port("out"),)
    Config = FilterConfig
    item_fields: ClassVar[frozenset[str]] = frozenset({"where"})

    def __init__(self) -> None:
        #: compiled `where` per node id (compiled once per node, not per item)
        self._conditions: dict[str, Condition] = {}

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"items": "$prev", "where": "$item != null"}

    async def run(self, ctx: NodeContext) -> NodeResult:
        """The items that pass, in their order; the first item that fails names its index."""
        items = read_items(ctx)
        cond = self._conditions.get(ctx.node_id)
        if cond is None:
            cond = self._conditions[ctx.node_id] = compile_condition(
                ctx.raw("where"), per_item_context(ctx.node_id, "where"))
        try:
            kept = cond.select(ctx.scope, items)
        except ex.ExpressionError as exc:
            raise NodeFailure(str(exc), error_type="ExpressionError") from None
        ctx.note("kept", f"{len(kept)} of {len(items)}")
        return NodeResult(kept)
