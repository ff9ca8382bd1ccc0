"""`transform`: maps each item of a list through templated values with `$item`/`$index`."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from nopflow.blocks.base import Block, Port
from nopflow.blocks.fields import JSON
from nopflow.blocks.items import ItemsConfig, per_item_context, read_items
from nopflow.engine import expressions as ex
from nopflow.engine.compiled import CompiledValue, compile_value
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult


class TransformConfig(ItemsConfig):
    """Maps every item through `map`, evaluated once per item with $item and $index."""

    map: dict[str, Any] | str = Field(
        description='Per item: an object of templated values, e.g. {"name": '
        '"{{ $item.name | upper }}"}, or one template for a list of plain values',
        json_schema_extra=JSON,
    )


class TransformBlock(Block):
    type = "transform"
    title = "Transform"
    category = "Data"
    description = "Map each item of a list to a new object ($item, $index)."
    icon = "transform"
    inputs = (Port("in"),)
    outputs = (Port("out"),)
    Config = TransformConfig
    item_fields: ClassVar[frozenset[str]] = frozenset({"map"})

    def __init__(self) -> None:
        #: compiled `map` per node id: compiled once per node, not per item or per run
        self._maps: dict[str, CompiledValue] = {}

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"items": "$prev", "map": {"index": "{{ $index }}", "value": "{{ $item }}"}}

    async def run(self, ctx: NodeContext) -> NodeResult:
        """The list of mapped items, in order; the first item that fails names its index."""
        items = read_items(ctx)
        compiled = self._maps.get(ctx.node_id)
        if compiled is None:
            compiled = self._maps[ctx.node_id] = compile_value(
                ctx.raw("map"), per_item_context(ctx.node_id, "map"))
        try:
            out = compiled.map(ctx.scope, items)
        except ex.ExpressionError as exc:
            raise NodeFailure(str(exc), error_type="ExpressionError") from None
        ctx.note("items", len(items))
        return NodeResult(out)
