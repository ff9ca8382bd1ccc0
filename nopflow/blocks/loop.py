"""`loop`: runs the nodes reached from `body` once per item, then fires `done`."""

from __future__ import annotations

from typing import Any

from nopflow.blocks.base import Block, Port
from nopflow.blocks.configs import LoopConfig
from nopflow.blocks.registry import register


@register
class LoopBlock(Block):
    type = "loop"
    title = "Loop"
    category = "Flow"
    description = "Run the body once per item (or N times); 'done' gets every result."
    icon = "loop"
    inputs = (Port("in"),)
    outputs = (Port("body"), Port("done"))
    Config = LoopConfig

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"items": "{{ $prev.items }}", "parallel": 1}
