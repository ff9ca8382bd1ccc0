"""The Packages hint under a python block's code: the header's packages, the versions the
lock resolved, and adding a package as one undoable edit."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from nopflow.model import Node, Workflow, save_workflow
from nopflow.model.lockfile import LockEntry, WorkflowLock, lock_path, save_lock
from nopflow.model.script_meta import parse_script_meta
from nopflow.ui.inspector.node_form import NodeForm

HEADER = '# /// script\n# dependencies = ["tinycalc>=1"]\n# ///\nprint("{}")\n'


def show_node(win, node_id: str) -> NodeForm:  # type: ignore[no-untyped-def]
    win.scene.select_only([win.scene.nodes[node_id]])
    win.inspector.follow_selection()
    form = win.inspector.form()
    assert isinstance(form, NodeForm)
    return form


def test_the_hint_shows_the_locked_versions_and_adds_a_package(window, tmp_path: Path,
                                                              qtbot) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "flow.nopflow.json"
    save_workflow(Workflow(nodes=[Node(id="p", type="python", config={"code": HEADER})]), path)
    meta = parse_script_meta(HEADER)
    assert meta is not None
    save_lock(WorkflowLock({meta.key: LockEntry(meta.dependencies, None, "3.11", (
        "tinycalc==1.1 \\", "    --hash=sha256:" + "0" * 64))}), lock_path(path))
    assert window.open_file(str(path), ask=False)
    form = show_node(window, "p")
    hint = form.fields["code"].packages
    assert hint.label.text() == ("Packages: tinycalc>=1\n"
                                 "locked in flow.nopflow.lock: tinycalc==1.1")
    window.grab().save(str(tmp_path.parent / "packages-hint.png"))
    QTest.keyClicks(hint.entry, "tinyfmt==2.0")
    QTest.keyClick(hint.entry, Qt.Key.Key_Return)
    code = window.doc.nodes["p"].config["code"]
    assert parse_script_meta(code).dependencies == ("tinycalc>=1", "tinyfmt==2.0")  # type: ignore[union-attr]
    assert code.endswith('# ///\nprint("{}")\n')
    assert hint.label.text().startswith("Packages: tinycalc>=1, tinyfmt==2.0\nnot resolved yet")
    assert window.undo.count() == 1
    window.undo.undo()
    assert window.doc.nodes["p"].config["code"] == HEADER


def test_the_hint_explains_a_missing_or_bad_header(window) -> None:  # type: ignore[no-untyped-def]
    window.set_workflow(Workflow(nodes=[Node(id="p", type="python",
                                             config={"code": "print('{}')\n"})]), None)
    hint = show_node(window, "p").fields["code"].packages
    assert hint.label.text().startswith("Packages: none declared")
    QTest.keyClicks(hint.entry, "bad name!")
    QTest.keyClick(hint.entry, Qt.Key.Key_Return)
    assert "not a valid requirement" in hint.label.text()
    assert window.doc.nodes["p"].config["code"] == "print('{}')\n"
    hint.entry.clear()
    QTest.keyClicks(hint.entry, "tinycalc")
    hint.button.click()
    assert window.doc.nodes["p"].config["code"].startswith(
        '# /// script\n# dependencies = ["tinycalc"]\n# ///\n')
