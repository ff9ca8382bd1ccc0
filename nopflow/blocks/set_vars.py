"""`set`: sets workflow variables (`$vars`) for the nodes that run after it."""

from __future__ import annotations

from typing import Any

from nopflow.blocks.base import Block, Port
from nopflow.blocks.configs import SetConfig
from nopflow.blocks.registry import register


@register
class SetBlock(Block):
    type = "set"
    title = "Set variables"
    category = "Data"
    description = "Set $vars values from templates."
    icon = "set"
    inputs = (Port("in"),)
    outputs = (Port("out"),)
    Config = SetConfig

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"values": {}}
