"""The node context menu: a real right-click on a node, its entries, and their undo."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QPoint, QTimer
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QMenu

from nopflow.model import Node, Workflow, load_workflow

from .conftest import small_workflow


def right_click(win, view_pos: QPoint, choose: str | None) -> list[str]:
    """Right-click the viewport at `view_pos`; return the popup's entries, trigger `choose`."""
    seen: list[str] = []

    def act() -> None:
        menu = QApplication.activePopupWidget()
        assert isinstance(menu, QMenu), "no context menu opened"
        seen.extend(a.text() for a in menu.actions() if not a.isSeparator())
        for a in menu.actions():
            if a.text() == choose:
                menu.close()
                a.trigger()
                return
        menu.close()

    QTimer.singleShot(50, act)
    vp = win.view.viewport()
    ev = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, view_pos, vp.mapToGlobal(view_pos))
    QApplication.sendEvent(vp, ev)
    return seen


def node_pos(win, node_id: str) -> QPoint:
    return win.view.mapFromScene(win.scene.nodes[node_id].sceneBoundingRect().center())


@pytest.fixture
def small(window):
    window.set_workflow(small_workflow(), None)
    window.view.resetTransform()
    window.view.centerOn(300, 40)
    return window


def test_right_click_on_node_shows_node_entries(small):
    entries = right_click(small, node_pos(small, "calc"), None)
    assert entries == ["Rename…", "Duplicate", "Frame Selection", "Delete", "Disable"]
    assert [i.node_id for i in small.scene.selectedItems()] == ["calc"]


def test_disable_is_one_undo_step_saved_in_the_file(small, tmp_path):
    right_click(small, node_pos(small, "calc"), "Disable")
    assert small.doc.nodes["calc"].disabled
    assert small.undo.undoText() == "Disable Compute"
    path = tmp_path / "wf.nopflow.json"
    small.path = str(path)
    assert small.save()
    assert json.loads(path.read_text())["nodes"][1]["disabled"] is True
    assert load_workflow(path).node("calc").disabled
    # the menu now offers the way back
    assert "Enable" in right_click(small, node_pos(small, "calc"), None)
    small.undo.undo()
    assert not small.doc.nodes["calc"].disabled


def test_disable_several_selected_nodes_is_one_step(small):
    scene = small.scene
    scene.select_only([scene.nodes["calc"], scene.nodes["out"]])
    right_click(small, node_pos(small, "out"), "Disable")
    assert small.doc.nodes["calc"].disabled and small.doc.nodes["out"].disabled
    assert small.undo.undoText() == "Disable 2 nodes"
    small.undo.undo()
    assert not any(n.disabled for n in small.doc.nodes.values())


def test_mixed_selection_offers_disable_and_toggles_do_not_merge(small):
    right_click(small, node_pos(small, "calc"), "Disable")
    right_click(small, node_pos(small, "calc"), "Enable")
    assert small.undo.count() == 2  # two separate steps, not merged into nothing
    small.undo.undo()  # calc is disabled again
    small.scene.select_only([small.scene.nodes["calc"], small.scene.nodes["out"]])
    # one disabled, one not: the menu disables both, as one step that changes only `out`
    right_click(small, node_pos(small, "calc"), "Disable")
    assert small.doc.nodes["out"].disabled and small.doc.nodes["calc"].disabled
    assert small.undo.undoText() == "Disable Out"


def test_rename_from_the_menu_changes_the_title_on_the_card(small, qtbot):
    right_click(small, node_pos(small, "calc"), "Rename…")
    dlg = small.view.node_menu.rename_dialog
    assert dlg is not None and dlg.isVisible()
    assert dlg.textValue() == "Compute"
    dlg.setTextValue("Word count")
    dlg.accept()
    assert small.doc.nodes["calc"].title == "Word count"
    assert small.scene.nodes["calc"].shown_title() == "Word count"
    assert small.undo.undoText() == "Rename Compute"
    small.undo.undo()
    assert small.scene.nodes["calc"].shown_title() == "Compute"


def test_rename_is_offered_for_one_node_only(small):
    small.scene.select_only([small.scene.nodes["calc"], small.scene.nodes["out"]])
    entries = right_click(small, node_pos(small, "calc"), None)
    assert entries == ["Duplicate", "Frame Selection", "Delete 2 nodes", "Disable"]


def test_duplicate_and_delete_from_the_menu(small):
    right_click(small, node_pos(small, "calc"), "Duplicate")
    assert set(small.doc.nodes) == {"start", "calc", "calc_2", "out"}
    right_click(small, node_pos(small, "out"), "Delete")
    assert "out" not in small.doc.nodes and "out" not in small.scene.nodes
    assert not any(e.target == "out" for e in small.doc.edges.values())
    small.undo.undo()
    assert "out" in small.scene.nodes
    assert any(e.target == "out" for e in small.doc.edges.values())


def test_right_click_on_empty_canvas_keeps_the_canvas_menu(small):
    entries = right_click(small, QPoint(5, 5), None)
    assert entries[:2] == ["Add Block", "Add Note"]


def test_other_parts_add_entries_to_their_section(small):
    seen: list[tuple[str, ...]] = []

    def run_entries(menu: QMenu, ctx) -> None:
        menu.addAction("Run this node").triggered.connect(
            lambda _c=False: seen.append(ctx.node_ids))

    def open_entries(menu: QMenu, ctx) -> None:
        if ctx.nodes[0].type == "python":
            menu.addAction("Open code")

    small.view.node_menu.add_entries("run", run_entries)
    small.view.node_menu.add_entries("open", open_entries)
    menu = small.view.node_menu.build(["calc"])
    texts = [a.text() or "|" for a in menu.actions()]
    assert texts == ["Run this node", "|", "Rename…", "Duplicate", "Frame Selection", "Delete",
                     "|", "Disable", "|", "Open code"]
    right_click(small, node_pos(small, "out"), "Run this node")
    assert seen == [("out",)]
    assert "Open code" not in right_click(small, node_pos(small, "out"), None)
    with pytest.raises(ValueError, match="unknown node menu section 'bogus'"):
        small.view.node_menu.add_entries("bogus", run_entries)


def test_disabled_node_loaded_from_a_file_offers_enable(window):
    wf = Workflow(nodes=[Node(id="a", type="start", disabled=True)])
    window.set_workflow(wf, None)
    menu = window.view.node_menu.build(["a"])
    assert "Enable" in [a.text() for a in menu.actions()]
