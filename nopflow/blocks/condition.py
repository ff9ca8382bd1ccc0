"""`condition`: evaluates an expression and takes the `true` or `false` port."""

from __future__ import annotations

from typing import Any

from nopflow.blocks.base import Block, Port
from nopflow.blocks.configs import ConditionConfig
from nopflow.blocks.registry import register


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
