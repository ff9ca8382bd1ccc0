"""The inspector form of a sticky note: its text (typing merges into one undo step)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from nopflow.ui.commands import NoteFieldCommand
from nopflow.ui.editor import Editor


class NoteForm(QWidget):
    """Edit a note's text."""

    def __init__(self, editor: Editor, note_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor, self.doc, self.note_id = editor, editor.doc, note_id
        self._pushing = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 10, 10, 10)
        lay.addWidget(QLabel("<b>Note</b>", self))
        self.text = QPlainTextEdit(self)
        self.text.setPlaceholderText("Write a comment for whoever reads this workflow next")
        self.text.setPlainText(self.doc.notes[note_id].text)
        self.text.textChanged.connect(self._edited)
        lay.addWidget(self.text)
        self.doc.noteChanged.connect(self._on_changed)

    def _edited(self) -> None:
        if self._pushing:
            return
        self._pushing = True
        try:
            self.editor.undo.push(NoteFieldCommand(self.doc, self.note_id, "text",
                                                   self.text.toPlainText()))
        finally:
            self._pushing = False

    def _on_changed(self, note_id: str) -> None:
        if note_id == self.note_id and not self._pushing and note_id in self.doc.notes:
            text = self.doc.notes[note_id].text
            if text != self.text.toPlainText():
                self._pushing = True
                self.text.setPlainText(text)
                self._pushing = False
