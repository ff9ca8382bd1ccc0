"""The workflow JSON Schema with each block type's config model (see nopflow.model.schema).

`python -m nopflow.blocks.schema` rewrites the shipped `resources/workflow.schema.json`
from the built-in blocks; `nopflow schema` prints the same for every installed block.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from nopflow.blocks.base import Block, BlockConfig
from nopflow.blocks.registry import all_blocks, block_origin
from nopflow.model.fileio import atomic_write_text
from nopflow.model.schema import schema_text
from nopflow.resources import resource_path

log = logging.getLogger(__name__)


def config_models(blocks: Iterable[type[Block]]) -> dict[str, type[BlockConfig]]:
    """Block type -> its config model; a model with no JSON Schema (a plugin's field type
    pydantic cannot describe) is left out with a warning, so its nodes keep the generic
    shape."""
    out: dict[str, type[BlockConfig]] = {}
    for block in blocks:
        try:
            block.Config.model_json_schema(mode="validation")
        except Exception as exc:  # third-party models: any pydantic schema failure
            log.warning("block '%s' (%s): its config has no JSON Schema, left out: %s",
                        block.type, block_origin(block.type), exc)
            continue
        out[block.type] = block.Config
    return out


def builtin_blocks() -> list[type[Block]]:
    """The blocks nopflow ships (what the file in resources/ describes)."""
    return [b for b in all_blocks() if block_origin(b.type) == "nopflow"]


def installed_schema_text() -> str:
    """The schema for every block installed here, plugins included."""
    return schema_text(config_models(all_blocks()))


def shipped_schema_text() -> str:
    """The schema as shipped in resources/: the built-in blocks only."""
    return schema_text(config_models(builtin_blocks()))


def main() -> None:
    """Rewrite resources/workflow.schema.json from the built-in blocks."""
    target = resource_path("workflow.schema.json")
    atomic_write_text(target, shipped_schema_text())
    print(target)


if __name__ == "__main__":
    main()
