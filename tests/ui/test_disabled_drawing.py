"""A disabled node is drawn faded with a "disabled" badge, following the model (undo too)."""

from __future__ import annotations

from pathlib import Path

from nopflow.ui.node_menu import set_disabled

from .conftest import small_workflow


def test_disabled_node_is_faded_with_a_badge_and_undo_restores_it(window, tmp_path: Path):
    window.set_workflow(small_workflow(), None)
    window.view.resetTransform()
    window.view.centerOn(window.scene.nodes["calc"].sceneBoundingRect().center())
    item = window.scene.nodes["calc"]
    assert not item.disabled and item.opacity() == 1.0
    before = window.view.grab()
    set_disabled(window, ["calc"], True)
    assert item.disabled and item.opacity() < 0.5
    assert "Disabled: does not run; its input passes through" in item.toolTip()
    shot = window.view.grab()
    shot.save(str(tmp_path / "disabled.png"))
    assert shot.toImage() != before.toImage()
    window.undo.undo()
    assert not item.disabled and item.opacity() == 1.0
    assert "Disabled" not in item.toolTip()
