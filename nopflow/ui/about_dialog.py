"""Help → About: version, Python/Qt/PySide6 versions, the data folder, and the licences of
every bundled component.

The summary is shown at once; the component list reads package metadata from disk, so it
is collected on a worker thread and filled in when ready (the GUI thread never scans files).
"""

from __future__ import annotations

import html
import platform

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, qVersion
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nopflow import about


class _Loaded(QObject):
    done = Signal(object)


class _CollectComponents(QRunnable):
    def __init__(self, sink: _Loaded) -> None:
        super().__init__()
        self.sink = sink

    def run(self) -> None:
        try:
            comps = list(about.bundled_components())
        except Exception as exc:  # metadata can be odd in frozen builds: show, don't crash
            comps = [about.Component("(could not read licences)", "", str(exc))]
        self.sink.done.emit(comps)


class AboutDialog(QDialog):
    """The About box: facts a bug report needs, and third-party licence notices."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About nopflow")
        self.resize(640, 520)
        _qt, pyside = about.qt_versions()
        qt = qVersion()  # the Qt actually running
        lay = QVBoxLayout(self)
        summary = QLabel(self)
        summary.setTextFormat(Qt.TextFormat.RichText)
        summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        summary.setText(
            f"<h2>nopflow {html.escape(about.app_version())}</h2>"
            "<p>Visual workflow automation.</p>"
            f"<p>Python {html.escape(platform.python_version())} · Qt {html.escape(qt or '?')}"
            f" · PySide6 {html.escape(pyside or '?')}<br>"
            f"Data folder: <code>{html.escape(str(about.data_dir()))}</code></p>"
        )
        lay.addWidget(summary)
        lay.addWidget(QLabel("Bundled components and their licences:", self))
        self.components = QTreeWidget(self)
        self.components.setHeaderLabels(["Component", "Version", "Licence"])
        self.components.setRootIsDecorated(False)
        self.components.currentItemChanged.connect(self._show_text)
        lay.addWidget(self.components, 2)
        self.licence = QPlainTextEdit(self)
        self.licence.setReadOnly(True)
        self.licence.setPlaceholderText("Select a component to read its licence text.")
        lay.addWidget(self.licence, 3)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self._texts: dict[str, str] = {}
        self._loaded = _Loaded(self)
        self._loaded.done.connect(self._fill)
        QThreadPool.globalInstance().start(_CollectComponents(self._loaded))

    @property
    def loaded(self) -> bool:
        """True once the component list has arrived."""
        return self.components.topLevelItemCount() > 0

    def _fill(self, comps: list[about.Component]) -> None:
        for c in comps:
            item = QTreeWidgetItem([c.name, c.version, c.license])
            item.setToolTip(0, c.url)
            self.components.addTopLevelItem(item)
            self._texts[c.name] = c.text or f"{c.name} {c.version}: {c.license}"
        for col in range(3):
            self.components.resizeColumnToContents(col)

    def _show_text(self, item: QTreeWidgetItem | None, _prev: object = None) -> None:
        self.licence.setPlainText(self._texts.get(item.text(0), "") if item else "")
