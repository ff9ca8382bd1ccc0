"""The workflow form's Triggers section (docs/triggers.md): add, edit and remove triggers,
read a cron in words with its next fire times, and enable the workflow for the scheduler."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from pydantic import TypeAdapter, ValidationError
from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from nopflow.model import Trigger
from nopflow.triggers import registry
from nopflow.triggers.timing import TimingError, in_words, next_times
from nopflow.ui.theme import canvas_theme

_ADAPTER: TypeAdapter[Any] = TypeAdapter(Trigger)

#: what "Add" puts in for each type (then edited in the JSON box)
TEMPLATES: dict[str, dict[str, Any]] = {
    "cron": {"type": "cron", "cron": "0 7 * * 1-5", "timezone": None},
    "interval": {"type": "interval", "seconds": 60},
    "file": {"type": "file", "path": "inbox", "pattern": "*"},
    "webhook": {"type": "webhook", "credential": "webhook-token"},
}


def summary(trig: Any) -> str:
    """One line for the list: id, type and what makes it fire."""
    what = {"cron": lambda t: t.cron + (f" ({t.timezone})" if t.timezone else ""),
            "interval": lambda t: f"every {t.seconds:g} s",
            "file": lambda t: f"{t.path}/{t.pattern}",
            "webhook": lambda t: f"{t.method} {t.path or '/hooks/<workflow id>'}"}[trig.type](trig)
    off = "" if trig.enabled else "  (off)"
    return f"{trig.id} · {trig.type} · {what}{off}"


class TriggersEditor(QGroupBox):
    """`triggersEdited` carries the whole new trigger list after each change, and whether
    it is an undo step of its own (add, remove, on/off) rather than typing."""

    triggersEdited = Signal(list, bool)

    def __init__(self, path: Callable[[], str | None], parent: QWidget | None = None) -> None:
        super().__init__("Triggers", parent)
        self._path = path
        self._triggers: list[Any] = []
        self._showing = False
        lay = QVBoxLayout(self)
        self.schedule = QCheckBox("Run on schedule (nopflow scheduler)", self)
        self.schedule.setToolTip("Let the scheduler fire this workflow's triggers "
                                 "(nopflow schedule enable FILE)")
        self.schedule.toggled.connect(self._schedule_toggled)
        lay.addWidget(self.schedule)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: palette(placeholder-text);")
        lay.addWidget(self.status)
        self.list = QListWidget(self)
        self.list.setFixedHeight(90)
        self.list.currentRowChanged.connect(lambda _r: self._show_selected())
        lay.addWidget(self.list)
        row = QHBoxLayout()
        self.add_button = QPushButton("Add", self)
        menu = QMenu(self.add_button)
        for kind in TEMPLATES:
            menu.addAction(kind.capitalize()).triggered.connect(
                lambda _c=False, k=kind: self.add(k))
        self.add_button.setMenu(menu)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.clicked.connect(self.remove_selected)
        self.enabled = QCheckBox("Enabled", self)
        self.enabled.toggled.connect(self._enabled_toggled)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        row.addWidget(self.enabled)
        lay.addLayout(row)
        self.text = QPlainTextEdit(self)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setTabChangesFocus(True)
        self.text.setFixedHeight(110)
        self.text.textChanged.connect(self._text_edited)
        lay.addWidget(self.text)
        self.about = QLabel(self)
        self.about.setWordWrap(True)
        lay.addWidget(self.about)
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {canvas_theme().invalid.name()};")
        self.error.hide()
        lay.addWidget(self.error)
        self._update()

    # ------------------------------------------------------------------ showing

    def set_triggers(self, triggers: list[Any]) -> None:
        """Show the model's triggers (keeps the selected row when it still exists)."""
        if [t.model_dump() for t in triggers] == [t.model_dump() for t in self._triggers]:
            self._update_schedule()
            return
        row = self.list.currentRow()
        self._triggers = list(triggers)
        self._showing = True
        try:
            self.list.clear()
            for trig in self._triggers:
                self.list.addItem(summary(trig))
            if self._triggers:
                self.list.setCurrentRow(min(max(row, 0), len(self._triggers) - 1))
        finally:
            self._showing = False
        self._show_selected()

    def showEvent(self, event: Any) -> None:
        """The file path and the scheduler may have changed while it was hidden."""
        super().showEvent(event)
        self._update_schedule()

    def _selected(self) -> Any | None:
        row = self.list.currentRow()
        return self._triggers[row] if 0 <= row < len(self._triggers) else None

    def _show_selected(self) -> None:
        trig = self._selected()
        self._showing = True
        try:
            doc = trig.model_dump(mode="json") if trig is not None else None
            current = self.text.toPlainText().strip()
            try:
                same = current and json.loads(current) == doc
            except ValueError:
                same = False
            if not same:
                self.text.setPlainText(json.dumps(doc, indent=2) if doc else "")
            self.enabled.setChecked(bool(trig is not None and trig.enabled))
        finally:
            self._showing = False
        self.error.hide()
        self._describe(trig)
        self._update()

    def _describe(self, trig: Any) -> None:
        """A cron in words and the next fire times of cron and interval triggers."""
        if trig is None:
            self.about.setText("")
            return
        parts = []
        try:
            words = in_words(trig)
            if words:
                parts.append(words)
            times = next_times(trig, datetime.now(timezone.utc), 3)
            if times:
                parts.append("Next: " + ", ".join(t.strftime("%a %d %b %H:%M:%S %Z").strip()
                                                  for t in times))
        except (TimingError, ValueError) as exc:
            parts.append(str(exc))
        self.about.setText("\n".join(parts))

    def _update(self) -> None:
        has = self._selected() is not None
        self.remove_button.setEnabled(has)
        self.enabled.setEnabled(has)
        self.text.setEnabled(has)
        self._update_schedule()

    def _update_schedule(self) -> None:
        path = self._path()
        running = registry.running_scheduler()
        self.schedule.blockSignals(True)
        self.schedule.setChecked(bool(path) and registry.is_enabled(path))
        self.schedule.blockSignals(False)
        self.schedule.setEnabled(bool(path))
        if not path:
            text = "Save the workflow to run it on a schedule."
        elif running:
            text = f"A scheduler is running (pid {running['owner'].get('pid')})."
        else:
            text = "No scheduler is running: start `nopflow scheduler` (or `nopflow " \
                   "schedule install`)."
        self.status.setText(text)

    # ------------------------------------------------------------------ editing

    def add(self, kind: str) -> None:
        taken = {t.id for t in self._triggers}
        n = 1
        while f"{kind}{n}" in taken:
            n += 1
        new = _ADAPTER.validate_python({"id": f"{kind}{n}", **TEMPLATES[kind]})
        self._emit([*self._triggers, new], step=True)
        self.list.setCurrentRow(len(self._triggers) - 1)

    def remove_selected(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self._triggers):
            self._emit(self._triggers[:row] + self._triggers[row + 1:], step=True)

    def _replace(self, new: Any, step: bool = False) -> None:
        row = self.list.currentRow()
        triggers = list(self._triggers)
        triggers[row] = new
        self._emit(triggers, step)

    def _emit(self, triggers: list[Any], step: bool = False) -> None:
        """Hand the new list to the model, then show it."""
        self.triggersEdited.emit(list(triggers), step)
        self.set_triggers(list(triggers))

    def _enabled_toggled(self, on: bool) -> None:
        trig = self._selected()
        if self._showing or trig is None or trig.enabled == on:
            return
        self._replace(trig.model_copy(update={"enabled": on}), step=True)

    def _text_edited(self) -> None:
        if self._showing or self._selected() is None:
            return
        try:
            doc = json.loads(self.text.toPlainText())
            new = _ADAPTER.validate_python(doc)
        except ValueError as exc:
            if isinstance(exc, ValidationError):
                err = exc.errors(include_url=False)[0]
                where = ".".join(str(p) for p in err["loc"])
                message = f"{where}: {err['msg']}" if where else err["msg"]
            else:
                message = f"not valid JSON: {exc}"
            self.error.setText(message)
            self.error.show()
            return
        self.error.hide()
        self._describe(new)
        if new.model_dump() != self._selected().model_dump():
            self._replace(new)

    def _schedule_toggled(self, on: bool) -> None:
        path = self._path()
        if not path:
            return
        if on:
            registry.enable(path)
        else:
            registry.disable(path)
        self._update_schedule()
