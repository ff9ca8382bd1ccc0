"""Run history rules (docs/history.md)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nopflow.engine.runner import Run
from nopflow.model import Workflow
from nopflow.storage.history import (
    MAX_VALUE_BYTES,
    HistoryRecorder,
    HistoryStore,
    RunRecord,
)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("NOPFLOW_DATA_DIR", str(path))
    return path


def workflow(**extra: object) -> Workflow:
    doc = {
        "id": "wf-hist",
        "name": "Hist",
        "inputs": {"token": {"default": "hunter2-secret", "secret": True}, "n": 1},
        "nodes": [
            {"id": "s", "type": "start"},
            {"id": "o", "type": "output",
             "config": {"values": {"echo": "token is {{ $input.token }}", "n": "{{ $input.n }}"}}},
        ],
        "edges": [{"id": "e", "source": "s", "target": "o"}],
        **extra,
    }
    return Workflow.model_validate(doc)


async def run_once(wf: Workflow, **inputs: object) -> Run:
    run = Run(wf, inputs=inputs)
    recorder = HistoryRecorder(run, HistoryStore())
    await run.execute()
    await recorder.wait()
    return run


async def test_keeps_five_newest_first(data_dir: Path) -> None:
    wf = workflow()
    ids = [(await run_once(wf, n=i)).id for i in range(7)]
    store = HistoryStore()
    runs = store.list_runs(wf.id)
    assert [r.run_id for r in runs] == ids[::-1][:5]
    path = data_dir / "history" / f"{wf.id}.json"
    doc = json.loads(path.read_text())
    assert [p.name for p in (data_dir / "history").iterdir()] == [f"{wf.id}.json"]
    assert [r["run_id"] for r in doc["runs"]] == ids[::-1][:5]
    rec = doc["runs"][0]
    for key in ("run_id", "workflow_id", "workflow_name", "started_at", "ended_at",
                "duration_ms", "status", "inputs", "nodes"):
        assert key in rec
    node = rec["nodes"]["o"]
    for key in ("status", "attempts", "started_at", "ended_at", "duration_ms", "inputs",
                "output", "error", "stderr_tail", "traceback"):
        assert key in node
    assert rec["started_at"].endswith("Z") and rec["status"] == "completed"
    assert store.get_run(ids[-1]) is not None
    assert store.get_run(ids[-1], wf.id) is not None
    assert store.delete_run(ids[-1]) is True
    assert store.get_run(ids[-1]) is None
    assert len(store.list_runs(wf.id)) == 4


async def test_secrets_are_redacted(data_dir: Path) -> None:
    wf = workflow()
    await run_once(wf)
    text = (data_dir / "history" / f"{wf.id}.json").read_text()
    assert "hunter2-secret" not in text
    run = HistoryStore().list_runs(wf.id)[0]
    assert run.inputs["token"] == "***"
    assert run.nodes["o"].output["echo"] == "token is ***"


async def test_big_output_truncated(data_dir: Path) -> None:
    wf = workflow()
    await run_once(wf, n="x" * (MAX_VALUE_BYTES + 10))
    text = (data_dir / "history" / f"{wf.id}.json").read_text()
    assert len(text) < 5 * MAX_VALUE_BYTES
    out = HistoryStore().list_runs(wf.id)[0].nodes["o"].output
    assert out["truncated"] is True and out["size_bytes"] > MAX_VALUE_BYTES


async def test_corrupt_file_set_aside(data_dir: Path) -> None:
    wf = workflow()
    hist = data_dir / "history"
    hist.mkdir(parents=True)
    (hist / f"{wf.id}.json").write_text("{ this is not json")
    store = HistoryStore()
    assert store.list_runs(wf.id) == []
    assert store.warnings and "moved it aside" in store.warnings[0]
    aside = list(hist.glob(f"{wf.id}.corrupt-*.json"))
    assert len(aside) == 1 and aside[0].read_text() == "{ this is not json"
    await run_once(wf)
    assert len(HistoryStore().list_runs(wf.id)) == 1


async def test_failed_and_cancelled_runs_are_recorded(data_dir: Path) -> None:
    wf = Workflow.model_validate({
        "id": "wf-c", "nodes": [{"id": "s", "type": "start"},
                                {"id": "d", "type": "delay", "config": {"seconds": 30}}],
        "edges": [{"id": "e", "source": "s", "target": "d"}],
    })
    run = Run(wf)
    recorder = HistoryRecorder(run)
    run.cancel()
    await run.execute()
    await recorder.wait()
    rec = HistoryStore().list_runs("wf-c")[0]
    assert rec.status == "cancelled" and rec.nodes["d"].status == "cancelled"


def test_two_writer_processes_lose_no_run(data_dir: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from nopflow.storage.history import HistoryStore, RunRecord
        store = HistoryStore(keep=100)
        tag = sys.argv[1]
        for i in range(15):
            store.record(RunRecord(run_id=f"{tag}-{i}", workflow_id="wf-par",
                                   workflow_name="p", status="completed",
                                   started_at=f"2026-01-01T00:00:{i:02d}.000Z"))
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, tag]) for tag in ("a", "b")
    ]
    for p in procs:
        assert p.wait(timeout=60) == 0
    runs = HistoryStore(keep=100).list_runs("wf-par")
    assert {r.run_id for r in runs} == {f"{t}-{i}" for t in "ab" for i in range(15)}


def test_record_roundtrip() -> None:
    rec = RunRecord(run_id="r", workflow_id="w", workflow_name="n", status="failed")
    assert RunRecord.from_dict(rec.to_dict()) == rec
