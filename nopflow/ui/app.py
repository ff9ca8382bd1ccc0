"""Start the editor: `run_editor(file)` is what `nopflow [FILE]` calls.

Honours the hidden editor options (`ui_entry.EDITOR_OPTIONS`): `quit_after` closes
cleanly after N seconds; `screenshot` saves a PNG of the window once it has painted, then
quits. Neither ever blocks the event loop.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from nopflow.ui.main_window import MainWindow, app_settings
from nopflow.ui.theme import apply_theme, icon


def make_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication (reused if one exists), with name, icon and theme set."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        QApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("nopflow")
    app.setOrganizationName("nopflow")
    app.setDesktopFileName("nopflow")
    app.setWindowIcon(icon("nopflow"))
    apply_theme(str(app_settings().value("theme", "system")))
    return app


def open_window(file: str | None) -> MainWindow:
    """A shown editor window with `file` (or recovered / last / new work) loaded."""
    win = MainWindow()
    win.show()
    if file:
        win.open_file(file, ask=False)
    elif not win.recover_untitled():
        recent = [p for p in win.recent_files() if Path(p).is_file()]
        if recent:
            win.open_file(recent[0], ask=False)
    return win


def take_screenshot(win: MainWindow, path: str) -> bool:
    """Save the window as a PNG (after fitting the graph); True when written."""
    win.view.fit_all()
    QApplication.processEvents()
    return win.grab().save(path)


def run_editor(file: str | None) -> int:
    """Run the editor until its window closes; returns the exit code."""
    from nopflow.ui_entry import EDITOR_OPTIONS

    app = make_app()
    win = open_window(file)
    shot = EDITOR_OPTIONS.get("screenshot")
    quit_after = EDITOR_OPTIONS.get("quit_after")

    def finish() -> None:
        win.shutdown()
        win.hide()
        app.quit()

    if shot:
        def grab() -> None:
            ok = take_screenshot(win, str(shot))
            print(f"screenshot {'saved to' if ok else 'FAILED for'} {shot}", file=sys.stderr)
            finish()

        QTimer.singleShot(1200, grab)  # after show, layout, validation and first paint
    elif isinstance(quit_after, (int, float)):
        QTimer.singleShot(int(quit_after * 1000), finish)
    return app.exec()
