"""The inspector's fields for the run inputs a node's child workflow declares.

A node whose block runs a workflow file (`Block.workflow_file_field`) and passes it inputs
(`Block.workflow_inputs_field`) gets one line per input the child declares, so nobody has
to open the child to learn what it takes. The child file is read off the GUI thread.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QLineEdit, QWidget

from nopflow.blocks import get_block
from nopflow.errors import NopflowError
from nopflow.model import InputSpec, load_workflow
from nopflow.ui.background import run_in_background
from nopflow.ui.inspector.fields import MISSING


def child_file(value: Any, project_dir: Path | None) -> tuple[Path | None, str]:
    """The child file a literal path names, or None and a note saying why there is none."""
    if not isinstance(value, str) or not value.strip():
        return None, "Choose the workflow file to run to see the inputs it takes."
    if "{{" in value:
        return None, "The path is a template: set the child's inputs in Inputs above."
    if project_dir is None:
        return None, "Save this workflow to see the inputs of the workflow it runs."
    root = project_dir.resolve()
    file = (root / value).resolve()
    if not file.is_relative_to(root):
        return None, f"{value} is outside the project folder."
    return file, ""


def input_text(value: Any) -> str:
    """How a config value reads in a one-line field (strings as typed, the rest as JSON)."""
    if value is MISSING or value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def parse_input(text: str, spec: InputSpec) -> Any:
    """The config value of a typed line: empty leaves the key out (the child's default
    applies); a template or an input whose default is text stays text; else JSON if it is."""
    if text == "":
        return MISSING
    if "{{" in text or isinstance(spec.default, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


class ChildInputsBox(QGroupBox):
    """One line edit per declared input of the child, or a short note when there is none."""

    edited = Signal(str)  # the input's name

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Sub-workflow inputs", parent)
        self.setObjectName("childInputs")
        self.form = QFormLayout(self)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.note.setObjectName("childInputsNote")
        self.note.setStyleSheet("color: palette(placeholder-text);")
        self.form.addRow(self.note)
        self.specs: dict[str, InputSpec] = {}
        self.edits: dict[str, QLineEdit] = {}
        self._file: Path | None = None
        self._values: dict[str, Any] = {}

    def show_file(self, file: Path | None, note: str) -> None:
        """Show the inputs of ``file`` (read in the background), or ``note`` when None."""
        if file is not None and file == self._file:
            return
        self._file = file
        if file is None:
            self._show(note, {})
            return
        self._show(f"Reading {file.name}…", {})

        def load() -> dict[str, InputSpec]:
            return dict(load_workflow(file, blocks=get_block).inputs)

        def done(specs: dict[str, InputSpec]) -> None:
            if self._file == file:
                self._show("" if specs else f"{file.name} declares no inputs.", specs)

        def failed(exc: Exception) -> None:
            if self._file != file:
                return
            why = str(exc).splitlines()[0] if isinstance(exc, NopflowError) else repr(exc)
            if len(why) > 160:
                why = why[:157] + "…"
            self._show(f"{file.name} does not load, so its inputs are not known: {why}", {})

        run_in_background(self, load, done, failed)

    def set_values(self, values: Any) -> None:
        """Show the node's current inputs object without emitting `edited`."""
        self._values = dict(values) if isinstance(values, dict) else {}
        for name, edit in self.edits.items():
            text = input_text(self._values.get(name, MISSING))
            if edit.text() != text:
                edit.setText(text)

    def value(self, name: str) -> Any:
        """The config value for input ``name`` (MISSING: leave it out)."""
        return parse_input(self.edits[name].text(), self.specs[name])

    def _show(self, note: str, specs: dict[str, InputSpec]) -> None:
        while self.form.rowCount() > 1:
            self.form.removeRow(1)
        self.specs, self.edits = specs, {}
        self.note.setText(note)
        self.note.setVisible(bool(note))
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for name, spec in specs.items():
            edit = QLineEdit(self)
            edit.setObjectName(f"childInput_{name}")
            edit.setFont(mono)
            edit.setPlaceholderText(input_text(spec.default) or "(no default)")
            tip = spec.description or f"Run input {name} of the child ($input.{name} there)"
            if spec.secret:
                tip += ("\nSecret: pass it with a {{ }} template (a credential or one of "
                        "this workflow's secret inputs); a typed value is saved in the file.")
            tip += f"\nEmpty: the child's default ({input_text(spec.default) or 'none'})."
            edit.setToolTip(tip)
            edit.setText(input_text(self._values.get(name, MISSING)))
            edit.textEdited.connect(lambda _t, n=name: self.edited.emit(n))
            self.edits[name] = edit
            label = QLabel(name, self)
            label.setToolTip(tip)
            self.form.addRow(label, edit)
