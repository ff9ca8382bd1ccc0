"""`nopflow scheduler` as a user runs it: a real process, real timers, real files, signals."""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path

from trighelpers import Scheduler, history, nopflow, wait_history, write_flow


def enable(path: Path) -> None:
    proc = nopflow("schedule", "enable", str(path))
    assert proc.returncode == 0, proc.stderr


def slow_nodes(seconds: float) -> list[dict]:
    return [{"id": "start", "type": "start"},
            {"id": "wait", "type": "delay", "config": {"seconds": seconds}}]


def slow_flow(folder: Path, seconds: float, overlap: str, wf_id: str) -> Path:
    return write_flow(folder, [{"id": "tick", "type": "interval", "seconds": 1}],
                      wf_id=wf_id, nodes=slow_nodes(seconds), settings={"overlap": overlap})


def test_an_interval_trigger_fires_every_second_like_nopflow_run(tmp_path: Path) -> None:
    path = write_flow(tmp_path, [{"id": "tick", "type": "interval", "seconds": 1,
                                  "inputs": {"who": "timer"}}])
    enable(path)
    t0 = time.time()
    proc = nopflow("scheduler", "--duration", "3.6")
    assert proc.returncode == 0, proc.stderr
    runs = history(path)
    assert len(runs) == 3, proc.stderr
    for run in runs:
        assert run["status"] == "completed"
        trig = run["trigger"]
        assert trig["type"] == "interval" and trig["id"] == "tick"
        assert run["outputs"]["who"] == "timer"  # the trigger's inputs are the run inputs
        assert run["outputs"]["trigger"] == trig  # and $trigger is what history keeps
    first = min(r["trigger"]["scheduled_for"] for r in runs)
    from datetime import datetime

    assert 0.8 < datetime.fromisoformat(first).timestamp() - t0 < 2.5  # first after 1 s
    assert proc.stderr.count("fired: run") == 3
    assert proc.stderr.count("completed in") == 3


