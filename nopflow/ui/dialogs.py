"""Every modal question the editor asks, in one place so tests can answer them.

Tests monkeypatch these functions (e.g. `dialogs.ask_unsaved = lambda *a: "discard"`);
callers always go through the module (`dialogs.ask_unsaved(...)`) so the patch applies.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from nopflow.model import SUFFIX

FILE_FILTER = f"nopflow workflows (*{SUFFIX});;JSON files (*.json);;All files (*)"


def ask_unsaved(parent: QWidget | None, name: str) -> str:
    """'save', 'discard' or 'cancel' for a document with unsaved changes."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Unsaved changes")
    box.setText(f"Save the changes to “{name}” before closing?")
    box.setInformativeText("Your changes will be lost if you don't save them.")
    box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                           | QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    answer = box.exec()
    if answer == QMessageBox.StandardButton.Save:
        return "save"
    if answer == QMessageBox.StandardButton.Discard:
        return "discard"
    return "cancel"


def ask_recover(parent: QWidget | None, name: str, when: str) -> bool:
    """True when the user wants the autosaved copy back."""
    answer = QMessageBox.question(
        parent,
        "Recover unsaved work?",
        f"nopflow did not close cleanly. An autosaved copy of “{name}” from {when} is "
        "newer than the saved file.\n\nRecover it?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.Yes,
    )
    return answer == QMessageBox.StandardButton.Yes


def show_error(parent: QWidget | None, title: str, text: str) -> None:
    """Tell the user something failed (bad file, disk full); the app keeps running."""
    QMessageBox.critical(parent, title, text)


def show_notice(parent: QWidget | None, title: str, text: str) -> QMessageBox:
    """Tell the user something went wrong without stopping them (non-modal, stays open)."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok,
                      parent)
    box.setModal(False)
    box.show()
    return box


def open_path(parent: QWidget | None, folder: str = "") -> str | None:
    """Ask for a workflow file to open."""
    path, _ = QFileDialog.getOpenFileName(parent, "Open workflow", folder, FILE_FILTER)
    return path or None


def save_path(parent: QWidget | None, suggestion: str) -> str | None:
    """Ask where to save; the `.nopflow.json` suffix is appended when missing."""
    path, _ = QFileDialog.getSaveFileName(parent, "Save workflow as", suggestion, FILE_FILTER)
    if not path:
        return None
    if not path.endswith(".json"):
        path += SUFFIX
    return path
