"""`nopflow validate` names every bad trigger; good ones of every type pass."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from trighelpers import nopflow, write_flow


def test_valid_triggers_of_every_type_pass(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "inbox").mkdir()
    path = write_flow(tmp_path, [
        {"id": "daily", "type": "cron", "cron": "0 7 * * 1-5", "timezone": "Europe/Berlin"},
        {"id": "secs", "type": "cron", "cron": "*/10 * * * * *", "catch_up": "once"},
        {"id": "tick", "type": "interval", "seconds": 1},
        {"id": "drop", "type": "file", "path": "inbox", "pattern": "*.csv"},
        {"id": "hook", "type": "webhook", "credential": "hooktoken"},
    ])
    env = {**os.environ, "NOPFLOW_CRED_HOOKTOKEN_TOKEN": "s3cret-token"}
    proc = nopflow("validate", str(path), env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "valid" in proc.stderr


def test_every_bad_trigger_is_named_at_once(tmp_path: Path) -> None:
    (tmp_path.parent / "elsewhere").mkdir(exist_ok=True)
    path = write_flow(tmp_path / "proj", [
        {"id": "fields", "type": "cron", "cron": "0 7 * *"},
        {"id": "minute", "type": "cron", "cron": "61 * * * *"},
        {"id": "zone", "type": "cron", "cron": "0 7 * * *", "timezone": "Mars/Olympus"},
        {"id": "away", "type": "file", "path": "../../elsewhere"},
        {"id": "gone", "type": "file", "path": "missing"},
        {"id": "hook", "type": "webhook", "credential": "nosuch"},
        {"id": "hook2", "type": "webhook", "credential": "basiccred", "path": "/hooks/flow"},
    ])
    env = {**os.environ, "NOPFLOW_CRED_BASICCRED_USERNAME": "u",
           "NOPFLOW_CRED_BASICCRED_PASSWORD": "pass-word"}
    proc = nopflow("validate", str(path), env=env)
    assert proc.returncode == 2
    lines = proc.stdout.splitlines()
    assert "Traceback" not in proc.stderr
    text = "\n".join(lines)
    assert "trigger fields: cron '0 7 * *' has 4 fields" in text
    assert "trigger minute: cron '61 * * * *': bad minute" in text
    assert "trigger zone: timezone 'Mars/Olympus' is not a known IANA time zone" in text
    assert "trigger away: path '../../elsewhere' is outside the project folder" in text
    assert "trigger gone: path 'missing': folder" in text and "does not exist" in text
    assert "trigger hook: credential: credential 'nosuch' does not exist" in text
    assert "trigger hook2: POST /hooks/flow is also trigger hook's" in text
    assert "trigger hook2: credential: 'basiccred' is a basic credential" in text
    assert "7 problems" in proc.stderr or "8 problems" in proc.stderr


def test_an_unknown_trigger_type_is_a_file_error_naming_the_path(tmp_path: Path) -> None:
    path = write_flow(tmp_path, [{"id": "x", "type": "email"}])
    proc = nopflow("validate", str(path))
    assert proc.returncode == 2
    assert "$.triggers[0]" in proc.stderr and "'email'" in proc.stderr
