"""File format version 2: its new fields, and version-1 files migrated on load, saved as 2."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nopflow.errors import WorkflowFileError
from nopflow.model import (
    FORMAT_VERSION,
    UNPINNED,
    CronTrigger,
    IntervalTrigger,
    Node,
    WebhookTrigger,
    Workflow,
    load_workflow,
    parse_workflow,
    save_workflow,
    workflow_from_document,
)

V1 = {
    "format": "nopflow/workflow",
    "version": 1,
    "id": "v1-file",
    "name": "Old",
    "settings": {"error_mode": "continue", "max_parallel": 2},
    "inputs": {"x": 20},
    "nodes": [
        {"id": "start", "type": "start", "position": [0, 0]},
        {"id": "wait", "type": "delay", "config": {"seconds": 0}, "error_mode": "skip-branch"},
        {"id": "out", "type": "output", "config": {"values": {"x": "{{ $input.x }}"}}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "wait"},
        {"id": "e2", "source": "wait", "target": "out"},
    ],
}

V2_FULL = {
    "format": "nopflow/workflow",
    "version": 2,
    "id": "v2-file",
    "name": "New",
    "settings": {"env_allow": ["HOME", "API_TOKEN"], "overlap": "queue"},
    "nodes": [
        {"id": "start", "type": "start"},
        {"id": "a", "type": "delay", "version": 1, "config": {"seconds": 0},
         "disabled": True, "cache": True, "pinned": {"rows": [1, 2]}, "error_mode": "route"},
        {"id": "b", "type": "delay", "pinned": None},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "a"}],
    "triggers": [
        {"id": "nightly", "type": "cron", "cron": "0 3 * * *", "timezone": "Europe/Paris",
         "catch_up": "once", "inputs": {"day": "today"}},
        {"id": "tick", "type": "interval", "seconds": 60, "enabled": False},
        {"id": "drop", "type": "file", "path": "inbox", "pattern": "*.csv"},
        {"id": "hook", "type": "webhook", "credential": "hook_token", "respond": "result"},
    ],
    "groups": [{"id": "g1", "title": "Fetch", "rect": [-20, -20, 400, 200],
                "color": "#3366ccaa"}],
}


def write(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_current_version_is_2() -> None:
    assert FORMAT_VERSION == 2
    assert Workflow().version == 2


def test_version_1_file_loads_as_version_2_with_every_node_at_block_version_1(
    tmp_path: Path,
) -> None:
    wf = load_workflow(write(tmp_path / "old.nopflow.json", V1))
    assert wf.version == 2
    assert [n.version for n in wf.nodes] == [1, 1, 1]
    assert wf.settings.error_mode == "continue" and wf.settings.max_parallel == 2
    assert wf.node("wait").error_mode == "skip-branch"  # type: ignore[union-attr]
    assert wf.triggers == [] and wf.groups == [] and wf.settings.env_allow == []
    assert wf.settings.overlap == "skip"
    assert not any(n.disabled or n.cache or n.is_pinned for n in wf.nodes)


def test_version_1_file_is_saved_as_version_2(tmp_path: Path) -> None:
    src = write(tmp_path / "old.nopflow.json", V1)
    out = tmp_path / "saved.nopflow.json"
    save_workflow(load_workflow(src), out)
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["version"] == 2
    assert [n["version"] for n in saved["nodes"]] == [1, 1, 1]
    assert [n["config"] for n in saved["nodes"]] == [{}, {"seconds": 0}, V1["nodes"][2]["config"]]
    assert "pinned" not in saved["nodes"][0]  # unpinned means no key, not null
    assert load_workflow(out) == load_workflow(src)


def test_migration_never_mutates_the_callers_document() -> None:
    doc = copy.deepcopy(V1)
    before = copy.deepcopy(doc)
    wf = workflow_from_document(doc, "mine.nopflow.json")
    assert doc == before
    assert wf.version == 2
    wf.nodes[1].config["seconds"] = 5  # and the workflow does not alias it
    assert doc["nodes"][1]["config"] == {"seconds": 0}


@pytest.mark.parametrize(
    ("where", "key", "value", "path"),
    [
        ("node", "disabled", True, "$.nodes[1].disabled"),
        ("node", "pinned", None, "$.nodes[1].pinned"),
        ("node", "version", 1, "$.nodes[1].version"),
        ("top", "triggers", [], "$.triggers"),
        ("top", "groups", [], "$.groups"),
        ("settings", "env_allow", ["HOME"], "$.settings.env_allow"),
    ],
)
def test_version_1_file_with_a_version_2_field_names_file_path_and_fix(
    tmp_path: Path, where: str, key: str, value: object, path: str
) -> None:
    doc = copy.deepcopy(V1)
    target = {"node": doc["nodes"][1], "top": doc, "settings": doc["settings"]}[where]
    target[key] = value
    file = write(tmp_path / "mixed.nopflow.json", doc)
    with pytest.raises(WorkflowFileError) as info:
        load_workflow(file)
    err = info.value
    assert err.path == str(file) and err.json_path == path
    assert "new in format version 2" in str(err) and "set it to 2" in str(err)
    assert err.node_id == ("wait" if where == "node" else None)


def test_newer_format_is_refused_naming_the_file(tmp_path: Path) -> None:
    file = write(tmp_path / "future.nopflow.json", {**V2_FULL, "version": 3})
    with pytest.raises(WorkflowFileError, match=r"future\.nopflow\.json: \$\.version: "
                       r"written by a newer nopflow \(format version 3\)"):
        load_workflow(file)


def test_every_version_2_field_round_trips(tmp_path: Path) -> None:
    wf = load_workflow(write(tmp_path / "full.nopflow.json", V2_FULL))
    assert wf.settings.env_allow == ["HOME", "API_TOKEN"] and wf.settings.overlap == "queue"
    a, b = wf.node("a"), wf.node("b")
    assert a is not None and b is not None
    assert a.disabled and a.cache and a.error_mode == "route" and a.version == 1
    assert a.is_pinned and a.pinned == {"rows": [1, 2]}
    assert b.is_pinned and b.pinned is None  # "pinned": null pins null
    start = wf.node("start")
    assert start is not None and not start.is_pinned and start.pinned is UNPINNED
    assert start.version is None  # no catalog given: left for the block step
    cron, tick, drop, hook = wf.triggers
    assert isinstance(cron, CronTrigger) and cron.catch_up == "once"
    assert cron.timezone == "Europe/Paris" and cron.inputs == {"day": "today"} and cron.enabled
    assert isinstance(tick, IntervalTrigger) and tick.seconds == 60 and not tick.enabled
    assert drop.type == "file" and drop.events == ["created", "modified"]
    assert drop.debounce_s == 1
    assert isinstance(hook, WebhookTrigger) and hook.method == "POST" and hook.path is None
    assert wf.groups[0].rect == (-20, -20, 400, 200) and wf.groups[0].color == "#3366ccaa"
    out = tmp_path / "again.nopflow.json"
    save_workflow(wf, out)
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["nodes"][1]["pinned"] == {"rows": [1, 2]}
    assert "pinned" in saved["nodes"][2] and saved["nodes"][2]["pinned"] is None
    assert "pinned" not in saved["nodes"][0] and "version" not in saved["nodes"][0]
    assert load_workflow(out) == wf


def test_unpinning_and_copies_keep_absent_distinct_from_null() -> None:
    node = Node(id="n", type="delay", pinned=None)
    assert node.is_pinned
    unpinned = node.model_copy(update={"pinned": UNPINNED})
    assert not unpinned.is_pinned and "pinned" not in unpinned.model_dump(mode="json")
    assert not Node(id="n", type="delay").model_copy(deep=True).is_pinned
    assert Node.model_validate(node.model_dump(mode="json")).is_pinned


@pytest.mark.parametrize(
    ("patch", "path", "message"),
    [
        ({"triggers": [{"id": "t", "seconds": 5}]}, "$.triggers[0]",
         "'type' is missing (one of: cron, interval, file, webhook)"),
        ({"triggers": [{"type": "interval", "seconds": 0.5}]}, "$.triggers[0].interval.seconds",
         "greater than or equal to 1"),
        ({"triggers": [{"type": "webhook"}]}, "$.triggers[0].webhook.credential",
         "required field is missing"),
        ({"triggers": [{"type": "cron", "cron": "* * * * *", "catch_up": "all"}]},
         "$.triggers[0].cron.catch_up", "'skip' or 'once'"),
        ({"groups": [{"rect": [0, 0, -1, 5]}]}, "$.groups[0].rect[2]", "greater than"),
        ({"groups": [{"color": "red"}]}, "$.groups[0].color", "should match pattern"),
        ({"settings": {"overlap": "later"}}, "$.settings.overlap", "'skip', 'queue' or 'allow'"),
        ({"settings": {"env_allow": ["NOT OK"]}}, "$.settings.env_allow[0]", "pattern"),
        ({"settings": {"error_mode": "route"}}, "$.settings.error_mode", "'continue'"),
        ({"nodes": [{"id": "n", "type": "delay", "version": 0}]}, "$.nodes[0].version",
         "greater than or equal to 1"),
    ],
)
def test_bad_version_2_fields_name_their_json_path(
    patch: dict[str, object], path: str, message: str
) -> None:
    doc = {"format": "nopflow/workflow", "version": 2, **patch}
    with pytest.raises(WorkflowFileError) as info:
        parse_workflow(json.dumps(doc), "bad.nopflow.json")
    assert info.value.json_path == path
    assert message in str(info.value) and str(info.value).startswith("bad.nopflow.json")


def test_cli_runs_a_version_1_file(tmp_path: Path) -> None:
    file = write(tmp_path / "old.nopflow.json", V1)
    env_data = tmp_path / "data"
    proc = subprocess.run(
        [sys.executable, "-m", "nopflow", "run", str(file), "--json"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "NOPFLOW_DATA_DIR": str(env_data)},
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "completed" and result["outputs"] == {"x": 20}


def test_shipped_schema_accepts_every_version_2_field_and_flags_a_bad_trigger() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from nopflow.resources import resource_path

    schema = json.loads(resource_path("workflow.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    assert [e.message for e in validator.iter_errors(V2_FULL)] == []
    bad = copy.deepcopy(V2_FULL)
    bad["triggers"][1]["seconds"] = "often"
    bad["groups"][0]["rect"] = [0, 0, 10]
    found = sorted("/".join(map(str, e.absolute_path)) for e in validator.iter_errors(bad))
    assert found == ["groups/0/rect", "triggers/1"]  # oneOf: no branch fits this trigger


def test_editor_keeps_every_version_2_field_through_open_and_save(
    tmp_path: Path, qtbot  # type: ignore[no-untyped-def]
) -> None:
    pytest.importorskip("PySide6")
    from nopflow.blocks import get_block
    from nopflow.ui.main_window import MainWindow

    path = write(tmp_path / "full.nopflow.json", V2_FULL)
    expected = load_workflow(path, blocks=get_block)
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert win.open_file(str(path))
    assert win.save()
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["triggers"] == [t.model_dump(mode="json") for t in expected.triggers]
    assert saved["groups"][0]["rect"] == [-20, -20, 400, 200]
    assert saved["nodes"][1]["pinned"] == {"rows": [1, 2]} and saved["nodes"][2]["pinned"] is None
    assert saved["settings"]["env_allow"] == ["HOME", "API_TOKEN"]
    assert load_workflow(path) == expected
    win.validator.run_now()  # finish the window's background check inside this test
    win.validator.wait()
    win.undo.setClean()
    win.close()
