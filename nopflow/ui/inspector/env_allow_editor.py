"""The workflow form's list of environment variables `$env.NAME` may read
(`settings.env_allow`, docs/credentials.md): nothing is readable unless it is listed here."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from nopflow.model.redact import is_secret_name
from nopflow.model.workflow import ENV_NAME_PATTERN
from nopflow.ui.theme import canvas_theme

HINT = ("Only the variables listed here can be read with $env.NAME. Values of names "
        "containing KEY, TOKEN, SECRET or PASSWORD are hidden in history and logs.")


def name_problem(name: str, names: list[str]) -> str | None:
    """Why `name` cannot be added to `names`, or None when it can."""
    if not re.fullmatch(ENV_NAME_PATTERN, name):
        return (f"“{name}” is not a variable name (letters, digits and underscores, "
                "not starting with a digit)")
    if name in names:
        return f"{name} is already listed"
    return None


class EnvAllowEditor(QGroupBox):
    """Add and remove names; `namesEdited` carries the whole new list after each change."""

    namesEdited = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Environment variables ($env)", parent)
        self._names: list[str] = []
        lay = QVBoxLayout(self)
        hint = QLabel(HINT, self)
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(placeholder-text);")
        self.list = QListWidget(self)
        self.list.setFixedHeight(90)
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setToolTip("Stop allowing the selected variables (Delete)")
        self.remove_button.clicked.connect(self.remove_selected)
        self.name = QLineEdit(self)
        self.name.setPlaceholderText("VARIABLE_NAME")
        self.name.returnPressed.connect(self.add_typed)
        self.name.textChanged.connect(lambda _t: self._update_buttons())
        self.add_button = QPushButton("Allow", self)
        self.add_button.setToolTip("Let $env read this variable (Enter)")
        self.add_button.clicked.connect(self.add_typed)
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {canvas_theme().invalid.name()};")
        self.error.hide()
        row = QHBoxLayout()
        row.addWidget(self.name, 1)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        lay.addWidget(self.list)
        lay.addLayout(row)
        lay.addWidget(self.error)
        lay.addWidget(hint)
        self._update_buttons()

    def names(self) -> list[str]:
        """The names as listed."""
        return list(self._names)

    def set_names(self, names: list[str]) -> None:
        """Show the model's list (no signal)."""
        if names == self._names:
            return
        self._names = list(names)
        self.list.clear()
        for n in self._names:
            self.list.addItem(n + ("  (hidden in history and logs)" if is_secret_name(n) else ""))
            item = self.list.item(self.list.count() - 1)
            item.setData(Qt.ItemDataRole.UserRole, n)
        self._update_buttons()

    def add_typed(self) -> None:
        """Allow the name in the field (Enter or Allow)."""
        name = self.name.text().strip()
        if not name:
            return
        problem = name_problem(name, self._names)
        if problem:
            self.error.setText(problem)
            self.error.show()
            return
        self.error.hide()
        self.name.clear()
        self._emit([*self._names, name])

    def remove_selected(self) -> None:
        """Stop allowing the selected names."""
        gone = {it.data(Qt.ItemDataRole.UserRole) for it in self.list.selectedItems()}
        if gone:
            self._emit([n for n in self._names if n not in gone])

    def keyPressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.list.hasFocus():
            self.remove_selected()
            return
        super().keyPressEvent(event)

    def _emit(self, names: list[str]) -> None:
        self.set_names(names)
        self.namesEdited.emit(names)

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(bool(self.list.selectedItems()))
        self.add_button.setEnabled(bool(self.name.text().strip()))
