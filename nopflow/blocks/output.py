"""`output`: contributes values to the run's result."""

from __future__ import annotations

from typing import Any

from nopflow.blocks.base import Block, Port
from nopflow.blocks.configs import OutputConfig
from nopflow.blocks.registry import register


@register
class OutputBlock(Block):
    type = "output"
    title = "Output"
    category = "Data"
    description = "Add values to the run's result."
    icon = "output"
    inputs = (Port("in"),)
    outputs = ()
    Config = OutputConfig

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"values": {"result": "{{ $prev }}"}}
