"""`delay`: waits a number of seconds, then passes its input through."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from nopflow.blocks.base import Block, BlockConfig, Port
from nopflow.blocks.fields import number_or_template
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult


class DelayConfig(BlockConfig):
    """Waits, then passes its input through."""

    seconds: float | str = Field(default=1.0, description="Seconds to wait ({{ }} allowed)")

    @model_validator(mode="after")
    def _not_negative(self) -> DelayConfig:
        number_or_template(self.seconds, "seconds")
        return self


class DelayBlock(Block):
    type = "delay"
    title = "Delay"
    category = "Flow"
    description = "Wait, then pass the input on unchanged."
    icon = "delay"
    inputs = (Port("in"),)
    outputs = (Port("out"),)
    Config = DelayConfig

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"seconds": 1.0}

    async def run(self, ctx: NodeContext) -> NodeResult:
        """Wait (pause-aware, cancellable at once), then pass the input through."""
        raw = ctx.render("seconds")
        try:
            if isinstance(raw, bool):
                raise ValueError
            seconds = float(raw)
        except (TypeError, ValueError):
            raise NodeFailure(
                f"node {ctx.node_id}, config.seconds: expected a number of seconds, got {raw!r}",
                error_type="ValueError",
            ) from None
        if not seconds >= 0 or seconds == float("inf"):
            raise NodeFailure(
                f"node {ctx.node_id}, config.seconds: must be 0 or more, got {raw!r}",
                error_type="ValueError",
            )
        if seconds:
            await ctx.sleep(seconds)
        return NodeResult(ctx.prev)
