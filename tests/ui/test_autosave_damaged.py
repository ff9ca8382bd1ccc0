"""A damaged autosave copy never stops the editor: it starts, says so without a modal
question, and the copy is renamed out of the way (never deleted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from nopflow.model import Node, Workflow, dump_workflow, save_workflow
from nopflow.storage.locations import autosave_dir
from nopflow.ui.app import open_window
from nopflow.ui.autosave import AUTOSAVE_FORMAT, autosave_path


def _copy_of(wf_text: str) -> str:
    return json.dumps({"format": AUTOSAVE_FORMAT, "file": None, "saved_at": 4e9})[:-1] + \
        ', "workflow": ' + wf_text + "}"


GOOD = _copy_of(dump_workflow(Workflow(name="Kept", nodes=[Node(id="s", type="start")])))
DAMAGED = {
    "null": b"null",
    "list": b"[]",
    "string": b'"just a string"',
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "deep-workflow": _copy_of("[" * 900 + "]" * 900).encode(),
    "not-utf8": b'{"format": "nopflow/autosave", "workflow": "\xff\xfe"}',
    "truncated": GOOD.encode()[: len(GOOD) // 2],
    "empty": b"",
    "wrong-types": json.dumps({"format": AUTOSAVE_FORMAT, "file": 7, "saved_at": "soon",
                               "workflow": {}}).encode(),
}


def notice_of(win) -> QMessageBox:  # type: ignore[no-untyped-def]
    boxes = [b for b in win.findChildren(QMessageBox) if b.isVisible()]
    assert len(boxes) == 1, "expected one notice"
    assert not boxes[0].isModal()
    return boxes[0]


def assert_set_aside(copy: Path, data: bytes) -> Path:
    assert not copy.exists()
    aside = list(copy.parent.glob(copy.name + ".unusable-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == data  # renamed, not deleted
    return aside[0]


@pytest.mark.parametrize("kind", sorted(DAMAGED))
def test_a_damaged_untitled_copy_does_not_stop_the_start(qtbot, dialog_log, kind):
    autosave_dir().mkdir(parents=True, exist_ok=True)
    copy = autosave_dir() / "untitled-0123abcd.autosave.json"
    copy.write_bytes(DAMAGED[kind])
    win = open_window(None)  # what `nopflow` with no file does at start-up
    qtbot.addWidget(win)
    assert win.isVisible() and dialog_log.kinds() == []  # nothing modal was asked
    moved = assert_set_aside(copy, DAMAGED[kind])
    text = notice_of(win).text()
    assert "could not be used" in text and str(moved) in text
    assert str(moved) in win.output.toPlainText()
    win2 = open_window(None)  # told once: the copy is out of the way now
    qtbot.addWidget(win2)
    assert not [b for b in win2.findChildren(QMessageBox) if b.isVisible()]


@pytest.mark.parametrize("kind", ["null", "deep", "not-utf8", "truncated"])
def test_a_damaged_copy_of_a_file_still_opens_the_file(qtbot, dialog_log, tmp_path, kind):
    path = tmp_path / "mine.nopflow.json"
    save_workflow(Workflow(name="Mine", nodes=[Node(id="s", type="start")]), path)
    copy = autosave_path(str(path), "")
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(DAMAGED[kind])
    win = open_window(str(path))
    qtbot.addWidget(win)
    assert win.doc.header.name == "Mine" and win.path == str(path)
    assert dialog_log.kinds() == []
    assert_set_aside(copy, DAMAGED[kind])
    assert "could not be used" in notice_of(win).text()


def test_a_good_copy_beside_a_damaged_one_is_still_offered(qtbot, dialog_log):
    autosave_dir().mkdir(parents=True, exist_ok=True)
    bad = autosave_dir() / "untitled-bad.autosave.json"
    bad.write_bytes(b"null")
    (autosave_dir() / "untitled-good.autosave.json").write_text(GOOD, encoding="utf-8")
    dialog_log.recover = True
    win = open_window(None)
    qtbot.addWidget(win)
    assert dialog_log.kinds() == ["recover"] and win.doc.header.name == "Kept"
    assert_set_aside(bad, b"null")
    win._recovered = False
