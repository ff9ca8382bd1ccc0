"""`text_template`: renders a `{{ }}` text template and passes the text on (an example plugin).

Everything a block is sits in this one module: its config model (what the file's `config`
holds and the inspector shows), its palette entry, its declared behaviour and `run`.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field

from nopflow.blocks import Block, BlockConfig, Port
from nopflow.engine.context import NodeContext, NodeResult


class TextTemplateConfig(BlockConfig):
    """A text with `{{ }}` placeholders, e.g. "Hello {{ $input.name }}"."""

    template: str = Field(
        min_length=1, description="Text with {{ }} placeholders, e.g. Hello {{ $prev.name }}"
    )
    case: Literal["keep", "upper", "lower"] = Field(
        default="keep", description="keep the text as rendered, or change it to upper/lower case"
    )


class TextTemplateBlock(Block):
    type = "text_template"
    title = "Text template"
    category = "Text"
    description = "Render a text from a {{ }} template; output {\"text\": ...}."
    icon = "block"
    inputs = (Port("in"),)
    outputs = (Port("out"),)
    Config = TextTemplateConfig
    version = 1

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"template": "Hello {{ $prev.name }}", "case": "keep"}

    async def run(self, ctx: NodeContext) -> NodeResult:
        """Render the template against the node's scope and apply the case."""
        value = ctx.render("template")  # "{{ $prev.n }}" alone renders to the value itself
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        case = ctx.raw("case") or "keep"
        if case == "upper":
            text = text.upper()
        elif case == "lower":
            text = text.lower()
        return NodeResult({"text": text})
