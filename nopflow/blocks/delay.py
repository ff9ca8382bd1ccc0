"""`delay`: waits a number of seconds, then passes its input through."""

from __future__ import annotations

from typing import Any

from nopflow.blocks.base import Block, Port
from nopflow.blocks.configs import DelayConfig
from nopflow.blocks.registry import register


@register
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
