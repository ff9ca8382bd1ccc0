"""One node-record shape: what the engine produces is what history keeps and reads back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nopflow.engine.runner import Run
from nopflow.model import Workflow
from nopflow.model.records import NodeRecordData
from nopflow.storage.history import HistoryRecorder, HistoryStore


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("NOPFLOW_DATA_DIR", str(path))
    return path


def flaky_workflow() -> Workflow:
    """`bad` fails twice (retries) and continues; `log` logs a line; `out` gives a result."""
    return Workflow.model_validate({
        "id": "wf-records", "name": "Records",
        "inputs": {"who": "Ann"},
        "nodes": [
            {"id": "s", "type": "start"},
            {"id": "bad", "type": "delay", "title": "Bad delay",
             "config": {"seconds": "{{ $input.nope }}"}, "error_mode": "continue",
             "retry": {"max_attempts": 2, "initial_delay_s": 0.01}},
            {"id": "out", "type": "output", "config": {"values": {"who": "{{ $input.who }}"}}},
        ],
        "edges": [{"id": "e1", "source": "s", "target": "bad"},
                  {"id": "e2", "source": "bad", "target": "out"}],
    })


async def test_history_keeps_the_engine_shape_and_reads_it_back(data_dir: Path) -> None:
    run = Run(flaky_workflow())
    recorder = HistoryRecorder(run, HistoryStore())
    await run.execute()
    await recorder.wait()
    live = run.nodes["bad"].to_data()
    assert live.status == "error" and live.attempts == 2 and live.source == "ran"
    assert [a["attempt"] for a in live.attempt_log] == [1, 2]
    assert all(a["error"] and a["started_at"].endswith("Z") for a in live.attempt_log)
    assert live.title == "Bad delay" and live.type == "delay"

    doc = json.loads((data_dir / "history" / "wf-records.json").read_text())
    stored = doc["runs"][0]["nodes"]["bad"]
    assert set(stored) == set(live.to_dict())
    assert stored["status"] == "error" and stored["attempts"] == 2
    assert stored["source"] == "ran" and stored["reused_from"] is None

    kept = HistoryStore().list_runs("wf-records")[0].nodes
    assert kept["bad"] == live  # nothing to redact or cap here: the same record
    assert kept["out"].output == {"who": "Ann"} and kept["out"].node_id == "out"


def test_a_history_file_from_before_the_shared_shape_still_opens(data_dir: Path) -> None:
    old_node = {
        "status": "error", "attempts": 2, "started_at": "2026-01-01T00:00:00.000Z",
        "ended_at": "2026-01-01T00:00:01.000Z", "duration_ms": 1000, "inputs": {},
        "output": None, "error": "boom", "error_type": "ValueError", "stderr_tail": "warn",
        "traceback": None, "iterations": 0, "details": {},
        "attempt_log": [
            {"attempt": 1, "started_at": 1767225600.0, "ended_at": 1767225600.5,
             "duration_s": 0.5, "error": "boom", "error_type": "ValueError"},
            {"attempt": 2, "started_at": 1767225600.6, "ended_at": 1767225601.0,
             "duration_s": 0.4, "error": "boom", "error_type": "ValueError"},
        ],
    }
    folder = data_dir / "history"
    folder.mkdir(parents=True)
    (folder / "wf-old.json").write_text(json.dumps({
        "format": "nopflow/history", "version": 1, "workflow_id": "wf-old",
        "workflow_name": "Old", "runs": [{
            "run_id": "r1", "workflow_id": "wf-old", "workflow_name": "Old",
            "status": "failed", "started_at": "2026-01-01T00:00:00.000Z",
            "nodes": {"calc": old_node}}],
    }))
    store = HistoryStore()
    node = store.list_runs("wf-old")[0].nodes["calc"]
    assert store.warnings == []
    assert node.node_id == "calc" and node.source == "ran" and node.reused_from is None
    assert node.status == "error" and node.attempts == 2 and node.stderr_tail == "warn"
    assert [a["duration_ms"] for a in node.attempt_log] == [500, 400]
    assert node.attempt_log[0]["started_at"] == "2026-01-01T00:00:00.000Z"
    assert node.summary() == {"status": "error", "attempts": 2, "duration_ms": 1000,
                              "output": None, "error": "boom", "source": "ran",
                              "reused_from": None}


def test_from_dict_round_trips_to_dict() -> None:
    data = NodeRecordData(node_id="n", status="success", attempts=1, output={"a": [1]},
                          attempt_log=({"attempt": 1, "started_at": None, "ended_at": None,
                                        "duration_ms": 3, "error": None, "error_type": None},),
                          details={"ports": ["true"]}, source="reused", reused_from="r0")
    assert NodeRecordData.from_dict(json.loads(json.dumps(data.to_dict()))) == data
