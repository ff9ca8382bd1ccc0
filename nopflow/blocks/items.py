"""What the per-item blocks (transform, filter, aggregate) share: the `items` field, read
once per node run, and the config models' common part."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from nopflow.blocks.base import BlockConfig
from nopflow.blocks.fields import EXPRESSION
from nopflow.engine import expressions as ex
from nopflow.engine.context import NodeContext, NodeFailure


class ItemsConfig(BlockConfig):
    """Config shared by blocks that work on a list: where the list comes from."""

    items: str | list[Any] = Field(
        default="$prev",
        description="The list to work on: an expression such as $prev.rows, or a JSON list",
        json_schema_extra=EXPRESSION,
    )


def read_items(ctx: NodeContext) -> list[Any]:
    """The node's list of items; a clear node error when `items` gives something else."""
    raw = ctx.raw("items")
    value = ctx.evaluate("items") if isinstance(raw, str) else ctx.render("items")
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        ctx.set_inputs(value)
        return value
    got = f"{ex._kind(value)} {ex._preview(value)}" if value is not None else "null"
    hint = ""
    if isinstance(value, dict):
        lists = [k for k, v in value.items() if isinstance(v, list)]
        if lists:
            expr = raw if isinstance(raw, str) else "$prev"
            hint = f"; point items at the list inside it, e.g. {expr.strip()}.{lists[0]}"
    raise NodeFailure(f"node {ctx.node_id}, config.items: expected a list, got {got}{hint}",
                      error_type="TypeError")


def per_item_context(node_id: str, field: str) -> Any:
    """The error label of one item's evaluation, built only when an error is reported."""
    return lambda index: f"node {node_id}, item {index}, config.{field}"