def test_a_file_dropped_in_the_watched_folder_fires_a_run(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = write_flow(tmp_path, [{"id": "drop", "type": "file", "path": "inbox",
                                  "pattern": "*.csv", "debounce_s": 0.2}])
    enable(path)
    with Scheduler("--duration", "30") as sched:
        sched.wait_for("loaded, triggers: drop (file)")
        time.sleep(0.5)
        (inbox / "ignored.txt").write_text("not a csv")
        (inbox / "data.csv").write_text("a,b\n1,2\n")
        sched.wait_for("fired: run")
        [run] = wait_history(path, 1)
        assert sched.stop() == 0
    assert run["trigger"]["path"] == os.path.join("inbox", "data.csv")
    assert run["trigger"]["event"] == "created"
    assert "ignored" not in sched.text()
    assert "SIGTERM: stopping" in sched.text() and "scheduler stopped" in sched.text()


def test_overlap_skip_skips_a_fire_while_the_workflow_runs(tmp_path: Path) -> None:
    path = slow_flow(tmp_path, 1.7, "skip", "slow")
    enable(path)
    proc = nopflow("scheduler", "--duration", "4.5")
    assert proc.returncode == 0
    assert "skip: the workflow is still running (settings.overlap: skip)" in proc.stderr
    runs = history(path)
    assert [r["status"] for r in runs if r["status"] == "completed"]
    assert len(runs) <= 3


def test_overlap_queue_runs_fires_one_after_another_and_allow_side_by_side(
        tmp_path: Path) -> None:
    queued = slow_flow(tmp_path / "q", 1.5, "queue", "queued")
    allowed = slow_flow(tmp_path / "a", 1.5, "allow", "allowed")
    enable(queued)
    enable(allowed)
    proc = nopflow("scheduler", "--duration", "4.4")
    assert proc.returncode == 0
    assert "skip" not in proc.stderr

    def spans(path: Path) -> list[tuple[float, float]]:
        from datetime import datetime

        out = []
        for r in history(path):
            if r["status"] == "completed":
                out.append((datetime.fromisoformat(r["started_at"]).timestamp(),
                            datetime.fromisoformat(r["ended_at"]).timestamp()))
        return sorted(out)

    q = spans(queued)
    assert len(q) >= 2
    assert all(b[0] >= a[1] - 0.05 for a, b in itertools.pairwise(q))  # never two at once
    a = spans(allowed)
    assert len(a) >= 2
    assert any(b[0] < a_[1] for a_, b in itertools.pairwise(a))  # the next began before the end


def test_enable_disable_and_edits_apply_without_a_restart(tmp_path: Path) -> None:
    one = write_flow(tmp_path / "one", [{"id": "tick", "type": "interval", "seconds": 1,
                                         "inputs": {"who": "first"}}], wf_id="one")
    two = write_flow(tmp_path / "two", [{"id": "tick2", "type": "interval", "seconds": 1}],
                     wf_id="two")
    enable(one)
    with Scheduler("--duration", "40") as sched:
        sched.wait_for("one.nopflow.json: trigger tick (interval) fired")
        enable(two)
        sched.wait_for("two.nopflow.json: trigger tick2 (interval) fired")
        # an edit: the trigger's inputs change, and the next runs see the new value
        doc = json.loads(one.read_text())
        doc["triggers"][0]["inputs"] = {"who": "edited"}
        one.write_text(json.dumps(doc))
        sched.wait_for("one.nopflow.json: reloaded")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if any(r["outputs"].get("who") == "edited" for r in history(one)
                   if r["status"] == "completed"):
                break
            time.sleep(0.2)
        else:
            raise AssertionError(sched.text())
        assert nopflow("schedule", "disable", str(two)).returncode == 0
        sched.wait_for("two.nopflow.json: disabled")
        n = len(history(two))
        time.sleep(2.2)
        assert len(history(two)) <= n + 1  # at most a run that had already started
        assert sched.stop() == 0


def test_a_broken_workflow_is_logged_and_the_others_go_on(tmp_path: Path) -> None:
    bad = tmp_path / "bad" / "bad.nopflow.json"
    bad.parent.mkdir()
    bad.write_text('{"format": "nopflow/workflow", "version": 2, "nodes": [')
    bad_cron = write_flow(tmp_path / "cron", [{"id": "c", "type": "cron", "cron": "99 * * * *"},
                                              {"id": "ok", "type": "interval", "seconds": 1}],
                          wf_id="cron")
    good = write_flow(tmp_path / "good", [{"id": "tick", "type": "interval", "seconds": 1}],
                      wf_id="good")
    enable(good)
    enable(bad_cron)
    # enable refuses a file that does not load ...
    refused = nopflow("schedule", "enable", str(bad))
    assert refused.returncode == 2 and "bad.nopflow.json" in refused.stderr
    # ... and one that breaks after it was enabled is logged while the others go on
    doc = json.loads(good.read_text())
    shadow = bad.parent / "later.nopflow.json"
    shadow.write_text(json.dumps(doc | {"id": "later"}))
    enable(shadow)
    shadow.write_text("{ not json")
    proc = nopflow("scheduler", "--duration", "2.6")
    assert proc.returncode == 0
    assert "later.nopflow.json: cannot load, its triggers are off" in proc.stderr
    assert "cron.nopflow.json: trigger c is off: cron '99 * * * *': bad minute" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(history(good)) >= 2
    assert len(history(bad_cron)) >= 2  # its good trigger still fires


def test_sigterm_cancels_a_running_run_and_records_it(tmp_path: Path) -> None:
    path = slow_flow(tmp_path, 30, "skip", "long")
    enable(path)
    with Scheduler("--duration", "60") as sched:
        sched.wait_for("fired: run")
        wait_history(path, 1, done=False)
        time.sleep(0.5)
        t0 = time.monotonic()
        assert sched.stop() == 0
        assert time.monotonic() - t0 < 10
    [run] = history(path)
    assert run["status"] == "cancelled"
    assert "cancelled in" in sched.text()


def test_duration_stops_the_scheduler_and_cancels_what_runs(tmp_path: Path) -> None:
    path = slow_flow(tmp_path, 30, "skip", "cut")
    enable(path)
    t0 = time.monotonic()
    proc = nopflow("scheduler", "--duration", "1.5")
    assert proc.returncode == 0
    assert time.monotonic() - t0 < 25  # the 30 s run did not hold it up
    [run] = history(path)
    assert run["status"] == "cancelled"


def test_a_second_scheduler_is_refused_while_one_runs(tmp_path: Path) -> None:
    path = write_flow(tmp_path, [])
    enable(path)
    with Scheduler("--duration", "30") as sched:
        sched.wait_for("scheduler started")
        listed = nopflow("schedule", "list")
        assert "scheduler: running" in listed.stdout
        second = nopflow("scheduler", "--duration", "1")
        assert second.returncode == 2
        assert "a scheduler is already running" in second.stderr
        assert sched.stop() == 0
    assert "scheduler: not running" in nopflow("schedule", "list").stdout
