"""Editors for single config fields, chosen from the pydantic field's type and widget hint.

Each editor shows a value, reports edits with `edited`, and can show an inline error under
itself. Values are what goes into the node's `config` dict; `MISSING` means "leave the key
out" (the model's default applies), so a cleared optional field does not litter the file.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any, Literal, get_args, get_origin

from pydantic.fields import FieldInfo
from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from nopflow.ui.code_editor import CodeEditor
from nopflow.ui.inspector.packages_hint import PackagesHint
from nopflow.ui.theme import canvas_theme


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def _flatten(annotation: Any) -> list[Any]:
    """The member types of a (possibly Optional / union) annotation."""
    origin = get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        out: list[Any] = []
        for a in get_args(annotation):
            out.extend(_flatten(a))
        return out
    return [annotation]


def field_kind(info: FieldInfo) -> str:
    """Which editor a field gets: code, json, expression, choice, bool, number, file
    (a one-line file path) or text."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    hint = extra.get("widget")
    if hint == "workflow_file":
        return "file"
    if hint in ("code", "json", "expression", "credential", "text"):
        return str(hint)
    members = [m for m in _flatten(info.annotation) if m is not type(None)]
    if len(members) == 1 and get_origin(members[0]) is Literal:
        return "choice"
    if members == [bool]:
        return "bool"
    if any(get_origin(m) in (dict, list) or m in (dict, list) for m in members):
        return "json"
    if any(m in (int, float) for m in members):
        return "number"
    return "text"


def _allows(info: FieldInfo, *types_: type) -> bool:
    """True when the annotation admits one of `types_` (generics like dict[str, Any] count)."""
    return any(m in types_ or get_origin(m) in types_ for m in _flatten(info.annotation))


