"""`merge`: waits for all live inputs and combines their outputs."""

from __future__ import annotations

from typing import Any

from nopflow.blocks.base import Block, Port
from nopflow.blocks.configs import MergeConfig
from nopflow.blocks.registry import register


@register
class MergeBlock(Block):
    type = "merge"
    title = "Merge"
    category = "Flow"
    description = "Wait for every live input; output keyed by node id, or lists joined."
    icon = "merge"
    inputs = (Port("in", many=True),)
    outputs = (Port("out"),)
    Config = MergeConfig

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"mode": "by_node"}
