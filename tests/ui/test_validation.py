"""Live validation: badges on problem nodes, the problems list, go-to-node."""

from __future__ import annotations

from PySide6.QtCore import QPointF

from nopflow.model import Node, Workflow

from .conftest import small_workflow


def test_problems_are_badged_and_listed(window, qtbot):
    wf = Workflow(nodes=[Node(id="start", type="start"),
                         Node(id="c", type="condition", position=(300, 0),
                              config={"expression": "$prev.n >"})])
    window.set_workflow(wf, None)
    qtbot.waitUntil(lambda: window.problems.topLevelItemCount() > 0, timeout=3000)
    assert window.scene.nodes["c"].problems
    assert "⚠" in window.problem_label.text()
    rows = [window.problems.topLevelItem(i) for i in range(window.problems.topLevelItemCount())]
    row = next(r for r in rows if r.text(1) == "c")
    window.problems.itemDoubleClicked.emit(row, 0)
    assert window.scene.selected_ids()[0] == ["c"]


def test_problems_clear_after_a_fix(window, qtbot):
    window.set_workflow(small_workflow().model_copy(update={"edges": []}), None)
    qtbot.waitUntil(lambda: bool(window.scene.nodes["calc"].problems), timeout=3000)
    from nopflow.ui.items.port_item import PortRef

    window.editor.connect(PortRef("start", "out", "out"), PortRef("calc", "in", "in"))
    window.editor.connect(PortRef("calc", "out", "out"), PortRef("out", "in", "in"))
    qtbot.waitUntil(lambda: window.problems.topLevelItemCount() == 0, timeout=3000)
    assert not window.scene.nodes["calc"].problems
    assert "valid" in window.problem_label.text()


def test_run_actions_have_standard_shortcuts_and_apply_only_when_they_can(window):
    for name, key in (("run", "F5"), ("pause", "F6"), ("cancel", "Shift+F5")):
        act = window.run_actions[name]
        assert act.shortcut().toString() == key
        assert not act.isEnabled()  # an empty canvas has nothing to run
    window.editor.add_block("start", QPointF(0, 0))
    assert window.run_actions["run"].isEnabled()
    assert not window.run_actions["pause"].isEnabled()
    assert not window.run_actions["cancel"].isEnabled()


def test_inspector_shows_the_selected_nodes_problems(window, qtbot):
    window.set_workflow(small_workflow().model_copy(update={"edges": []}), None)
    qtbot.waitUntil(lambda: bool(window.scene.nodes["calc"].problems), timeout=3000)
    window.scene.select_only([window.scene.nodes["calc"]])
    window.inspector.follow_selection()
    form = window.inspector.form()
    assert not form.problems.isHidden() and "reachable" in form.problems.text()


def test_dropping_a_workflow_file_opens_it(window, tmp_workflow):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_workflow))])
    ev = QDropEvent(QPointF(100, 100), Qt.DropAction.CopyAction, mime,
                    Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.view.dropEvent(ev)
    assert window.path == str(tmp_workflow) and set(window.doc.nodes) == {"start", "calc", "out"}


def test_problem_messages_take_the_panel_width(window, qtbot):
    """Messages are the long column: it stretches with the log dock, the node id fits."""
    window.log_tabs.setCurrentWidget(window.problems)
    qtbot.waitUntil(lambda: window.problems.topLevelItemCount() > 0, timeout=3000)
    head = window.problems.header()
    width = window.problems.viewport().width()
    assert width > 900
    assert head.sectionSize(0) + head.sectionSize(1) >= width - 2
    assert head.sectionSize(0) > width * 0.7
