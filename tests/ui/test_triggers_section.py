"""The workflow form's Triggers section: add/edit/remove as undo steps, a cron in words
with its next fire times, enabling for the scheduler, and the status-bar indicator."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from nopflow.model import save_workflow
from nopflow.triggers import registry
from nopflow.ui.inspector.workflow_form import WorkflowForm

from .conftest import small_workflow

REPO = Path(__file__).resolve().parents[2]


def triggers_section(window):  # type: ignore[no-untyped-def]
    window.scene.select_only([])
    window.inspector.follow_selection()
    form = window.inspector.form()
    assert isinstance(form, WorkflowForm)
    return form.triggers


def test_add_edit_remove_triggers_as_undo_steps(window):  # type: ignore[no-untyped-def]
    window.set_workflow(small_workflow(), None)
    section = triggers_section(window)
    assert section.list.count() == 0
    assert "Save the workflow" in section.status.text() and not section.schedule.isEnabled()
    section.add("cron")
    [trig] = window.doc.header.triggers
    assert trig.type == "cron" and trig.id == "cron1" and trig.cron == "0 7 * * 1-5"
    assert section.list.item(0).text() == "cron1 · cron · 0 7 * * 1-5"
    # the cron in words, and the next fire times
    assert "07:00" in section.about.text() and "Monday through Friday" in section.about.text()
    assert section.about.text().count(",") >= 2 and "Next:" in section.about.text()
    # editing the JSON changes the model; a bad value is an inline error, model untouched
    doc = json.loads(section.text.toPlainText())
    section.text.setPlainText(json.dumps({**doc, "cron": "*/15 * * * *",
                                          "timezone": "Europe/Berlin"}))
    assert window.doc.header.triggers[0].cron == "*/15 * * * *"
    assert "Every 15 minutes" in section.about.text()
    section.text.setPlainText(json.dumps({**doc, "catch_up": "twice"}))
    assert section.error.isVisibleTo(section) and "catch_up" in section.error.text()
    assert window.doc.header.triggers[0].cron == "*/15 * * * *"
    section.text.setPlainText(json.dumps({**doc, "cron": "61 * * * *"}))
    assert "bad minute" in section.about.text()
    section.add("interval")
    assert [t.type for t in window.doc.header.triggers] == ["cron", "interval"]
    assert section.list.currentRow() == 1 and "Next:" in section.about.text()
    QTest.mouseClick(section.enabled, Qt.MouseButton.LeftButton)
    assert window.doc.header.triggers[1].enabled is False
    assert section.list.item(1).text().endswith("(off)")
    QTest.mouseClick(section.remove_button, Qt.MouseButton.LeftButton)
    assert [t.type for t in window.doc.header.triggers] == ["cron"]
    window.undo.undo()
    assert [t.id for t in window.doc.header.triggers] == ["cron1", "interval1"]
    assert section.list.count() == 2


def test_enable_for_the_scheduler_and_the_status_bar(window, tmp_path):  # type: ignore[no-untyped-def]
    wf = small_workflow()
    path = tmp_path / "flow.nopflow.json"
    save_workflow(wf, path)
    window.open_file(str(path))
    section = triggers_section(window)
    assert section.schedule.isEnabled() and not section.schedule.isChecked()
    assert "No scheduler is running" in section.status.text()
    QTest.mouseClick(section.schedule, Qt.MouseButton.LeftButton)
    assert registry.is_enabled(path)
    assert window.scheduler_status.text() == ""
    proc = subprocess.Popen([sys.executable, "-m", "nopflow", "scheduler", "--duration", "30"],
                            cwd=REPO, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while registry.running_scheduler() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        window.scheduler_status.check()
        assert window.scheduler_status.text() == "⏱ Scheduler running"
        section.set_triggers(list(window.doc.header.triggers))
        assert "A scheduler is running" in section.status.text()
    finally:
        proc.terminate()
        proc.wait(20)
    window.scheduler_status.check()
    assert window.scheduler_status.text() == ""
    QTest.mouseClick(section.schedule, Qt.MouseButton.LeftButton)
    assert not registry.is_enabled(path)
