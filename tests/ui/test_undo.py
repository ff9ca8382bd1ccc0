"""Undo/redo restore the document exactly (compared as file text)."""

from __future__ import annotations

from PySide6.QtCore import QPointF

from nopflow.model import RetryPolicy, dump_workflow
from nopflow.ui.commands import HeaderCommand, NodeFieldCommand
from nopflow.ui.items.port_item import PortRef

from .conftest import small_workflow


def test_every_edit_undoes_and_redoes_exactly(window):
    ed = window.editor
    window.set_workflow(small_workflow(), None)
    states = [dump_workflow(window.doc.snapshot())]

    def step(fn):  # type: ignore[no-untyped-def]
        fn()
        states.append(dump_workflow(window.doc.snapshot()))

    step(lambda: ed.add_block("delay", QPointF(300, 300)))
    step(lambda: ed.connect(PortRef("start", "out", "out"), PortRef("delay", "in", "in")))
    step(lambda: ed.move({"calc": (300.0, 0.0)}, {"calc": (320.0, 40.0)}))  # as QPointF gives
    step(lambda: ed.undo.push(NodeFieldCommand(window.doc, "calc", "title", "Renamed")))
    step(lambda: ed.undo.push(NodeFieldCommand(window.doc, "calc", "config",
                                               {"code": "print(1)"}, merge_key="config.code")))
    step(lambda: ed.undo.push(NodeFieldCommand(window.doc, "calc", "retry",
                                               RetryPolicy(max_attempts=3))))
    step(lambda: ed.undo.push(HeaderCommand(window.doc, "name", "Other")))
    step(lambda: ed.delete(["calc"], [], []))  # takes e1, e2 with it
    step(lambda: ed.delete([], [next(iter(window.doc.edges))], []))
    step(lambda: ed.add_note(QPointF(0, 200), "hi"))
    assert len(set(states)) == len(states)  # every step changed something
    for i in range(len(states) - 1, 0, -1):
        window.undo.undo()
        assert dump_workflow(window.doc.snapshot()) == states[i - 1], f"undo of step {i}"
    for i in range(1, len(states)):
        window.undo.redo()
        assert dump_workflow(window.doc.snapshot()) == states[i], f"redo of step {i}"
    # the scene mirrors the document after all that
    assert set(window.scene.nodes) == set(window.doc.nodes)
    assert set(window.scene.edges) == set(window.doc.edges)
    assert set(window.scene.notes) == set(window.doc.notes)


def test_consecutive_typing_merges(window):
    window.set_workflow(small_workflow(), None)
    for text in ("C", "Co", "Com"):
        window.undo.push(NodeFieldCommand(window.doc, "calc", "title", text))
    assert window.undo.count() == 1
    window.undo.undo()
    assert window.doc.nodes["calc"].title == "Compute"


def test_undo_history_view_and_modified_flag(window):
    assert not window.isWindowModified()
    window.editor.add_block("start", QPointF(0, 0))
    assert window.isWindowModified() and "*" not in window.windowTitle().replace("[*]", "")
    assert window.history_view.stack() is window.undo
    window.undo.undo()
    assert not window.isWindowModified()


def test_typing_back_to_the_original_leaves_no_command(window):
    window.set_workflow(small_workflow(), None)
    window.undo.push(NodeFieldCommand(window.doc, "calc", "title", "Computex"))
    window.undo.push(NodeFieldCommand(window.doc, "calc", "title", "Compute"))
    assert window.undo.count() == 0 and not window.isWindowModified()
