"""A status-bar label that says when a `nopflow scheduler` is running (docs/triggers.md).

The scheduler announces itself in a small file in the data dir; reading it every few
seconds costs a stat and a tiny read, never the event loop's time.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QWidget

from nopflow.triggers import registry

#: how often the label looks again
CHECK_MS = 5000


class SchedulerStatus(QLabel):
    """'⏱ Scheduler running' while one runs; empty otherwise."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.check)
        self._timer.start(CHECK_MS)
        self.check()

    def check(self) -> None:
        running = registry.running_scheduler()
        if running:
            self.setText("⏱ Scheduler running")
            self.setToolTip(f"nopflow scheduler (pid {running['owner'].get('pid')}) fires "
                            "the triggers of enabled workflows")
        else:
            self.setText("")
            self.setToolTip("")
