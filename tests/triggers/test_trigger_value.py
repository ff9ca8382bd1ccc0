"""`$trigger` in expressions: manual runs say so, a given trigger reaches the run, history
and the `--json` result keep it."""

from __future__ import annotations

import json
from pathlib import Path

from trighelpers import nopflow, write_flow

from nopflow.engine.runner import Run
from nopflow.model import load_workflow
from nopflow.storage.history import HistoryRecorder, HistoryStore


def test_a_manual_run_has_a_manual_trigger(tmp_path: Path) -> None:
    path = write_flow(tmp_path, [])
    proc = nopflow("run", str(path), "--json", "-q")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["outputs"]["trigger"] == {"type": "manual"}
    assert result["trigger"] == {"type": "manual"}
    hist = json.loads(nopflow("history", str(path), "--json").stdout)
    assert hist[0]["trigger"] == {"type": "manual"}


async def test_a_fired_trigger_is_visible_to_expressions_and_kept_in_history(
        tmp_path: Path) -> None:
    path = write_flow(tmp_path, [])
    wf = load_workflow(path)
    fired = {"type": "interval", "id": "tick", "fired_at": "2026-12-07T10:00:00+00:00",
             "scheduled_for": "2026-12-07T10:00:00+00:00"}
    run = Run(wf, project_dir=tmp_path, trigger=fired)
    store = HistoryStore()
    recorder = HistoryRecorder(run, store, workflow_file=path)
    await run.execute()
    await recorder.wait()
    assert run.status == "completed"
    assert run.outputs["trigger"] == fired
    assert run.result()["trigger"] == fired
    [record] = store.list_runs(wf.id)
    assert record.trigger == fired
