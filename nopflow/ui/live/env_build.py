"""The editor's "installing packages" step before a run: a busy bar and a line per step.

`prepare_environments` (the same call `nopflow run` makes) runs on a worker thread; its
progress lines come back to the GUI thread as a label beside a progress bar in the status
bar and as lines in the Output log. The event loop never waits on uv.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QLabel, QMainWindow, QPlainTextEdit, QProgressBar

from nopflow.envs.prepare import EnvironmentError_, prepare_environments


class EnvBuildProgress:
    """A busy bar + label in the window's status bar, shown only while building."""

    def __init__(self, win: QMainWindow) -> None:
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy: uv gives no fraction done
        self.bar.setMaximumWidth(160)
        self.bar.setAccessibleName("Installing packages")
        for widget in (self.label, self.bar):
            win.statusBar().addPermanentWidget(widget)
            widget.hide()

    def show_line(self, line: str) -> None:
        self.label.setText(f"Packages: {line}")
        self.label.setToolTip(line)
        self.label.show()
        self.bar.show()

    def hide(self) -> None:
        self.label.hide()
        self.bar.hide()


async def build_environments(plan: Any, workflow_file: str | None, project_dir: Path | None,
                             progress: EnvBuildProgress,
                             output: QPlainTextEdit) -> dict[str, str]:
    """Header key → interpreter for the run; `EnvironmentError_` when they cannot be built."""
    loop = asyncio.get_running_loop()

    def on_line(line: str) -> None:  # worker thread
        loop.call_soon_threadsafe(_show, line)

    def _show(line: str) -> None:
        progress.show_line(line)
        output.appendPlainText(f"packages: {line}")

    try:
        return await loop.run_in_executor(
            None, prepare_environments, plan, workflow_file, plan.workflow.settings.python,
            project_dir, on_line)
    finally:
        progress.hide()


__all__ = ["EnvBuildProgress", "EnvironmentError_", "build_environments"]
