"""`loop`: runs the nodes reached from `body` once per item, then fires `done`."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, model_validator

from nopflow.blocks.base import Block, BlockConfig, Port
from nopflow.blocks.fields import EXPRESSION, number_or_template
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult


class LoopConfig(BlockConfig):
    """Runs the nodes reached from `body` once per item; `done` gets all results. Set
    `items` or `count`, not both."""

    items: str | list[Any] | None = Field(
        default=None,
        description="An expression or a JSON list to iterate over",
        json_schema_extra=EXPRESSION,
    )
    count: int | str | None = Field(
        default=None, description="Run the body this many times (instead of items)"
    )
    parallel: int = Field(default=1, ge=1, le=1024, description="Items run at once")

    @model_validator(mode="after")
    def _one_source(self) -> LoopConfig:
        if self.items is None and self.count is None:
            raise ValueError("set 'items' (expression or list) or 'count'")
        if self.items is not None and self.count is not None:
            raise ValueError("set either 'items' or 'count', not both")
        if self.count is not None:
            number_or_template(self.count, "count")
        return self


class LoopBlock(Block):
    type = "loop"
    title = "Loop"
    category = "Flow"
    description = "Run the body once per item (or N times); 'done' gets every result."
    icon = "loop"
    inputs = (Port("in"),)
    outputs = (Port("body"), Port("done"))
    Config = LoopConfig
    body_ports = frozenset({"body"})

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"items": "{{ $prev.items }}", "parallel": 1}

    async def run(self, ctx: NodeContext) -> NodeResult:
        """Run the body once per item (sequentially, or `parallel` items at once).

        Inside the body `$loop` is {item, index, first, last} and the body's entry nodes get
        the item as `$prev`. `count: N` iterates over 0..N-1. The `done` output is
        {"items": [...], "results": [...]}, each result the output of the body's last sink
        that succeeded for that item (null if none did).
        """
        items = _items(ctx)
        ctx.note("items", len(items))
        parallel = int(ctx.raw("parallel") or 1)
        results = await ctx.run_loop_body(items, parallel)
        # `body` fired when there was an item; only `done` leads on past the loop (the
        # body's nodes are scheduled by run_loop_body, never through these ports)
        fired = frozenset({"body", "done"}) if items else frozenset({"done"})
        return NodeResult({"items": items, "results": results}, fired)


#: Most passes a `count` loop makes: its output holds every item and result in memory.
MAX_COUNT = 1_000_000


def _items(ctx: NodeContext) -> list[Any]:
    where = f"node {ctx.node_id}"
    if ctx.raw("count") is not None:
        raw = ctx.render("count")
        try:
            if isinstance(raw, bool):
                raise ValueError
            count = int(raw)
            if isinstance(raw, float) and raw != count:
                raise ValueError
        except (TypeError, ValueError):
            raise NodeFailure(f"{where}, config.count: expected a whole number, got {raw!r}",
                              error_type="ValueError") from None
        if not 0 <= count <= MAX_COUNT:  # the output keeps one item and one result per pass
            raise NodeFailure(f"{where}, config.count: must be 0 to {MAX_COUNT:,}, got {count}",
                              error_type="ValueError")
        return list(range(count))
    raw = ctx.raw("items")
    if isinstance(raw, str) and "{{" not in raw:
        try:
            value = json.loads(raw)
        except ValueError:
            value = ctx.evaluate("items")  # a bare expression such as $prev.rows
    else:
        value = ctx.render("items")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        kind = "null" if value is None else type(value).__name__
        raise NodeFailure(f"{where}, config.items: expected a list, got {kind}",
                          error_type="TypeError")
    return value
