"""The Result tab of the log dock: the last run's outputs, without selecting a node.

The `output` blocks' values are what a run is for; after a run they are shown here as a
JSON tree (the same lazy tree as Run details) with one line saying which run they are from.
"""

from __future__ import annotations

import json
import time
from typing import Any

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from nopflow.ui.live.node_run_view import JsonTree

#: the Output log's result line is cut here (the tab shows the whole value)
LINE_CHARS = 300


def result_line(outputs: dict[str, Any]) -> str:
    """The outputs as one short log line: `result: {"n": 42}` (cut with … when long)."""
    text = json.dumps(outputs, ensure_ascii=False, default=str)
    if len(text) > LINE_CHARS:
        text = text[: LINE_CHARS - 1] + "…"
    return f"result: {text}"


class ResultView(QWidget):
    """The outputs of the last run, or a hint before the first one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.heading = QLabel("The outputs of a run (its output blocks) appear here.", self)
        self.heading.setWordWrap(True)
        self.tree = JsonTree(self)
        lay.addWidget(self.heading)
        lay.addWidget(self.tree, 1)
        self.outputs: dict[str, Any] | None = None

    def show_result(self, status: str, outputs: dict[str, Any]) -> None:
        """Show a finished run's (redacted) outputs."""
        self.outputs = outputs
        when = time.strftime("%H:%M:%S")
        if outputs:
            n = len(outputs)
            self.heading.setText(f"Run {status} at {when}: {n} output{'s' if n != 1 else ''}")
        else:
            self.heading.setText(f"Run {status} at {when}: no outputs "
                                 "(add an Output block to collect values)")
        self.tree.set_value(outputs or None)
        self.tree.expandToDepth(0)
