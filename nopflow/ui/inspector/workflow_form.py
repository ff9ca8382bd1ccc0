"""Workflow settings, shown when nothing is selected: name, error mode, parallelism,
interpreter, executor (local or Dask), variables ($vars), run inputs ($input), the
environment variables $env may read and the triggers."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from nopflow.executors import kind as executor_kind
from nopflow.executors import kinds as executor_kinds
from nopflow.model import InputSpec
from nopflow.ui.commands import HeaderCommand, HeaderStepCommand
from nopflow.ui.editor import Editor
from nopflow.ui.inspector.env_allow_editor import EnvAllowEditor
from nopflow.ui.inspector.triggers_editor import TriggersEditor
from nopflow.ui.theme import canvas_theme

MODES = [("Stop the run", "stop"), ("Skip the failed branch", "skip-branch"),
         ("Continue", "continue")]
REMOTE_NOTE = ("Scripts run on the cluster's workers: files they write land on the worker "
               "unless the project folder is shared at the same path.")


class _Json(QPlainTextEdit):
    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setTabChangesFocus(True)
        self.setFixedHeight(110)
        self.setPlaceholderText("{ }")


class WorkflowForm(QWidget):
    """Edits the workflow header through undoable HeaderCommands."""

    def __init__(self, editor: Editor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        self.doc = editor.doc
        self._pushing = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 10, 10, 10)
        title = QLabel("<b>Workflow</b>", self)
        outer.addWidget(title)
        form = QFormLayout()
        self.name = QLineEdit(self)
        self.name.textEdited.connect(lambda t: self._push("name", t, "Rename workflow"))
        form.addRow("Name", self.name)
        self.mode = QComboBox(self)
        for label, value in MODES:
            self.mode.addItem(label, value)
        self.mode.activated.connect(lambda _i: self._settings(error_mode=self.mode.currentData()))
        form.addRow("On error", self.mode)
        self.parallel = QSpinBox(self)
        self.parallel.setRange(1, 1024)
        self.parallel.valueChanged.connect(lambda v: self._settings(max_parallel=v))
        form.addRow("Max parallel", self.parallel)
        self.python = QLineEdit(self)
        self.python.setPlaceholderText("bundled interpreter")
        self.python.textEdited.connect(lambda t: self._settings(python=t.strip() or None))
        form.addRow("Python", self.python)
        self.executor = QComboBox(self)
        for value, info in executor_kinds().items():
            self.executor.addItem(info.label, value)
        self.executor.setToolTip("Where Python blocks run")
        self.executor.activated.connect(lambda _i: self._executor_edited())
        form.addRow("Run on", self.executor)
        self.address = QLineEdit(self)
        self.address.setPlaceholderText("tcp://host:8786 (empty: a local test cluster)")
        self.address.textEdited.connect(lambda _t: self._executor_edited())
        form.addRow("Scheduler", self.address)
        self.executor_note = QLabel(self)
        self.executor_note.setWordWrap(True)
        self.executor_note.hide()
        form.addRow(self.executor_note)
        outer.addLayout(form)

        box = QGroupBox("Variables ($vars)", self)
        blay = QVBoxLayout(box)
        self.variables = _Json(box)
        self.var_error = self._error_label(box)
        blay.addWidget(self.variables)
        blay.addWidget(self.var_error)
        outer.addWidget(box)
        self.variables.textChanged.connect(self._variables_edited)

        box = QGroupBox("Run inputs ($input)", self)
        blay = QVBoxLayout(box)
        hint = QLabel('{"name": {"default": "world", "secret": false}}', box)
        hint.setStyleSheet("color: palette(placeholder-text);")
        self.inputs = _Json(box)
        self.inputs_error = self._error_label(box)
        blay.addWidget(self.inputs)
        blay.addWidget(hint)
        blay.addWidget(self.inputs_error)
        outer.addWidget(box)
        self.inputs.textChanged.connect(self._inputs_edited)

        self.env_allow = EnvAllowEditor(self)
        self.env_allow.namesEdited.connect(lambda names: self._settings(env_allow=names))
        outer.addWidget(self.env_allow)
        self.triggers = TriggersEditor(lambda: getattr(self.window(), "path", None), self)
        self.triggers.triggersEdited.connect(
            lambda triggers, step: self._push("triggers", triggers, "Edit triggers", step))
        outer.addWidget(self.triggers)
        outer.addStretch(1)
        self.refresh()
        self.doc.workflowChanged.connect(self._on_changed)

    def _error_label(self, parent: QWidget) -> QLabel:
        label = QLabel(parent)
        label.setWordWrap(True)
        label.setStyleSheet(f"color: {canvas_theme().invalid.name()};")
        label.hide()
        return label

    def _on_changed(self) -> None:
        if not self._pushing:
            self.refresh()

    def refresh(self) -> None:
        """Show the header's current values."""
        h = self.doc.header
        self._pushing = True
        try:
            if self.name.text() != h.name:
                self.name.setText(h.name)
            self.mode.setCurrentIndex(max(0, self.mode.findData(h.settings.error_mode)))
            self.parallel.setValue(h.settings.max_parallel)
            if self.python.text() != (h.settings.python or ""):
                self.python.setText(h.settings.python or "")
            ex = h.settings.executor
            self.executor.setCurrentIndex(max(0, self.executor.findData(ex.kind)))
            if self.address.text() != (ex.address or ""):
                self.address.setText(ex.address or "")
            self._show_executor_note()
            self.env_allow.set_names(list(h.settings.env_allow))
            self.triggers.set_triggers(list(h.triggers))
            self._set_json(self.variables, h.variables)
            self._set_json(self.inputs, {k: v.model_dump(exclude_defaults=True) or {"default": None}
                                         for k, v in h.inputs.items()})
        finally:
            self._pushing = False

    @staticmethod
    def _set_json(edit: QPlainTextEdit, value: Any) -> None:
        try:
            if json.loads(edit.toPlainText() or "{}") == value:
                return
        except ValueError:
            pass
        edit.setPlainText(json.dumps(value, indent=2, ensure_ascii=False) if value else "")

    def _push(self, field: str, value: Any, text: str, step: bool = False) -> None:
        if self._pushing or getattr(self.doc.header, field) == value:
            return
        self._pushing = True
        command = HeaderStepCommand if step else HeaderCommand
        try:
            self.editor.undo.push(command(self.doc, field, value, text))
        finally:
            self._pushing = False

    def _settings(self, **changes: Any) -> None:
        if self._pushing:
            return
        self._push("settings", self.doc.header.settings.model_copy(update=changes),
                   "Change workflow settings")

    def _executor_edited(self) -> None:
        if self._pushing:
            return
        kind = self.executor.currentData()
        address = self.address.text().strip() or None
        new = self.doc.header.settings.executor.model_copy(update={"kind": kind,
                                                                    "address": address})
        self._settings(executor=new)
        self._show_executor_note()

    def _show_executor_note(self) -> None:
        """Say when the chosen kind's extra is missing, and that a remote cluster's files
        stay there (the registry knows both without importing the executor)."""
        info = executor_kind(str(self.executor.currentData()))
        remote = info is not None and info.takes_address
        self.address.setEnabled(remote)
        missing = info.unavailable() if info is not None else None
        note = ""
        if missing:
            note = missing[:1].upper() + missing[1:]
        elif remote and self.address.text().strip():
            note = REMOTE_NOTE
        self.executor_note.setText(note)
        self.executor_note.setStyleSheet(
            f"color: {canvas_theme().invalid.name()};" if missing else
            "color: palette(placeholder-text);")
        self.executor_note.setVisible(bool(note))

    def _parse(self, edit: QPlainTextEdit, label: QLabel) -> dict[str, Any] | None:
        text = edit.toPlainText().strip()
        try:
            value = json.loads(text) if text else {}
        except ValueError as exc:
            label.setText(f"not valid JSON: {exc}")
            label.show()
            return None
        if not isinstance(value, dict):
            label.setText("must be a JSON object: {\"name\": value}")
            label.show()
            return None
        label.hide()
        return value

    def _variables_edited(self) -> None:
        if self._pushing:
            return
        value = self._parse(self.variables, self.var_error)
        if value is not None:
            self._push("variables", value, "Edit variables")

    def _inputs_edited(self) -> None:
        if self._pushing:
            return
        value = self._parse(self.inputs, self.inputs_error)
        if value is None:
            return
        try:
            specs = {k: InputSpec.model_validate(v if isinstance(v, dict) else {"default": v})
                     for k, v in value.items()}
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            self.inputs_error.setText(f"{'.'.join(map(str, err['loc']))}: {err['msg']}")
            self.inputs_error.show()
            return
        self._push("inputs", specs, "Edit run inputs")
