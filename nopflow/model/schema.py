"""JSON Schema of the workflow format, generated from the pydantic models.

Run `python -m nopflow.model.schema` to regenerate `resources/workflow.schema.json`;
a test fails when the shipped schema and the models drift apart.
"""

from __future__ import annotations

import json
from typing import Any

from nopflow.model.fileio import atomic_write_text
from nopflow.model.workflow import Workflow

SCHEMA_ID = "https://nopflow.invalid/schema/workflow-v1.json"


def workflow_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a version-1 workflow file."""
    schema = Workflow.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "nopflow workflow (format version 1)"
    return schema


def schema_text() -> str:
    """The schema as the exact text shipped in resources/."""
    return json.dumps(workflow_schema(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    """Write the schema next to the other resources."""
    from nopflow.resources import resource_path

    target = resource_path("workflow.schema.json")
    atomic_write_text(target, schema_text())
    print(target)


if __name__ == "__main__":
    main()
