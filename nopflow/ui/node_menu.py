"""The node context menu: one builder, with sections other parts of the editor fill.

The menu's own entries edit the document (Rename, Duplicate, Delete, Disable/Enable);
run-related and navigation entries come from whoever owns that behaviour, registered with
`NodeMenu.add_entries(section, provider)` so this module never imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QInputDialog, QMenu, QWidget

from nopflow.model import Node
from nopflow.ui import clipboard
from nopflow.ui.commands import NodeFieldCommand, NodesFieldCommand
from nopflow.ui.editor import Editor

#: Sections in menu order, separated by lines: "run" (Run from here, Run this node…),
#: "edit" (Rename, Duplicate, Delete), "state" (Disable, Pin output…), "open" (navigation).
SECTIONS = ("run", "edit", "state", "open")


@dataclass(frozen=True)
class NodeMenuContext:
    """What the menu acts on: the clicked node first, then the rest of the selection."""

    editor: Editor
    node_ids: tuple[str, ...]

    @property
    def node_id(self) -> str:
        """The node that was right-clicked."""
        return self.node_ids[0]

    @property
    def nodes(self) -> list[Node]:
        """The nodes acted on (those still in the document)."""
        doc = self.editor.doc
        return [doc.nodes[n] for n in self.node_ids if n in doc.nodes]


#: Adds actions for `ctx` to `menu` (or nothing, when none apply to these nodes).
Provider = Callable[[QMenu, NodeMenuContext], None]


def set_disabled(editor: Editor, node_ids: list[str], disabled: bool) -> None:
    """Disable or enable nodes as one undo step (a no-op for nodes already so)."""
    nodes = editor.doc.nodes
    ids = [n for n in node_ids if n in nodes and nodes[n].disabled != disabled]
    if not ids:
        return
    verb = "Disable" if disabled else "Enable"
    text = f"{verb} {nodes[ids[0]].label}" if len(ids) == 1 else f"{verb} {len(ids)} nodes"
    editor.undo.push(NodesFieldCommand(editor.doc, ids, "disabled", disabled, text))


def rename(editor: Editor, node_id: str, title: str) -> None:
    """Give a node a new title (one undo step)."""
    node = editor.doc.nodes.get(node_id)
    if node is not None and title != node.title:
        editor.undo.push(NodeFieldCommand(editor.doc, node_id, "title", title,
                                          f"Rename {node.label}", merge_key="rename"))


class NodeMenu:
    """Builds the right-click menu for nodes; extended per section by providers."""

    def __init__(self, editor: Editor, parent: QWidget) -> None:
        self.editor = editor
        self.parent = parent
        self._providers: dict[str, list[Provider]] = {s: [] for s in SECTIONS}
        self._providers["edit"].append(self._edit_entries)
        self._providers["state"].append(self._state_entries)
        #: the open Rename dialog, if any (non-modal; tests and the window look it up here)
        self.rename_dialog: QInputDialog | None = None

    def add_entries(self, section: str, provider: Provider) -> None:
        """Add a provider's entries to a section (after the ones already there)."""
        if section not in self._providers:
            raise ValueError(f"unknown node menu section {section!r}; one of {SECTIONS}")
        self._providers[section].append(provider)

    def build(self, node_ids: list[str], parent: QWidget | None = None) -> QMenu:
        """The menu for these nodes (the clicked one first)."""
        ctx = NodeMenuContext(self.editor, tuple(dict.fromkeys(node_ids)))
        menu = QMenu(parent or self.parent)
        for section in SECTIONS:
            if menu.actions() and not menu.actions()[-1].isSeparator():
                menu.addSeparator()
            for provider in self._providers[section]:
                provider(menu, ctx)
        if menu.actions() and menu.actions()[-1].isSeparator():
            menu.removeAction(menu.actions()[-1])
        return menu

    # ------------------------------------------------------------------ own entries

    def _edit_entries(self, menu: QMenu, ctx: NodeMenuContext) -> None:
        editor = self.editor
        if len(ctx.node_ids) == 1:
            menu.addAction("Rename…").triggered.connect(
                lambda _c=False: self.open_rename(ctx.node_id))
        menu.addAction("Duplicate").triggered.connect(
            lambda _c=False: self._duplicate(ctx))
        menu.addAction("Frame Selection").triggered.connect(
            lambda _c=False: self._frame(ctx))
        n = len(ctx.node_ids)
        label = "Delete" if n == 1 else f"Delete {n} nodes"
        menu.addAction(label).triggered.connect(
            lambda _c=False: editor.delete(list(ctx.node_ids), [], []))

    def _state_entries(self, menu: QMenu, ctx: NodeMenuContext) -> None:
        nodes = ctx.nodes
        disable = not all(n.disabled for n in nodes)  # mixed selection: disable them all
        act = menu.addAction("Disable" if disable else "Enable")
        act.setStatusTip("A disabled node does not run; its input passes through")
        act.triggered.connect(
            lambda _c=False: set_disabled(self.editor, list(ctx.node_ids), disable))

    def _frame(self, ctx: NodeMenuContext) -> None:
        scene = self.editor.scene
        scene.select_only([scene.nodes[n] for n in ctx.node_ids if n in scene.nodes])
        self.editor.frame_selection()

    def _duplicate(self, ctx: NodeMenuContext) -> None:
        scene = self.editor.scene
        scene.select_only([scene.nodes[n] for n in ctx.node_ids if n in scene.nodes])
        clipboard.duplicate_selection(self.editor)

    def open_rename(self, node_id: str) -> QInputDialog | None:
        """Ask for a new title in a small non-modal dialog; OK renames (one undo step)."""
        node = self.editor.doc.nodes.get(node_id)
        if node is None:
            return None
        dlg = QInputDialog(self.parent)
        dlg.setWindowTitle("Rename node")
        dlg.setLabelText(f"Title of {node.id} (empty: show the id):")
        dlg.setTextValue(node.title)
        dlg.textValueSelected.connect(lambda text: rename(self.editor, node_id, text.strip()))
        dlg.finished.connect(dlg.deleteLater)
        self.rename_dialog = dlg
        dlg.open()
        return dlg
