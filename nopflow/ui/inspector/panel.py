"""Chooses the inspector form for the current selection.

Forms are rebuilt only when the selected element changes, never on each edit, so typing
keeps focus and cursor position.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QScrollArea, QWidget
from shiboken6 import isValid

from nopflow.ui.editor import Editor
from nopflow.ui.inspector.node_form import NodeForm
from nopflow.ui.inspector.note_form import NoteForm
from nopflow.ui.inspector.workflow_form import WorkflowForm


class Inspector(QScrollArea):
    """Shows a NodeForm, NoteForm, WorkflowForm or a selection summary."""

    def __init__(self, editor: Editor, parent: QWidget | None = None,
                 project_dir: Callable[[], Path | None] = lambda: None) -> None:
        super().__init__(parent)
        self.editor = editor
        #: the open file's folder (None: not saved yet)
        self.project_dir = project_dir
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._key: tuple[str, str] | None = None
        self._problems: dict[str, list[str]] = {}
        # Coalesce: a rubber band or a bulk edit can change the selection many times per
        # event-loop turn; the form is chosen once, when things settle.
        self._pending = QTimer(self)
        self._pending.setSingleShot(True)
        self._pending.setInterval(0)
        self._pending.timeout.connect(self.follow_selection)
        editor.scene.selectionChanged.connect(self._pending.start)
        editor.doc.reset.connect(self._reset)
        editor.doc.nodesRemoved.connect(self._on_removed)
        editor.doc.notesRemoved.connect(self._on_removed)
        self.follow_selection()

    def _on_removed(self, _ids: list[str]) -> None:
        self._pending.start()

    def _reset(self) -> None:
        self._key = None
        self.follow_selection()

    def set_problems(self, by_node: dict[str, list[str]]) -> None:
        """Latest validation result; the node form shows its node's share."""
        self._problems = by_node
        form = self.widget()
        if isinstance(form, NodeForm):
            form.show_problems(by_node.get(form.node_id, []))

    def form(self) -> QWidget | None:
        """The form shown now."""
        return self.widget()

    def follow_selection(self) -> None:
        """Show the form for what is selected."""
        if not isValid(self.editor.scene) or not isValid(self):
            return  # window teardown: the scene went first
        try:
            nodes, edges, notes = self.editor.scene.selected_ids()
        except KeyError:  # selection mid-removal; the next signal will settle it
            return
        nodes = [n for n in nodes if n in self.editor.doc.nodes]
        notes = [n for n in notes if n in self.editor.doc.notes]
        if len(nodes) == 1 and not notes:
            key = ("node", nodes[0])
        elif len(notes) == 1 and not nodes:
            key = ("note", notes[0])
        elif not (nodes or notes or edges):
            key = ("workflow", "")
        else:
            n = len(nodes) + len(notes) + len(edges)
            key = ("many", str(n))
        if key == self._key:
            return
        self._key = key
        kind, ident = key
        if kind == "node":
            w: QWidget = NodeForm(self.editor, ident, project_dir=self.project_dir)
            w.show_problems(self._problems.get(ident, []))
        elif kind == "note":
            w = NoteForm(self.editor, ident)
        elif kind == "workflow":
            w = WorkflowForm(self.editor)
        else:
            w = QLabel(f"{ident} items selected", self)
            w.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWidget(w)
