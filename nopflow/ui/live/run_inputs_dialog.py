"""The small form asked before a run when the workflow declares run inputs.

Values are typed as text and read like `nopflow run --input`: JSON when it parses
(`7`, `true`, `["a"]`), otherwise plain text — so the GUI and the CLI agree on what a
value means. The last values are remembered per workflow id in QSettings (secret inputs
never are: they would sit in a plain ini file).

`ask_run_inputs` is the one entry point; tests replace it (callers go through the module).
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from nopflow.model import Workflow


def to_text(value: Any) -> str:
    """How a value is shown in the form: strings bare, everything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def from_text(text: str) -> Any:
    """The value a typed text stands for (the CLI's `--input` rule)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def settings_key(workflow_id: str) -> str:
    """Where a workflow's last run inputs live in QSettings."""
    return f"run_inputs/{workflow_id}"


def load_remembered(settings: Any, wf: Workflow) -> dict[str, Any]:
    """The last non-secret values used for this workflow (empty when none or unreadable)."""
    raw = settings.value(settings_key(wf.id), "")
    try:
        data = json.loads(str(raw)) if raw else {}
    except ValueError:
        return {}
    secret = wf.secret_inputs()
    return {k: v for k, v in data.items() if k in wf.inputs and k not in secret} \
        if isinstance(data, dict) else {}


def remember(settings: Any, wf: Workflow, values: dict[str, Any]) -> None:
    """Keep the non-secret values for next time."""
    secret = wf.secret_inputs()
    keep = {k: v for k, v in values.items() if k not in secret}
    settings.setValue(settings_key(wf.id), json.dumps(keep, ensure_ascii=False, default=str))


class RunInputsDialog(QDialog):
    """One line per declared input, prefilled with the remembered value or the default."""

    def __init__(self, wf: Workflow, remembered: dict[str, Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Run “{wf.name}”")
        self.edits: dict[str, QLineEdit] = {}
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Run inputs ($input). Values are read as JSON when they parse, "
                             "otherwise as text.", self))
        form = QFormLayout()
        for name, spec in wf.inputs.items():
            edit = QLineEdit(self)
            value = remembered.get(name, spec.default)
            edit.setText("" if value is None else to_text(value))
            edit.setPlaceholderText("null")
            if spec.secret:
                edit.setEchoMode(QLineEdit.EchoMode.Password)
            if spec.description:
                edit.setToolTip(spec.description)
            self.edits[name] = edit
            form.addRow(f"{name}{' 🔒' if spec.secret else ''}", edit)
        lay.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Run")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def values(self) -> dict[str, Any]:
        """The typed values (an empty field means null)."""
        return {name: (from_text(e.text()) if e.text() != "" else None)
                for name, e in self.edits.items()}


def ask_run_inputs(parent: QWidget | None, wf: Workflow,
                   remembered: dict[str, Any]) -> dict[str, Any] | None:
    """Ask for the run inputs; None when the user cancelled (nothing runs)."""
    dlg = RunInputsDialog(wf, remembered, parent)
    if dlg.exec() != QDialog.DialogCode.Accepted:
        return None
    return dlg.values()
