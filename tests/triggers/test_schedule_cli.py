"""`nopflow schedule enable|disable|list|install|uninstall` and cron catch-up."""

from __future__ import annotations

import itertools
import json
import os
import plistlib
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from trighelpers import history, nopflow, write_flow


def test_list_json_shows_the_next_three_fires_of_each_trigger(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    path = write_flow(tmp_path, [
        {"id": "morning", "type": "cron", "cron": "30 7 * * *", "timezone": "America/New_York"},
        {"id": "tick", "type": "interval", "seconds": 90},
        {"id": "drop", "type": "file", "path": "inbox"},
        {"id": "off", "type": "cron", "cron": "0 0 * * *", "enabled": False},
    ], name="Morning report")
    assert nopflow("schedule", "list", "--json").stdout.strip() == "[]"
    on = nopflow("schedule", "enable", str(path))
    assert on.returncode == 0 and "enabled, 3 trigger(s)" in on.stderr
    assert "already enabled" in nopflow("schedule", "enable", str(path)).stderr
    before = datetime.now(timezone.utc)
    [item] = json.loads(nopflow("schedule", "list", "--json").stdout)
    assert item["file"] == str(path.resolve())
    assert item["workflow_id"] == "flow" and item["name"] == "Morning report"
    trig = {t["id"]: t for t in item["triggers"]}
    morning = [datetime.fromisoformat(t) for t in trig["morning"]["next"]]
    assert len(morning) == 3
    for when in morning:
        assert when > before and (when.hour, when.minute) == (7, 30)
        assert when.utcoffset() in (timedelta(hours=-5), timedelta(hours=-4))  # EST / EDT
    assert [(b.date() - a.date()).days for a, b in itertools.pairwise(morning)] == [1, 1]
    ticks = [datetime.fromisoformat(t) for t in trig["tick"]["next"]]
    assert [round((b - a).total_seconds()) for a, b in itertools.pairwise(ticks)] == [90, 90]
    assert trig["drop"]["next"] == [] and trig["off"] == {"id": "off", "type": "cron",
                                                          "enabled": False, "next": []}
    text = nopflow("schedule", "list").stdout
    assert "scheduler: not running" in text and "Morning report" in text
    assert "drop [file]: on demand" in text and "off [cron] (disabled)" in text
    off = nopflow("schedule", "disable", str(path))
    assert off.returncode == 0 and "disabled" in off.stderr
    assert json.loads(nopflow("schedule", "list", "--json").stdout) == []


def _state(wf_id: str, tid: str, when: datetime) -> None:
    data = Path(os.environ["NOPFLOW_DATA_DIR"])
    data.mkdir(parents=True, exist_ok=True)
    (data / "scheduler-state.json").write_text(
        json.dumps({"last_fire": {f"{wf_id}/{tid}": when.isoformat()}}))


@pytest.mark.parametrize("catch_up", ["once", "skip"])
def test_catch_up_once_runs_one_missed_fire_skip_runs_none(tmp_path: Path,
                                                           catch_up: str) -> None:
    path = write_flow(tmp_path, [{"id": "nightly", "type": "cron", "cron": "0 0 * * *",
                                  "timezone": "UTC", "catch_up": catch_up}])
    assert nopflow("schedule", "enable", str(path)).returncode == 0
    _state("flow", "nightly", datetime.now(timezone.utc) - timedelta(days=3))
    proc = nopflow("scheduler", "--duration", "2")
    assert proc.returncode == 0
    runs = history(path)
    if catch_up == "skip":
        assert runs == []
        return
    [run] = runs  # three midnights were missed: one run
    assert run["trigger"]["catch_up"] is True
    missed = datetime.fromisoformat(run["trigger"]["scheduled_for"])
    assert (missed.hour, missed.minute) == (0, 0)
    assert datetime.now(timezone.utc) - missed < timedelta(days=1)
    assert "catch_up: once" in proc.stderr
    # the scheduler remembered it: the next start has nothing to catch up
    assert nopflow("scheduler", "--duration", "1").returncode == 0
    assert len(history(path)) == 1


def test_the_first_start_never_catches_up(tmp_path: Path) -> None:
    path = write_flow(tmp_path, [{"id": "nightly", "type": "cron", "cron": "0 0 * * *",
                                  "catch_up": "once"}])
    assert nopflow("schedule", "enable", str(path)).returncode == 0
    assert nopflow("scheduler", "--duration", "1").returncode == 0
    assert history(path) == []


@pytest.mark.skipif(sys.platform != "linux", reason="systemd user units are Linux's")
def test_install_writes_a_systemd_unit_that_verifies_and_uninstall_removes_it(
        tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    proc = nopflow("schedule", "install", env=env)
    assert proc.returncode == 0, proc.stderr
    unit = tmp_path / "xdg" / "systemd" / "user" / "nopflow-scheduler.service"
    assert f"wrote the systemd user unit {unit}" in proc.stdout
    assert "systemctl --user status nopflow-scheduler" in proc.stdout
    text = unit.read_text()
    assert f"ExecStart={sys.executable} -m nopflow scheduler" in text
    assert f'Environment="NOPFLOW_DATA_DIR={os.environ["NOPFLOW_DATA_DIR"]}"' in text
    if shutil.which("systemd-analyze"):
        check = subprocess.run(["systemd-analyze", "verify", "--user", str(unit)],
                               capture_output=True, text=True, timeout=60, env=env)
        problems = [ln for ln in (check.stdout + check.stderr).splitlines()
                    if "nopflow-scheduler" in ln]
        assert problems == [], check.stdout + check.stderr
    gone = nopflow("schedule", "uninstall", env=env)
    assert gone.returncode == 0 and f"removed {unit}" in gone.stdout
    assert not unit.exists()
    assert "nothing to remove" in nopflow("schedule", "uninstall", env=env).stdout


def test_the_launchd_agent_and_the_task_scheduler_command() -> None:
    from nopflow.triggers import autostart

    doc = plistlib.loads(autostart.launchd_plist())
    assert doc["Label"] == "org.nopflow.scheduler"
    assert doc["ProgramArguments"] == [sys.executable, "-m", "nopflow", "scheduler"]
    assert doc["RunAtLoad"] is True
    assert doc["EnvironmentVariables"]["NOPFLOW_DATA_DIR"] == os.environ["NOPFLOW_DATA_DIR"]
    cmd = autostart.schtasks_create()
    assert cmd[:2] == ["schtasks", "/Create"] and "ONLOGON" in cmd
    assert cmd[-1].endswith("-m nopflow scheduler")
