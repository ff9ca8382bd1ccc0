"""File ▸ Credentials: add, edit and delete stored credentials (docs/credentials.md).

Secret values are masked (a Show button per field reveals one); every keyring call runs on
the thread pool, so a slow or locked keyring never freezes the editor. Credentials from
`NOPFLOW_CRED_…` variables are listed read-only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from nopflow.blocks import Block, all_blocks
from nopflow.model.credentials import CREDENTIAL_TYPES, Credential, fields_of, is_secret
from nopflow.storage.credentials import CredentialInfo, CredentialStore
from nopflow.ui.background import run_in_background

_NAME_ROLE = Qt.ItemDataRole.UserRole


def credential_tester(cred_type: str) -> type[Block] | None:
    """A block that can try a credential of this type (e.g. http with a URL), if any."""
    for block in all_blocks():
        if block.credential_test is None:
            continue
        for info in block.Config.model_fields.values():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            if extra.get("widget") == "credential" and cred_type in (
                    extra.get("credential_types") or ()):
                return block
    return None


class SecretField(QWidget):
    """A masked line edit with a Show toggle (and, for keys, Load from file…)."""

    def __init__(self, field: str, secret: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit(self)
        self.edit.setObjectName(f"field_{field}")
        lay.addWidget(self.edit, 1)
        self.show_button: QToolButton | None = None
        if secret:
            self.edit.setEchoMode(QLineEdit.EchoMode.Password)
            self.show_button = QToolButton(self)
            self.show_button.setText("Show")
            self.show_button.setCheckable(True)
            self.show_button.setToolTip("Reveal this value")
            self.show_button.toggled.connect(self._reveal)
            lay.addWidget(self.show_button)
        if field == "private_key":
            load = QToolButton(self)
            load.setText("Load file…")
            load.clicked.connect(self._load)
            lay.addWidget(load)

    def _reveal(self, shown: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        self.edit.setEchoMode(mode)
        if self.show_button is not None:
            self.show_button.setText("Hide" if shown else "Show")

    def _load(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Private key file", str(Path.home()))
        if path:
            try:
                self.edit.setText(Path(path).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                self.edit.setPlaceholderText(f"cannot read {path}: {exc}")

    def text(self) -> str:
        return self.edit.text()

    def set_text(self, text: str) -> None:
        self.edit.setText(text)


class CredentialsDialog(QDialog):
    """The credential vault's editor; `changed` fires after a save or delete."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None, store: CredentialStore | None = None,
                 preset_name: str = "", preset_type: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Credentials")
        self.resize(720, 420)
        self.store = store or CredentialStore()
        self._rows: dict[str, SecretField] = {}
        self._busy = 0
        self._infos: list[CredentialInfo] = []

        self.list = QListWidget(self)
        self.list.setObjectName("credential_list")
        self.list.currentItemChanged.connect(self._selected)
        new_button = QPushButton("New", self)
        new_button.clicked.connect(self.new_credential)
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.clicked.connect(self.delete_current)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(new_button)
        buttons.addWidget(self.delete_button)
        left.addLayout(buttons)

        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("credential_name")
        self.name_edit.setPlaceholderText("used in workflows as $creds.NAME.FIELD")
        self.type_box = QComboBox(self)
        self.type_box.addItems(list(CREDENTIAL_TYPES))
        self.type_box.currentTextChanged.connect(self._build_fields)
        self.form = QFormLayout()
        self.form.addRow("Name", self.name_edit)
        self.form.addRow("Type", self.type_box)
        self.fields_form = QFormLayout()
        self.extra_name = QLineEdit(self)
        self.extra_name.setPlaceholderText("field name")
        self.add_field_button = QPushButton("Add field", self)
        self.add_field_button.clicked.connect(lambda: self._add_generic(self.extra_name.text()))
        extra = QHBoxLayout()
        extra.addWidget(self.extra_name, 1)
        extra.addWidget(self.add_field_button)
        self.status = QLabel(self)
        self.status.setObjectName("credential_status")
        self.status.setWordWrap(True)
        self.test_target = QLineEdit(self)
        self.test_target.setObjectName("credential_test_target")
        self.test_button = QPushButton("Test", self)
        self.test_button.clicked.connect(self.test_current)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_target, 1)
        test_row.addWidget(self.test_button)
        self.save_button = QPushButton("Save", self)
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save_current)
        right = QVBoxLayout()
        right.addLayout(self.form)
        right.addLayout(self.fields_form)
        right.addLayout(extra)
        right.addStretch(1)
        right.addLayout(test_row)
        right.addWidget(self.status)
        right.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignRight)

        body = QHBoxLayout()
        body.addLayout(left, 2)
        body.addLayout(right, 3)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(body, 1)
        lay.addWidget(close)

        self.new_credential()
        if preset_name:
            self.name_edit.setText(preset_name)
        if preset_type in CREDENTIAL_TYPES:
            self.type_box.setCurrentText(preset_type)
        self.reload()

    # -- state --------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while a keyring or file call is in flight (tests wait on it)."""
        return self._busy > 0

    def _run(self, fn: Any, done: Any) -> None:
        self._busy += 1

        def ok(value: Any) -> None:
            self._busy -= 1
            done(value)

        def failed(exc: Exception) -> None:
            self._busy -= 1
            self.show_status(str(exc), error=True)

        run_in_background(self, fn, ok, failed)

    def show_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #c0392b;" if error else "")

    def reload(self) -> None:
        """Re-read the list (names and types only: no keyring access)."""
        self._run(self.store.list, self._fill)

    def _fill(self, infos: list[CredentialInfo]) -> None:
        current = self.name_edit.text()
        self._infos = infos
        self.list.blockSignals(True)
        self.list.clear()
        for info in infos:
            where = "  (environment)" if info.source == "environment" else ""
            item = QListWidgetItem(f"{info.name}  —  {info.type}{where}")
            item.setData(_NAME_ROLE, info.name)
            self.list.addItem(item)
            if info.name == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def names(self) -> list[str]:
        return [i.name for i in self._infos]

    # -- editing ------------------------------------------------------------------

    def _build_fields(self, cred_type: str) -> None:
        while self.fields_form.rowCount():
            self.fields_form.removeRow(0)
        self._rows = {}
        generic = fields_of(cred_type) is None
        self.extra_name.setVisible(generic)
        self.add_field_button.setVisible(generic)
        for f in fields_of(cred_type) or ():
            self._add_row(f, is_secret(cred_type, f))
        tester = credential_tester(cred_type)
        self.test_target.setVisible(tester is not None)
        self.test_button.setVisible(tester is not None)
        if tester is not None:
            self.test_target.setPlaceholderText(
                f"{tester.credential_test} to try it on ({tester.title} block)")

    def _add_row(self, field: str, secret: bool) -> SecretField:
        row = SecretField(field, secret, self)
        self._rows[field] = row
        self.fields_form.addRow(field, row)
        return row

    def _add_generic(self, field: str) -> None:
        field = field.strip()
        if field and field not in self._rows:
            self._add_row(field, True)
            self.extra_name.clear()

    def new_credential(self) -> None:
        """Empty form for a new credential."""
        self.list.clearSelection()
        self.name_edit.setReadOnly(False)
        self.name_edit.clear()
        self._build_fields(self.type_box.currentText())
        self.show_status("")
        self._set_editable(True)

    def _set_editable(self, editable: bool) -> None:
        self.save_button.setEnabled(editable)
        self.delete_button.setEnabled(editable)
        self.type_box.setEnabled(editable)

    def _selected(self, item: QListWidgetItem | None, _old: object = None) -> None:
        if item is None:
            return
        name = item.data(_NAME_ROLE)
        info = next((i for i in self._infos if i.name == name), None)
        if info is None:
            return
        self.name_edit.setText(name)
        self.name_edit.setReadOnly(True)
        self.type_box.setCurrentText(info.type)
        self._build_fields(info.type)
        for f in info.fields:
            if f not in self._rows:
                self._add_row(f, is_secret(info.type, f))
        from_env = info.source == "environment"
        self._set_editable(not from_env)
        if from_env:
            self.show_status("From NOPFLOW_CRED_… environment variables: change them there.")
            return
        self.show_status("Reading from the keyring…")
        self._run(lambda: self.store.get(name), self._show_values)

    def _show_values(self, resolved: tuple[str, dict[str, str]]) -> None:
        cred_type, values = resolved
        for f, v in values.items():
            row = self._rows.get(f) or self._add_row(f, is_secret(cred_type, f))
            row.set_text(v)
        self.show_status("")

    def values(self) -> dict[str, str]:
        return {f: row.text() for f, row in self._rows.items()}

    def save_current(self) -> None:
        """Store the form (short secrets and a missing keyring are reported here)."""
        name = self.name_edit.text().strip()
        cred_type = self.type_box.currentText()
        values = self.values()

        def done(_: object) -> None:
            self.show_status(f"Saved {name}.")
            self.changed.emit()
            self.reload()

        self.show_status("Saving…")
        self._run(lambda: self.store.set(name, cred_type, values), done)

    def test_current(self) -> None:
        """Try the form's values (saved or not) the way a block would use them."""
        cred_type = self.type_box.currentText()
        tester = credential_tester(cred_type)
        if tester is None:
            return
        cred = Credential(self.name_edit.text().strip() or "test", cred_type, self.values())
        target = self.test_target.text()
        self.show_status(f"Testing with the {tester.title} block…")
        self._run(lambda: tester.test_credential(cred, target),
                  lambda line: self.show_status(f"Works: {line}"))

    def delete_current(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        name = item.data(_NAME_ROLE)

        def done(_: object) -> None:
            self.show_status(f"Deleted {name}.")
            self.changed.emit()
            self.new_credential()
            self.reload()

        self._run(lambda: self.store.delete(name), done)
