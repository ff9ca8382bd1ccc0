"""JSON Schema of the workflow format, generated from the pydantic models.

Each node's `config` is checked against its block's config model: the caller passes the
models by type name (the model layer knows no blocks). Run `python -m nopflow.blocks.schema`
to regenerate `resources/workflow.schema.json` (built-in blocks); `nopflow schema` prints it
for the installed blocks, plugins included. A test fails when the shipped file drifts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from nopflow.model.workflow import Workflow

SCHEMA_ID = "https://nopflow.invalid/schema/workflow-v2.json"


def workflow_schema(node_configs: Mapping[str, type[BaseModel]] | None = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a workflow file (format version 2).

    `node_configs` maps a block type to its config model; a node of that type must have a
    matching `config`. Nodes of other types (a plugin not installed here) keep the generic
    shape: `config` is any object.
    """
    configs = dict(node_configs or {})
    if configs:
        schema = _with_node_configs(configs)
    else:
        schema = Workflow.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "nopflow workflow (format version 2)"
    return schema


def _with_node_configs(configs: dict[str, type[BaseModel]]) -> dict[str, Any]:
    """Workflow schema whose Node def says, per type: if `type` is T, `config` is T's model."""
    models = [Workflow, *dict.fromkeys(configs.values())]
    refs, top = models_json_schema([(m, "validation") for m in models],
                                   ref_template="#/$defs/{model}")
    defs: dict[str, Any] = top["$defs"]
    workflow_ref = refs[(Workflow, "validation")]["$ref"].rsplit("/", 1)[-1]
    schema = defs.pop(workflow_ref)
    node = defs["Node"]
    node["allOf"] = [
        {
            "if": {"properties": {"type": {"const": type_name}}, "required": ["type"]},
            "then": {"properties": {"config": refs[(model, "validation")]}},
        }
        for type_name, model in sorted(configs.items())
    ]
    schema["$defs"] = defs
    return schema


def schema_text(node_configs: Mapping[str, type[BaseModel]] | None = None) -> str:
    """The schema as JSON text, in the exact form shipped in resources/."""
    return json.dumps(workflow_schema(node_configs), indent=2, sort_keys=True) + "\n"
