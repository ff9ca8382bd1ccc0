"""The inspector: forms generated from Config models, inline errors, live expression checks."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from nopflow.model import Node, Workflow
from nopflow.ui.code_editor import CodeEditor
from nopflow.ui.inspector.fields import (
    BoolEditor,
    ChoiceEditor,
    CodeFieldEditor,
    JsonEditor,
    TextEditor,
)
from nopflow.ui.inspector.node_form import NodeForm
from nopflow.ui.inspector.workflow_form import WorkflowForm

from .conftest import small_workflow


def show_node(win, node_id: str) -> NodeForm:
    win.scene.select_only([win.scene.nodes[node_id]])
    win.inspector.follow_selection()  # normally on the next event-loop turn
    form = win.inspector.form()
    assert isinstance(form, NodeForm) and form.node_id == node_id
    return form


def _wf(*nodes: Node) -> Workflow:
    return Workflow(nodes=list(nodes))


def test_editing_a_config_value_changes_the_model(window):
    window.set_workflow(_wf(Node(id="d", type="delay", config={"seconds": 1.0})), None)
    form = show_node(window, "d")
    edit = form.fields["seconds"].editor
    edit.selectAll()
    QTest.keyClicks(edit, "2.5")
    assert window.doc.nodes["d"].config == {"seconds": 2.5}
    assert window.undo.count() == 1  # three keystrokes, one command
    window.undo.undo()
    assert window.doc.nodes["d"].config == {"seconds": 1.0}
    assert form.fields["seconds"].editor.text() == "1.0"


def test_widgets_follow_field_types(window):
    window.set_workflow(small_workflow().model_copy(update={"nodes": [
        *small_workflow().nodes,
        Node(id="m", type="merge", config={"mode": "by_node"}),
        Node(id="c", type="condition", config={"expression": "$prev.ok"}),
    ]}), None)
    form = show_node(window, "calc")
    assert isinstance(form.fields["code"], CodeFieldEditor)
    assert isinstance(form.fields["code"].editor, CodeEditor)
    assert isinstance(form.fields["inputs"], JsonEditor)
    assert isinstance(form.fields["timeout_s"], TextEditor)
    form = show_node(window, "m")
    assert isinstance(form.fields["mode"], ChoiceEditor)
    form.fields["mode"].editor.setCurrentIndex(1)
    form.fields["mode"].editor.activated.emit(1)
    assert window.doc.nodes["m"].config["mode"] == "concat"
    form = show_node(window, "c")
    assert form.fields["expression"].kind == "expression"
    assert BoolEditor  # bool fields exist in the factory (no built-in block has one yet)


def test_field_errors_show_the_validators_message_inline(window):
    window.set_workflow(_wf(Node(id="d", type="delay", config={"seconds": 1.0})), None)
    form = show_node(window, "d")
    edit = form.fields["seconds"].editor
    edit.selectAll()
    QTest.keyClicks(edit, "-3")
    err = form.fields["seconds"].error
    assert not err.isHidden() or not form.general_error.isHidden()
    assert "0 or more" in (err.text() + form.general_error.text())


def test_expressions_are_checked_live(window):
    window.set_workflow(_wf(Node(id="c", type="condition", config={"expression": "$prev.ok"})),
                        None)
    form = show_node(window, "c")
    edit = form.fields["expression"].editor
    edit.selectAll()
    QTest.keyClicks(edit, "$prev.n > ")
    err = form.fields["expression"].error
    assert not err.isHidden() and err.text()
    QTest.keyClicks(edit, "5")
    assert err.isHidden()
    assert window.doc.nodes["c"].config["expression"] == "$prev.n > 5"


def test_json_field_refuses_bad_json_without_changing_the_model(window):
    window.set_workflow(_wf(Node(id="o", type="output", config={"values": {"a": 1}})), None)
    form = show_node(window, "o")
    fe = form.fields["values"]
    fe.editor.setPlainText('{"a": ')
    assert "JSON" in fe.error.text()
    assert window.doc.nodes["o"].config == {"values": {"a": 1}}
    fe.editor.setPlainText('{"a": 2, "b": "{{ $prev.x }}"}')
    assert window.doc.nodes["o"].config == {"values": {"a": 2, "b": "{{ $prev.x }}"}}


def test_code_editor_tab_inserts_four_spaces(window):
    window.set_workflow(small_workflow(), None)
    form = show_node(window, "calc")
    editor = form.fields["code"].editor
    editor.setPlainText("")
    editor.setFocus()
    QTest.keyClick(editor, Qt.Key.Key_Tab)
    QTest.keyClicks(editor, "x = 1")
    assert editor.toPlainText() == "    x = 1"
    assert window.doc.nodes["calc"].config["code"] == "    x = 1"


def test_title_retry_and_error_mode(window):
    window.set_workflow(small_workflow(), None)
    form = show_node(window, "calc")
    form.title.selectAll()
    QTest.keyClicks(form.title, "Crunch")
    assert window.doc.nodes["calc"].title == "Crunch"
    assert window.scene.nodes["calc"].title_text == "Crunch"
    form.attempts.setValue(3)
    assert window.doc.nodes["calc"].retry.max_attempts == 3
    form.error_mode.setCurrentIndex(2)
    form.error_mode.activated.emit(2)
    assert window.doc.nodes["calc"].error_mode == "skip-branch"


def test_workflow_settings_when_nothing_is_selected(window):
    window.set_workflow(small_workflow(), None)
    window.scene.select_only([])
    window.inspector.follow_selection()
    form = window.inspector.form()
    assert isinstance(form, WorkflowForm)
    form.name.selectAll()
    QTest.keyClicks(form.name, "Nightly")
    assert window.doc.header.name == "Nightly"
    form.parallel.setValue(8)
    assert window.doc.header.settings.max_parallel == 8
    form.variables.setPlainText('{"threshold": 10}')
    assert window.doc.header.variables == {"threshold": 10}
    form.inputs.setPlainText('{"name": {"default": "world"}}')
    assert window.doc.header.inputs["name"].default == "world"
    window.undo.undo()
    assert window.doc.header.inputs == {}


def test_executor_choice_and_remote_note(window):
    window.set_workflow(small_workflow(), None)
    window.scene.select_only([])
    window.inspector.follow_selection()
    form = window.inspector.form()
    assert isinstance(form, WorkflowForm)
    assert form.executor.currentData() == "local" and not form.address.isEnabled()
    form.executor.setCurrentIndex(form.executor.findData("dask"))
    form.executor.activated.emit(form.executor.currentIndex())
    assert window.doc.header.settings.executor.kind == "dask"
    assert form.address.isEnabled() and form.executor_note.isHidden()  # local test cluster
    form.address.setFocus()
    QTest.keyClicks(form.address, "tcp://scheduler.example:8786")
    assert window.doc.header.settings.executor.address == "tcp://scheduler.example:8786"
    assert not form.executor_note.isHidden()
    assert "files they write land on the worker" in form.executor_note.text()
    window.undo.undo()
    window.undo.undo()
    assert window.doc.header.settings.executor.kind == "local"


def test_workflow_form_edits_the_env_allow_list(window, tmp_path):
    from nopflow.model import load_workflow

    window.set_workflow(small_workflow(), None)
    window.scene.select_only([])
    window.inspector.follow_selection()
    form = window.inspector.form()
    assert isinstance(form, WorkflowForm)
    env = form.env_allow
    assert env.list.count() == 0 and window.doc.header.settings.env_allow == []
    QTest.keyClicks(env.name, "API_TOKEN")
    QTest.keyClick(env.name, Qt.Key.Key_Return)
    assert window.doc.header.settings.env_allow == ["API_TOKEN"]
    assert env.name.text() == ""
    assert "hidden in history and logs" in env.list.item(0).text()  # a secret-looking name
    QTest.keyClicks(env.name, "HOME")
    QTest.mouseClick(env.add_button, Qt.MouseButton.LeftButton)
    assert window.doc.header.settings.env_allow == ["API_TOKEN", "HOME"]
    assert env.list.item(1).text() == "HOME"
    for bad, why in (("1ST", "not a variable name"), ("MY-VAR", "not a variable name"),
                     ("HOME", "already listed")):
        QTest.keyClicks(env.name, bad)
        QTest.keyClick(env.name, Qt.Key.Key_Return)
        assert why in env.error.text() and env.error.isVisibleTo(form), bad
        assert window.doc.header.settings.env_allow == ["API_TOKEN", "HOME"]
        env.name.clear()
    assert not env.remove_button.isEnabled()
    env.list.item(0).setSelected(True)
    QTest.mouseClick(env.remove_button, Qt.MouseButton.LeftButton)
    assert window.doc.header.settings.env_allow == ["HOME"]
    assert [env.list.item(i).text() for i in range(env.list.count())] == ["HOME"]
    path = tmp_path / "env.nopflow.json"
    window.path = str(path)
    assert window.save()
    assert load_workflow(path).settings.env_allow == ["HOME"]
    window.undo.undo()  # the list follows the model back
    assert window.doc.header.settings.env_allow == []
    assert env.list.count() == 0