class FieldEditor(QWidget):
    """Base: a labelled editor with an inline error line."""

    edited = Signal()

    def __init__(self, name: str, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.info = info
        self.lay = QVBoxLayout(self)
        self.lay.setContentsMargins(0, 0, 0, 0)
        self.lay.setSpacing(2)
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setObjectName("fieldError")
        self.error.setStyleSheet(f"color: {canvas_theme().invalid.name()};")
        self.error.hide()
        self.setToolTip(info.description or "")

    def _finish(self, editor: QWidget) -> None:
        self.editor = editor
        self.lay.addWidget(editor)
        self.lay.addWidget(self.error)

    def set_error(self, text: str) -> None:
        """Show (or with "" hide) the inline error message."""
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def value(self) -> Any:
        """The value for the config dict, or MISSING to drop the key."""
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        """Show a value without emitting `edited`."""
        raise NotImplementedError

    def parse_error(self) -> str:
        """A problem that keeps the text from becoming a value at all (bad JSON)."""
        return ""


class TextEditor(FieldEditor):
    """Text, numbers and expressions in a line edit; numbers are parsed when they look like one."""

    def __init__(self, name: str, info: FieldInfo, kind: str, parent: QWidget | None = None):
        super().__init__(name, info, parent)
        self.kind = kind
        edit = QLineEdit(self)
        if kind == "expression":
            edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
            edit.setPlaceholderText("{{ $prev.value }}")
        if info.default is not None and not callable(info.default):
            edit.setPlaceholderText(str(info.default) if kind != "expression" else
                                    edit.placeholderText())
        edit.textEdited.connect(lambda _t: self.edited.emit())
        self._finish(edit)

    def value(self) -> Any:
        text = self.editor.text()
        if text == "":
            return None if _allows(self.info, type(None)) and self.info.is_required() else MISSING
        if self.kind == "expression" and _allows(self.info, list) and text.lstrip().startswith("["):
            try:
                return json.loads(text)
            except ValueError:
                return text
        if _allows(self.info, int, float):
            try:
                return int(text) if _allows(self.info, int) and text.strip().lstrip("-").isdigit() \
                    else float(text)
            except ValueError:
                return text
        return text

    def set_value(self, value: Any) -> None:
        if value is None or value is MISSING:
            text = ""
        elif isinstance(value, (list, dict)):
            text = json.dumps(value)
        else:
            text = str(value)
        if self.editor.text() != text:
            self.editor.setText(text)


class BoolEditor(FieldEditor):
    """A checkbox."""

    def __init__(self, name: str, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(name, info, parent)
        box = QCheckBox(info.description or name, self)
        box.toggled.connect(lambda _v: self.edited.emit())
        self._finish(box)

    def value(self) -> Any:
        return self.editor.isChecked()

    def set_value(self, value: Any) -> None:
        self.editor.blockSignals(True)
        self.editor.setChecked(bool(value) if value is not MISSING else bool(self.info.default))
        self.editor.blockSignals(False)


class ChoiceEditor(FieldEditor):
    """A combo box of the Literal's values."""

    def __init__(self, name: str, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(name, info, parent)
        combo = QComboBox(self)
        members = [m for m in _flatten(info.annotation) if get_origin(m) is Literal]
        for choice in get_args(members[0]) if members else ():
            combo.addItem(str(choice), choice)
        combo.activated.connect(lambda _i: self.edited.emit())
        self._finish(combo)

    def value(self) -> Any:
        return self.editor.currentData()

    def set_value(self, value: Any) -> None:
        if value is MISSING:
            value = self.info.default
        i = self.editor.findData(value)
        self.editor.setCurrentIndex(max(0, i))


class _PlainTextField(FieldEditor):
    """A field edited in a QPlainTextEdit: user typing emits `edited`, programmatic
    updates (`_set_text`) do not, so showing the model's value never echoes back as an edit."""

    _quiet = False

    def _changed(self) -> None:
        if not self._quiet:
            self.edited.emit()

    def _set_text(self, text: str) -> None:
        self._quiet = True
        try:
            self.editor.setPlainText(text)
        finally:
            self._quiet = False


class JsonEditor(_PlainTextField):
    """Lists and objects as JSON text; bad JSON is reported inline and not applied."""

    def __init__(self, name: str, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(name, info, parent)
        edit = QPlainTextEdit(self)
        edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        edit.setTabChangesFocus(True)
        edit.setFixedHeight(96)
        edit.setPlaceholderText("{ }" if _allows(info, dict) else "[ ]")
        edit.textChanged.connect(self._changed)
        self._finish(edit)

    def parse_error(self) -> str:
        text = self.editor.toPlainText().strip()
        if not text:
            return ""
        try:
            json.loads(text)
        except ValueError as exc:
            return f"not valid JSON: {exc}"
        return ""

    def value(self) -> Any:
        text = self.editor.toPlainText().strip()
        if not text:
            return MISSING
        return json.loads(text)

    def set_value(self, value: Any) -> None:
        try:
            same = json.loads(self.editor.toPlainText() or "null") == (
                None if value is MISSING else value)
        except ValueError:
            same = False
        if not same:  # pretty-print only when the text changes (not on every refresh)
            self._set_text("" if value is MISSING or value is None
                           else json.dumps(value, indent=2, ensure_ascii=False))


class MultilineEditor(_PlainTextField):
    """Several lines of text (a prompt, an SQL query); `{{ }}` templates allowed."""

    def __init__(self, name: str, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(name, info, parent)
        edit = QPlainTextEdit(self)
        edit.setTabChangesFocus(True)
        edit.setMinimumHeight(110)
        if isinstance(info.default, str) and info.default:
            edit.setPlaceholderText(info.default)
        edit.textChanged.connect(self._changed)
        self._finish(edit)

    def value(self) -> Any:
        text = self.editor.toPlainText()
        if text == "":
            return MISSING
        return text

    def set_value(self, value: Any) -> None:
        text = "" if value is MISSING or value is None else str(value)
        if self.editor.toPlainText() != text:
            self._set_text(text)


class CodeFieldEditor(_PlainTextField):
    """Inline Python source in the code editor."""

    def __init__(self, name: str, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(name, info, parent)
        edit = CodeEditor(self, dark=canvas_theme().dark)
        edit.setMinimumHeight(220)
        edit.textChanged.connect(self._changed)
        self._finish(edit)
        self.packages = PackagesHint(edit.toPlainText, edit.setPlainText, self)
        self.lay.addWidget(self.packages)
        edit.textChanged.connect(self.packages.refresh)

    def value(self) -> Any:
        text = self.editor.toPlainText()
        return text if text.strip() else MISSING

    def set_value(self, value: Any) -> None:
        text = "" if value is MISSING or value is None else str(value)
        if self.editor.toPlainText() != text:
            self._set_text(text)


class CredentialEditor(FieldEditor):
    """A picker of stored credentials of the types the field accepts, with New…."""

    NEW = "\x00new"

    def __init__(self, name: str, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(name, info, parent)
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        self.types: list[str] = list(extra.get("credential_types") or [])  # type: ignore[arg-type]
        self._value: Any = MISSING
        combo = QComboBox(self)
        combo.setObjectName(f"credential_{name}")
        combo.activated.connect(self._picked)
        self._finish(combo)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the credential names (off the GUI thread)."""
        from nopflow.storage.credentials import CredentialStore
        from nopflow.ui.background import run_in_background

        run_in_background(self, CredentialStore().list, self._fill,
                          lambda exc: self.set_error(str(exc)))

    def _fill(self, infos: list[Any]) -> None:
        combo = self.editor
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("(none)", None)
        for i in infos:
            if not self.types or i.type in self.types:
                combo.addItem(f"{i.name}  ({i.type})", i.name)
        kinds = " or ".join(self.types) if self.types else "credential"
        combo.addItem(f"New {kinds}…", self.NEW)
        combo.blockSignals(False)
        self._show()

    def _show(self) -> None:
        value = None if self._value is MISSING else self._value
        i = self.editor.findData(value)
        if i < 0 and value:  # named but not stored: keep the name visible
            self.editor.insertItem(1, f"{value}  (missing)", value)
            i = 1
        self.editor.setCurrentIndex(max(0, i))

    def _picked(self, index: int) -> None:
        data = self.editor.itemData(index)
        if data == self.NEW:
            self._new()
            return
        self._value = data if data else MISSING
        self.edited.emit()

    def _new(self) -> None:
        from nopflow.ui.credentials_dialog import CredentialsDialog

        dlg = CredentialsDialog(self.window(), preset_type=self.types[0] if self.types else "")
        self.dialog = dlg

        def created() -> None:
            name = dlg.name_edit.text().strip()
            if name:
                self._value = name
                self.edited.emit()
            self.refresh()

        dlg.changed.connect(created)
        dlg.finished.connect(lambda _r: self._show())
        dlg.open()

    def value(self) -> Any:
        return self._value

    def set_value(self, value: Any) -> None:
        self._value = MISSING if value is None else value
        self._show()


def make_editor(name: str, info: FieldInfo, parent: QWidget | None = None) -> FieldEditor:
    """The right editor for a config field."""
    kind = field_kind(info)
    if kind == "credential":
        return CredentialEditor(name, info, parent)
    if kind == "text":
        return MultilineEditor(name, info, parent)
    if kind == "code":
        return CodeFieldEditor(name, info, parent)
    if kind == "json":
        return JsonEditor(name, info, parent)
    if kind == "choice":
        return ChoiceEditor(name, info, parent)
    if kind == "bool":
        return BoolEditor(name, info, parent)
    return TextEditor(name, info, kind, parent)
