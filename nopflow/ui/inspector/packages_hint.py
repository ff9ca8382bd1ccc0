"""The "Packages" hint under a script's code: what its PEP 723 header declares, the versions
the workflow's lock resolved them to, and a field to add a package to the header.

The hint only reads; adding a package rewrites the code through the editor, so it becomes
an ordinary edit (one undo step) like typing it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from nopflow.errors import NopflowError
from nopflow.model.lockfile import WorkflowLock, load_lock, lock_path
from nopflow.model.script_meta import ScriptMetaError, parse_script_meta, with_dependency


def _window_file(widget: QWidget) -> str | None:
    """The workflow file of the editor window the hint sits in (None: unsaved)."""
    path = getattr(widget.window(), "path", None)
    return path if isinstance(path, str) else None


class PackagesHint(QWidget):
    """Shows the header of `source()` and adds packages with `replace(new_source)`."""

    def __init__(self, source: Callable[[], str], replace: Callable[[str], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self._replace = replace
        self._lock_cache: tuple[str, float, WorkflowLock | None] | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 2, 0, 0)
        self.label = QLabel(self)
        self.label.setObjectName("packages_hint")
        self.label.setWordWrap(True)
        lay.addWidget(self.label)
        row = QHBoxLayout()
        self.entry = QLineEdit(self)
        self.entry.setObjectName("add_package")
        self.entry.setPlaceholderText("add a package, e.g. requests>=2")
        self.entry.returnPressed.connect(self.add)
        self.button = QPushButton("Add", self)
        self.button.clicked.connect(self.add)
        row.addWidget(self.entry, 1)
        row.addWidget(self.button)
        lay.addLayout(row)
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        """Built before it sits in a window: the lock is known only once shown."""
        self.refresh()
        super().showEvent(event)

    def _lock(self) -> WorkflowLock | None:
        file = _window_file(self)
        if file is None:
            return None
        path = lock_path(file)
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        if self._lock_cache is None or self._lock_cache[:2] != (str(path), mtime):
            try:
                lock = load_lock(path)
            except NopflowError:
                lock = None
            self._lock_cache = (str(path), mtime, lock)
        return self._lock_cache[2]

    def refresh(self) -> None:
        """Re-read the header (after every edit; parsing is pure and fast)."""
        try:
            meta = parse_script_meta(self._source())
        except ScriptMetaError as exc:
            self.label.setText(f"Packages: the header cannot be used: {exc}")
            return
        if meta is None:
            self.label.setText("Packages: none declared (adding one writes a PEP 723 header)")
            return
        lock = self._lock()
        entry = lock.entries.get(meta.key) if lock is not None else None
        if entry is not None and entry.matches(meta):
            where = Path(_window_file(self) or "").name
            resolved = f"locked in {lock_path(where).name}: {', '.join(entry.pins())}"
        else:
            resolved = "not resolved yet: the next run resolves and locks them"
        python = f"; Python {meta.requires_python}" if meta.requires_python else ""
        self.label.setText(f"Packages: {meta.describe()}{python}\n{resolved}")

    def add(self) -> None:
        """Add the typed requirement to the header (an error is shown, nothing changes)."""
        text = self.entry.text().strip()
        if not text:
            return
        try:
            new = with_dependency(self._source(), text)
        except ScriptMetaError as exc:
            self.label.setText(f"Packages: {exc}")
            return
        self.entry.clear()
        if new != self._source():
            self._replace(new)
        self.refresh()
