"""The workflow file format: round trips, atomic saves, and one clear error per bad file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nopflow.blocks.schema import shipped_schema_text
from nopflow.errors import NopflowError, WorkflowFileError
from nopflow.model import (
    Edge,
    Node,
    Workflow,
    dump_workflow,
    load_workflow,
    parse_workflow,
    save_workflow,
)
from nopflow.resources import resource_path

EXAMPLES = Path(__file__).resolve().parent.parent / "resources" / "examples"

DESIGN_EXAMPLE = {
    "format": "nopflow/workflow",
    "version": 1,
    "id": "5f1c0000000000000000000000000001",
    "name": "Nightly report",
    "settings": {"error_mode": "stop", "max_parallel": 4, "python": None,
                 "executor": {"kind": "local"}},
    "variables": {"threshold": 10},
    "inputs": {"name": {"default": "world"}},
    "nodes": [
        {"id": "start", "type": "start", "title": "Start", "position": [0, 0], "config": {}},
        {"id": "calc", "type": "python", "title": "Compute", "position": [240, 0],
         "config": {"code": "import json,sys\nd=json.load(sys.stdin)\n"
                            "print(json.dumps({'n': d['x']*2}))",
                    "inputs": {"x": "{{ $vars.threshold }}"}, "timeout_s": 30},
         "retry": {"max_attempts": 1, "initial_delay_s": 1.0, "multiplier": 2.0,
                   "max_delay_s": 30.0},
         "error_mode": None},
    ],
    "edges": [{"id": "e1", "source": "start", "source_port": "out", "target": "calc",
               "target_port": "in"}],
}


def write(tmp_path: Path, content: bytes | str, name: str = "w.nopflow.json") -> Path:
    p = tmp_path / name
    p.write_bytes(content.encode() if isinstance(content, str) else content)
    return p


def test_design_example_loads_with_every_field(tmp_path: Path) -> None:
    wf = load_workflow(write(tmp_path, json.dumps(DESIGN_EXAMPLE)))
    assert wf.name == "Nightly report"
    assert wf.settings.max_parallel == 4 and wf.settings.executor.kind == "local"
    assert wf.variables == {"threshold": 10}
    assert wf.inputs["name"].default == "world"
    calc = wf.node("calc")
    assert calc is not None and calc.config["timeout_s"] == 30
    assert calc.retry.max_attempts == 1 and calc.error_mode is None
    assert wf.edges[0].source_port == "out" and wf.edges[0].target_port == "in"


def test_round_trip_is_identical(tmp_path: Path) -> None:
    wf = load_workflow(write(tmp_path, json.dumps(DESIGN_EXAMPLE)))
    out = tmp_path / "copy.nopflow.json"
    save_workflow(wf, out)
    again = load_workflow(out)
    assert again == wf
    assert dump_workflow(again) == out.read_text(encoding="utf-8")
    assert json.loads(out.read_text())["nodes"][1]["config"] == DESIGN_EXAMPLE["nodes"][1]["config"]


def test_defaults_fill_a_minimal_file(tmp_path: Path) -> None:
    wf = load_workflow(write(tmp_path, '{"format": "nopflow/workflow", "version": 1}'))
    assert wf.settings.error_mode == "stop" and wf.settings.max_parallel == 4
    assert wf.nodes == [] and wf.edges == [] and len(wf.id) >= 16


def test_save_is_atomic_and_keeps_old_file_when_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.nopflow.json"
    wf = Workflow(name="first", nodes=[Node(id="s", type="start")])
    save_workflow(wf, path)
    before = path.read_text()

    def boom(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(WorkflowFileError, match="No space left"):
        save_workflow(Workflow(name="second"), path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.nopflow.json"]  # no temp file left


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "file is empty"),
        (b"{not json", "invalid JSON at line 1, column 2"),
        (b'{"format": "nopflow/workflow",\n "version": 1,\n}', "line 3"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"version": 1}', "not a nopflow workflow"),
        (b'{"format": "nopflow/workflow"}', "'version' must be a whole number"),
        (b'{"format": "nopflow/workflow", "version": 99}', "newer nopflow (format version 99)"),
        (b'{"format": "nopflow/workflow", "version": 0}', "unknown format version 0"),
        (b'{"format": "nopflow/workflow", "version": 1, "nodes": {}}', "$.nodes"),
        (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path: Path, content: bytes, expected: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(WorkflowFileError) as info:
        load_workflow(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message


def test_error_names_json_path_and_node(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(DESIGN_EXAMPLE))
    doc["nodes"][1]["retry"]["max_attempts"] = "three"
    with pytest.raises(WorkflowFileError) as info:
        load_workflow(write(tmp_path, json.dumps(doc)))
    err = info.value
    assert err.json_path == "$.nodes[1].retry.max_attempts"
    assert err.node_id == "calc"
    assert "(node calc)" in str(err)


def test_unknown_field_is_reported_not_dropped(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(DESIGN_EXAMPLE))
    doc["settings"]["erorr_mode"] = "continue"
    with pytest.raises(WorkflowFileError, match=r"\$\.settings\.erorr_mode: unknown field"):
        load_workflow(write(tmp_path, json.dumps(doc)))


def test_missing_unreadable_and_huge_files(tmp_path: Path) -> None:
    with pytest.raises(WorkflowFileError, match="no such file"):
        load_workflow(tmp_path / "nope.nopflow.json")
    with pytest.raises(WorkflowFileError, match="is a folder"):
        load_workflow(tmp_path)
    big = write(tmp_path, b" " * (17 * 2**20) + b"{}")
    with pytest.raises(WorkflowFileError, match="limited to 16 MB"):
        load_workflow(big)


def test_ten_megabyte_junk_is_one_clear_error(tmp_path: Path) -> None:
    junk = write(tmp_path, b'{"format": "nopflow/workflow", "version": 1, "nodes": ['
                 + b'{"id": 1},' * (10 * 2**20 // 10) + b"]}")
    with pytest.raises(WorkflowFileError, match="invalid JSON"):
        load_workflow(junk)


def test_input_shorthand_and_secret_flag() -> None:
    wf = parse_workflow('{"format": "nopflow/workflow", "version": 1, '
                        '"inputs": {"name": "world", "token": {"default": "", "secret": true}}}')
    assert wf.input_defaults() == {"name": "world", "token": ""}
    assert wf.secret_inputs() == {"token"}


def test_node_ids_must_be_usable_in_expressions() -> None:
    with pytest.raises(WorkflowFileError, match=r"\$\.nodes\[0\]\.id"):
        parse_workflow('{"format": "nopflow/workflow", "version": 1, '
                       '"nodes": [{"id": "has space", "type": "start"}]}')


def test_retry_delay_is_capped_exponential() -> None:
    node = Node(id="n", type="delay", retry={"max_attempts": 5, "initial_delay_s": 0.5,
                                             "multiplier": 3, "max_delay_s": 4})
    assert [node.retry.delay(k) for k in (1, 2, 3, 4)] == [0.5, 1.5, 4.0, 4.0]


def test_shipped_schema_matches_models() -> None:
    shipped = resource_path("workflow.schema.json").read_text(encoding="utf-8")
    assert shipped == shipped_schema_text(), "run `python -m nopflow.blocks.schema` to regenerate"


def test_shipped_examples_load() -> None:
    files = sorted(EXAMPLES.glob("*.nopflow.json"))
    assert len(files) >= 3
    for f in files:
        wf = load_workflow(f)
        assert wf.nodes and wf.edges


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
doc_like = st.fixed_dictionaries(
    {"format": st.sampled_from(["nopflow/workflow", "x", None]),
     "version": st.one_of(st.integers(-2, 3), json_values)},
    optional={"nodes": json_values, "edges": json_values, "settings": json_values,
              "inputs": json_values, "variables": json_values, "name": json_values},
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(json_values, doc_like, st.binary(max_size=64)))
def test_loader_raises_only_its_own_error(value: object) -> None:
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    try:
        wf = parse_workflow(data, "fuzz.nopflow.json")
    except WorkflowFileError as exc:
        assert str(exc).startswith("fuzz.nopflow.json")
    except NopflowError as exc:  # pragma: no cover - must not happen
        pytest.fail(f"unexpected error type {type(exc).__name__}: {exc}")
    else:
        assert isinstance(wf, Workflow)


def test_edges_default_ports() -> None:
    e = Edge(source="a", target="b")
    assert (e.source_port, e.target_port) == ("out", "in") and e.id


def test_a_file_without_id_gets_a_stable_one(tmp_path: Path) -> None:
    path = write(tmp_path, '{"format": "nopflow/workflow", "version": 1}')
    first, second = load_workflow(path), load_workflow(path)
    assert first.id == second.id  # history (keyed by id) survives reloads
    other = write(tmp_path, '{"format": "nopflow/workflow", "version": 1}', "other.nopflow.json")
    assert load_workflow(other).id != first.id


def test_nan_and_infinity_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '{"format": "nopflow/workflow", "version": 1, "variables": {"x": NaN}}')
    with pytest.raises(WorkflowFileError, match="NaN is not allowed"):
        load_workflow(path)


def test_special_files_are_refused_without_reading_forever() -> None:
    with pytest.raises(WorkflowFileError, match="not a regular file"):
        load_workflow("/dev/zero")
