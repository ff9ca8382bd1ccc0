"""The inspector form of one node, generated from its block's pydantic Config model.

Every edit becomes one undo command on the document (consecutive typing in a field merges),
then the config is re-validated right away so each field shows the validator's own message
inline, and `{{ … }}` expressions are checked as you type.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from nopflow.blocks import get_block
from nopflow.engine import expressions as ex
from nopflow.model import RetryPolicy
from nopflow.ui.commands import NodeFieldCommand
from nopflow.ui.editor import Editor
from nopflow.ui.inspector.child_inputs import ChildInputsBox, child_file
from nopflow.ui.inspector.fields import MISSING, FieldEditor, field_kind, make_editor
from nopflow.ui.theme import canvas_theme, icon_pixmap

ERROR_MODES = [("Workflow default", None), ("Stop the run", "stop"),
               ("Skip this branch", "skip-branch"), ("Continue", "continue")]


UNITS = {"_s": " (s)", "_mb": " (MB)"}


def _pretty(name: str) -> str:
    """A field name as a label: timeout_s → Timeout (s)."""
    for suffix, unit in UNITS.items():
        if name.endswith(suffix):
            return name[: -len(suffix)].replace("_", " ").capitalize() + unit
    return name.replace("_", " ").capitalize()


def config_errors(block_type: str, config: dict[str, Any]) -> tuple[dict[str, str], str]:
    """Per-field validator messages and a model-level message for a config dict."""
    block = get_block(block_type)
    if block is None:
        return {}, f"unknown block type '{block_type}'"
    per_field: dict[str, str] = {}
    general = []
    try:
        block.Config.model_validate(config)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
            loc = err.get("loc", ())
            if err.get("type") == "missing":
                msg = "required"
            if loc and isinstance(loc[0], str) and loc[0] in block.Config.model_fields:
                per_field.setdefault(loc[0], msg)
            else:
                general.append(msg)
    for name, info in block.Config.model_fields.items():
        if name in per_field or name not in config or field_kind(info) == "code":
            continue  # source code is never a template: `{{` is valid Python
        bare = field_kind(info) == "expression" and info.is_required()
        errors = ex.check_value(config[name], bare=bare)
        if errors:
            e = errors[0]
            where = f" (at character {e.position + 1})" if e.position is not None else ""
            per_field[name] = f"{e.message}{where}"
    return per_field, "; ".join(general)


class NodeForm(QWidget):
    """Title, config fields, retry policy and error mode of one node."""

    def __init__(self, editor: Editor, node_id: str, parent: QWidget | None = None,
                 project_dir: Callable[[], Path | None] = lambda: None) -> None:
        super().__init__(parent)
        self.editor = editor
        #: the open file's folder (None: not saved); child workflow paths resolve against it
        self.project_dir = project_dir
        self.doc = editor.doc
        self.node_id = node_id
        node = self.doc.nodes[node_id]
        self.block = get_block(node.type)
        self._pushing = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 10, 10, 10)
        outer.setSpacing(10)

        head = QHBoxLayout()
        pic = QLabel(self)
        pic.setPixmap(icon_pixmap(self.block.icon if self.block else "block", 28,
                                  self.devicePixelRatioF()))
        head.addWidget(pic)
        kind = QLabel(f"<b>{self.block.title if self.block else node.type}</b><br>"
                      f"<span style='color: gray'>id: {node.id}</span>", self)
        kind.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        head.addWidget(kind, 1)
        outer.addLayout(head)
        if self.block and self.block.description:
            desc = QLabel(self.block.description, self)
            desc.setWordWrap(True)
            desc.setStyleSheet("color: palette(placeholder-text);")
            outer.addWidget(desc)

        self.problems = QLabel(self)
        self.problems.setWordWrap(True)
        self.problems.setObjectName("nodeProblems")
        bad = canvas_theme().invalid
        self.problems.setStyleSheet(
            f"QLabel#nodeProblems {{ color: {bad.name()}; border: 1px solid {bad.name()};"
            " border-radius: 4px; padding: 6px; }")
        self.problems.hide()
        outer.addWidget(self.problems)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.title = QLineEdit(node.title, self)
        self.title.setPlaceholderText(node.id)
        self.title.textEdited.connect(self._title_edited)
        form.addRow("Title", self.title)
        outer.addLayout(form)

        self.fields: dict[str, FieldEditor] = {}
        #: the child workflow's declared inputs, under the field naming its file
        self.child_inputs: ChildInputsBox | None = None
        if self.block is not None and self.block.Config.model_fields:
            box = QGroupBox("Configuration", self)
            flay = QFormLayout(box)
            flay.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
            flay.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
            for name, info in self.block.Config.model_fields.items():
                fe = make_editor(name, info, box)
                fe.edited.connect(lambda n=name: self._field_edited(n))
                self.fields[name] = fe
                if field_kind(info) in ("code", "json"):
                    flay.addRow(QLabel(_pretty(name), box))
                    flay.addRow(fe)
                else:
                    flay.addRow(_pretty(name), fe)
                if name == self.block.workflow_file_field and self.block.workflow_inputs_field:
                    self.child_inputs = ChildInputsBox(box)
                    self.child_inputs.edited.connect(self._child_input_edited)
                    flay.addRow(self.child_inputs)
            self.general_error = QLabel(box)
            self.general_error.setWordWrap(True)
            self.general_error.setStyleSheet(f"color: {canvas_theme().invalid.name()};")
            flay.addRow(self.general_error)
            outer.addWidget(box)
        else:
            self.general_error = QLabel(self)

        run = QGroupBox("When it fails", self)
        rlay = QFormLayout(run)
        self.error_mode = QComboBox(run)
        for label, value in ERROR_MODES:
            self.error_mode.addItem(label, value)
        self.error_mode.activated.connect(self._error_mode_edited)
        rlay.addRow("Error mode", self.error_mode)
        self.attempts = QSpinBox(run)
        self.attempts.setRange(1, 100)
        self.delay = QDoubleSpinBox(run)
        self.delay.setRange(0, 86400)
        self.delay.setSuffix(" s")
        self.multiplier = QDoubleSpinBox(run)
        self.multiplier.setRange(1, 100)
        self.multiplier.setSingleStep(0.5)
        self.max_delay = QDoubleSpinBox(run)
        self.max_delay.setRange(0, 86400)
        self.max_delay.setSuffix(" s")
        rlay.addRow("Attempts", self.attempts)
        rlay.addRow("First retry after", self.delay)
        rlay.addRow("Backoff multiplier", self.multiplier)
        rlay.addRow("Longest wait", self.max_delay)
        for w in (self.attempts, self.delay, self.multiplier, self.max_delay):
            w.valueChanged.connect(self._retry_edited)
        outer.addWidget(run)
        outer.addStretch(1)

        self.refresh()
        self.doc.nodeChanged.connect(self._on_node_changed)

    # ------------------------------------------------------------------ model → form

    def show_problems(self, problems: list[str]) -> None:
        """What the validator says about this node (graph-level problems included)."""
        self.problems.setText("\n".join(f"⚠ {p}" for p in problems))
        self.problems.setVisible(bool(problems))

    def _on_node_changed(self, node_id: str) -> None:
        if node_id == self.node_id and not self._pushing and node_id in self.doc.nodes:
            self.refresh()

    def refresh(self) -> None:
        """Show the node's current values (after undo/redo or on first display)."""
        node = self.doc.nodes[self.node_id]
        if self.title.text() != node.title:
            self.title.setText(node.title)
        for name, fe in self.fields.items():
            fe.blockSignals(True)
            fe.set_value(node.config.get(name, MISSING))
            fe.blockSignals(False)
        self.error_mode.setCurrentIndex(max(0, self.error_mode.findData(node.error_mode)))
        r = node.retry
        for w, v in ((self.attempts, r.max_attempts), (self.delay, r.initial_delay_s),
                     (self.multiplier, r.multiplier), (self.max_delay, r.max_delay_s)):
            w.blockSignals(True)
            w.setValue(v)
            w.blockSignals(False)
        self._show_errors(node.config)
        self._show_child(node.config)

    def _show_child(self, config: dict[str, Any]) -> None:
        if self.child_inputs is None or self.block is None:
            return
        file_field, inputs_field = self.block.workflow_file_field, self.block.workflow_inputs_field
        self.child_inputs.set_values(config.get(inputs_field or "", {}))
        self.child_inputs.show_file(*child_file(config.get(file_field or ""),
                                                self.project_dir()))

    def _show_errors(self, config: dict[str, Any]) -> None:
        if self.block is None:
            return
        per_field, general = config_errors(self.block.type, config)
        for name, fe in self.fields.items():
            fe.set_error(fe.parse_error() or per_field.get(name, ""))
        self.general_error.setText(general)
        self.general_error.setVisible(bool(general))

    # ------------------------------------------------------------------ form → model

    def _push(self, field: str, value: Any, text: str, merge_key: str = "") -> None:
        self._pushing = True
        try:
            self.editor.undo.push(NodeFieldCommand(self.doc, self.node_id, field, value, text,
                                                   merge_key))
        finally:
            self._pushing = False

    def _title_edited(self, text: str) -> None:
        self._push("title", text, "Rename node")

    def _field_edited(self, name: str) -> None:
        fe = self.fields[name]
        bad = fe.parse_error()
        if bad:
            fe.set_error(bad)
            return
        config = dict(self.doc.nodes[self.node_id].config)
        value = fe.value()
        if value is MISSING:
            config.pop(name, None)
        else:
            config[name] = value
        if config != self.doc.nodes[self.node_id].config:
            self._push("config", config, f"Edit {_pretty(name).lower()}", f"config.{name}")
        self._show_errors(config)
        self._show_child(config)

    def _child_input_edited(self, name: str) -> None:
        """One child input typed: the node's inputs object changes (one undo step per field)."""
        assert self.child_inputs is not None and self.block is not None
        field = self.block.workflow_inputs_field or ""
        config = dict(self.doc.nodes[self.node_id].config)
        current = config.get(field)
        inputs = dict(current) if isinstance(current, dict) else {}
        value = self.child_inputs.value(name)
        if value is MISSING:
            inputs.pop(name, None)
        else:
            inputs[name] = value
        config[field] = inputs
        if config == self.doc.nodes[self.node_id].config:
            return
        self._push("config", config, f"Edit input {name}", f"config.{field}.{name}")
        fe = self.fields.get(field)
        if fe is not None:
            fe.blockSignals(True)
            fe.set_value(inputs)
            fe.blockSignals(False)
        self._show_errors(config)

    def _error_mode_edited(self, _index: int) -> None:
        self._push("error_mode", self.error_mode.currentData(), "Change error mode")

    def _retry_edited(self) -> None:
        retry = RetryPolicy(max_attempts=self.attempts.value(),
                            initial_delay_s=self.delay.value(),
                            multiplier=self.multiplier.value(),
                            max_delay_s=self.max_delay.value())
        self._push("retry", retry, "Change retry policy", "retry")
