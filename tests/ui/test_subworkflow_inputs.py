"""The inspector of a sub-workflow node offers the child's declared inputs as fields
(issue 15 item 5): typed values land in `config.inputs` as undo steps and reach the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QLabel, QLineEdit

from nopflow.model import save_workflow
from nopflow.ui.inspector.node_form import NodeForm

from .test_live_run import (  # noqa: F401  (fixtures)
    _never_block_on_close,
    aloop,
    open_saved,
    wait_idle,
    workflow,
)


def save_child(folder: Path) -> Path:
    child = workflow(
        [{"id": "out", "type": "output",
          "config": {"values": {"greeting": "{{ $input.greeting }} {{ $input.name }}",
                                "times": "{{ $input.times * 2 }}"}}}],
        [("start", "out")], name="Child", id="child-wf",
        inputs={"greeting": {"default": "Hello", "description": "The word to greet with"},
                "name": {"default": "world"},
                "times": {"default": 3, "description": "How often"}})
    path = folder / "child.nopflow.json"
    save_workflow(child, path)
    return path


def parent_wf(path: str = "child.nopflow.json", inputs: dict[str, Any] | None = None) -> Any:
    return workflow(
        [{"id": "sub", "type": "subworkflow", "title": "Child",
          "config": {"path": path, "inputs": inputs or {}}},
         {"id": "out", "type": "output", "config": {"values": {"got": "{{ $prev }}"}}}],
        [("start", "sub"), ("sub", "out")], name="Parent")


def node_form(window: Any, qtbot: Any) -> NodeForm:
    window.scene.select_only([window.scene.nodes["sub"]])
    qtbot.waitUntil(lambda: isinstance(window.inspector.form(), NodeForm), timeout=5000)
    form = window.inspector.form()
    assert isinstance(form, NodeForm) and form.node_id == "sub"
    return form


def child_edits(form: NodeForm, qtbot: Any) -> dict[str, QLineEdit]:
    box = form.child_inputs
    assert box is not None
    qtbot.waitUntil(lambda: bool(box.edits) or box.note.text().startswith("child"),
                    timeout=5000)
    return box.edits


def test_the_childs_inputs_are_fields_that_edit_config_inputs_as_undo_steps(
        window, qtbot, aloop, tmp_path):  # noqa: F811
    save_child(tmp_path)
    open_saved(window, tmp_path, parent_wf(inputs={"name": "Ada"}))
    form = node_form(window, qtbot)
    edits = child_edits(form, qtbot)
    assert list(edits) == ["greeting", "name", "times"]
    assert edits["greeting"].placeholderText() == "Hello"
    assert "The word to greet with" in edits["greeting"].toolTip()
    assert edits["times"].placeholderText() == "3"
    assert edits["name"].text() == "Ada"  # the node's current value shows
    assert not form.child_inputs.note.isVisible()
    window.inspector_dock.raise_()
    qtbot.wait(50)  # let the grown form lay out, as it has by the time anyone looks
    form.child_inputs.grab().save(str(tmp_path / "child_inputs.png"))
    window.grab().save(str(tmp_path / "child_inputs_window.png"))

    qtbot.keyClicks(edits["times"], "5")
    assert window.doc.nodes["sub"].config["inputs"] == {"name": "Ada", "times": 5}
    qtbot.keyClicks(edits["greeting"], "Hi")
    assert window.doc.nodes["sub"].config["inputs"] == {"name": "Ada", "times": 5,
                                                        "greeting": "Hi"}
    # the JSON editor of the whole object follows
    assert '"greeting": "Hi"' in form.fields["inputs"].editor.toPlainText()
    edits["name"].clear()
    edits["name"].textEdited.emit("")
    assert window.doc.nodes["sub"].config["inputs"] == {"times": 5, "greeting": "Hi"}

    window.run_actions["run"].trigger()
    wait_idle(window, qtbot)
    assert window.live.run.status == "completed"
    assert window.live.run.outputs == {"got": {"greeting": "Hi world", "times": 10}}

    window.undo.undo()  # the cleared name comes back
    assert window.doc.nodes["sub"].config["inputs"] == {"name": "Ada", "times": 5,
                                                        "greeting": "Hi"}
    assert edits["name"].text() == "Ada"
    window.undo.undo()
    window.undo.undo()
    assert window.doc.nodes["sub"].config["inputs"] == {"name": "Ada"}
    assert edits["times"].text() == "" and edits["greeting"].text() == ""


def test_a_child_that_does_not_load_shows_a_note(window, qtbot, tmp_path):
    (tmp_path / "child.nopflow.json").write_text("{ not json", encoding="utf-8")
    open_saved(window, tmp_path, parent_wf())
    form = node_form(window, qtbot)
    box = form.child_inputs
    assert box is not None
    qtbot.waitUntil(lambda: "does not load" in box.note.text(), timeout=5000)
    assert box.note.text().startswith("child.nopflow.json does not load")
    assert box.edits == {}
    assert box.findChildren(QLineEdit) == []

    # a path fixed to a real child: the fields appear
    (tmp_path / "sub").mkdir()
    save_child(tmp_path / "sub")
    fe = form.fields["path"]
    fe.editor.clear()
    qtbot.keyClicks(fe.editor, "sub/child.nopflow.json")
    qtbot.waitUntil(lambda: list(box.edits) == ["greeting", "name", "times"], timeout=5000)
    window.undo.undo()
    qtbot.waitUntil(lambda: "does not load" in box.note.text(), timeout=5000)


def test_templated_and_empty_paths_say_why_there_are_no_fields(window, qtbot, tmp_path):
    open_saved(window, tmp_path, parent_wf("{{ $input.which }}"))
    form = node_form(window, qtbot)
    box = form.child_inputs
    assert box is not None and "template" in box.note.text()
    assert [w for w in box.findChildren(QLabel) if w.isVisible()] == [box.note]
    # nodes that run no workflow have no such box
    window.scene.select_only([window.scene.nodes["out"]])
    qtbot.waitUntil(lambda: window.inspector.form().node_id == "out", timeout=5000)
    assert window.inspector.form().child_inputs is None
