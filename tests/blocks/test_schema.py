"""resources/workflow.schema.json checks each node's `config` against its block's model, so
an editor like VS Code flags `"timeout_s": "abc"`; plugin node types keep the generic shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nopflow.resources import resource_path

jsonschema = pytest.importorskip("jsonschema")

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def shipped() -> dict[str, Any]:
    return json.loads(resource_path("workflow.schema.json").read_text(encoding="utf-8"))


def errors(doc: dict[str, Any]) -> list[tuple[str, str]]:
    validator = jsonschema.Draft202012Validator(shipped())
    return sorted(("/".join(str(p) for p in e.absolute_path), e.message)
                  for e in validator.iter_errors(doc))


def workflow(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"format": "nopflow/workflow", "version": 2, "name": "t", "nodes": list(nodes),
            "edges": []}


def test_the_schema_itself_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(shipped())


def test_shipped_examples_validate() -> None:
    for f in sorted(EXAMPLES.glob("*.nopflow.json")):
        assert errors(json.loads(f.read_text(encoding="utf-8"))) == [], f.name


def test_a_python_node_with_a_text_timeout_is_flagged_at_its_path() -> None:
    doc = workflow({"id": "calc", "type": "python", "config": {"code": "print(1)",
                                                                "timeout_s": "abc"}})
    assert errors(doc) == [("nodes/0/config/timeout_s", "'abc' is not of type 'number'")]


def test_unknown_config_keys_and_wrong_enums_are_flagged_per_type() -> None:
    doc = workflow(
        {"id": "d", "type": "delay", "config": {"secs": 1}},
        {"id": "m", "type": "merge", "config": {"mode": "zip"}},
        {"id": "c", "type": "condition", "config": {}},
    )
    found = errors(doc)
    assert ("nodes/0/config", "Additional properties are not allowed ('secs' was unexpected)") \
        in found
    assert ("nodes/1/config/mode", "'zip' is not one of ['by_node', 'concat']") in found
    assert ("nodes/2/config", "'expression' is a required property") in found


def test_a_node_of_a_type_not_installed_keeps_the_generic_shape() -> None:
    ok = workflow({"id": "p", "type": "someone_elses_block", "config": {"anything": [1, 2]}})
    assert errors(ok) == []
    bad = workflow({"id": "p", "type": "someone_elses_block", "config": [1, 2]})
    assert [path for path, _ in errors(bad)] == ["nodes/0/config"]


def test_nopflow_schema_prints_the_schema_of_the_installed_blocks() -> None:
    res = subprocess.run([sys.executable, "-m", "nopflow", "schema"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == shipped()
