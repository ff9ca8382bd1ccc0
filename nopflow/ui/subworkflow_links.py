"""Sub-workflow nodes in the editor: open the child file, open a child's run.

Which nodes run a workflow file is the block's say (`Block.workflow_file_field`), so this
works for any such block. A child opens in a window of its own (or the one showing it).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QApplication, QMenu

from nopflow.blocks import get_block
from nopflow.ui.node_menu import NodeMenuContext, Provider

if TYPE_CHECKING:
    from nopflow.ui.main_window import MainWindow


def workflow_file_of(win: MainWindow, node_id: str) -> Path | None:
    """The workflow file a node runs, resolved against the open file's folder; None when
    the node runs none, the path is a template, or the workflow is not saved yet."""
    node = win.doc.nodes.get(node_id)
    block = get_block(node.type) if node is not None else None
    field = block.workflow_file_field if block is not None else None
    if node is None or field is None or not win.path:
        return None
    value = node.config.get(field)
    if not isinstance(value, str) or not value.strip() or "{{" in value:
        return None
    return (Path(win.path).parent / value).resolve()


def _window_showing(win: MainWindow, path: Path) -> MainWindow | None:
    for w in QApplication.topLevelWidgets():
        if isinstance(w, type(win)) and w.path and Path(w.path).resolve() == path:
            return w
    return None


def open_workflow(win: MainWindow, path: Path, run_id: str | None = None) -> MainWindow | None:
    """Show the workflow at ``path`` in its window (a new one if none shows it), with the
    kept run ``run_id`` selected in its history when given."""
    target = _window_showing(win, path)
    if target is None:
        if not path.is_file():
            win.statusBar().showMessage(f"No such workflow file: {path}", 6000)
            return None
        target = type(win)()
        if not target.open_file(str(path), ask=False):
            target.close()
            return None
        target.show()
    target.raise_()
    target.activateWindow()
    if run_id is not None:
        select_run(target, run_id)
    return target


def select_run(win: MainWindow, run_id: str) -> None:
    """Select a kept run in the window's history (now, or when the history has loaded)."""
    history = win.live.history

    def pick(*_args: Any) -> bool:
        for i, rec in enumerate(history.runs):
            if rec.run_id == run_id:
                history.select_run(i)
                return True
        return False

    if pick():
        return

    def once(*_args: Any) -> None:
        history.loaded.disconnect(once)
        if not pick():
            win.statusBar().showMessage(f"Run {run_id[:8]} is no longer kept", 6000)

    history.loaded.connect(once)
    history.refresh()


def node_activated(win: MainWindow, node_id: str) -> bool:
    """Double-click on a node: open the workflow it runs; False when it runs none."""
    path = workflow_file_of(win, node_id)
    if path is None:
        return False
    open_workflow(win, path)
    return True


def menu_entries(win: MainWindow) -> Provider:
    """The node menu's "Open sub-workflow" (section "open")."""

    def provide(menu: QMenu, ctx: NodeMenuContext) -> None:
        if len(ctx.node_ids) != 1:
            return
        node = win.doc.nodes.get(ctx.node_id)
        block = get_block(node.type) if node is not None else None
        if block is None or block.workflow_file_field is None:
            return
        path = workflow_file_of(win, ctx.node_id)
        act = menu.addAction("Open sub-workflow")
        if path is None or not path.is_file():
            act.setEnabled(False)
            act.setStatusTip("Set a saved workflow's path to a workflow file of the project")
            return
        act.setStatusTip(f"Open {path.name} in its own window")
        act.triggered.connect(lambda _c=False: open_workflow(win, path))

    return provide
