"""Start the editor: `run_editor(file)` is what `nopflow [FILE]` calls.

Honours the hidden editor options (`ui_entry.EDITOR_OPTIONS`): `quit_after` closes
cleanly after N seconds; `screenshot` saves a PNG of the window once it has painted, then
quits; `run_before_screenshot` first runs the workflow to its end (README picture).
Neither ever blocks the event loop.

The Qt event loop is driven by qasync's `QEventLoop`, so the engine's asyncio runs (live
runs, sandboxed scripts) share the GUI thread's loop (docs/architecture.md). At exit any run still
going is cancelled and awaited, so no script process outlives the app.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication

from nopflow.ui.main_window import MainWindow, active_windows
from nopflow.ui.settings import app_settings
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
    if app.findChild(FileOpenHandler) is None:
        app.installEventFilter(FileOpenHandler(app))
    return app


class FileOpenHandler(QObject):
    """Opens files the OS hands over as events rather than arguments.

    On macOS a Finder double-click on a `.nopflow.json` or a drop on the Dock icon arrives
    as `QEvent.FileOpen`; the file opens in the active window (asking about unsaved
    changes there), or a new window when none is open.
    """

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            path = event.file()
            if path:
                windows = active_windows()
                target = next((w for w in windows if w.isActiveWindow()),
                              windows[0] if windows else None)
                if target is None:
                    open_window(path)
                else:
                    target.open_file(path)
                    target.raise_()
                    target.activateWindow()
                return True
        return super().eventFilter(watched, event)


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
    import qasync

    from nopflow.ui.live.errors import install_excepthook
    from nopflow.ui_entry import EDITOR_OPTIONS

    install_excepthook()
    app = make_app()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            code = loop.run_until_complete(_editor_main(app, file, EDITOR_OPTIONS))
            # a run still going (quit from a timer, the session ending): cancel, await
            from nopflow.ui.live.run_controller import drain_background
            from nopflow.ui.main_window import active_windows

            for w in active_windows():
                # cancels a run still going and closes the window's warm sandbox
                loop.run_until_complete(w.live.aclose())
            loop.run_until_complete(drain_background())
    finally:
        asyncio.set_event_loop(None)
    return code


async def _editor_main(app: QApplication, file: str | None, options: dict[str, object]) -> int:
    """Open the window and wait until the application quits (inside qasync's loop)."""
    quitting = asyncio.Event()
    app.aboutToQuit.connect(quitting.set)
    win = open_window(file)
    shot = options.get("screenshot")
    quit_after = options.get("quit_after")
    run_first = bool(options.get("run_before_screenshot"))

    closing: list[asyncio.Task[None]] = []

    async def close_then_quit() -> None:
        # Close the window's warm sandbox while the loop still runs, then quit: a close
        # scheduled during quitting would be stepped after qasync's loop has stopped.
        await win.live.aclose()
        win.shutdown()
        win.hide()
        app.quit()

    def finish() -> None:
        closing.append(asyncio.ensure_future(close_then_quit()))

    if shot:
        def grab() -> None:
            ok = take_screenshot(win, str(shot))
            print(f"screenshot {'saved to' if ok else 'FAILED for'} {shot}", file=sys.stderr)
            finish()

        if run_first:
            async def run_then_grab() -> None:
                await asyncio.sleep(0.5)
                win.live.start_with(win.doc.snapshot().input_defaults())  # no modal form
                while win.live.task is not None and not win.live.task.done():
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)
                win.scene.clearSelection()
                err = next((n for n, it in win.scene.nodes.items() if it.state == "error"), None)
                if err is not None:  # show what a failed node looks like when inspected
                    win.scene.select_only([win.scene.nodes[err]])
                await asyncio.sleep(0.3)
                grab()

            task = asyncio.ensure_future(run_then_grab())
            task.add_done_callback(lambda _t: None)
        else:
            QTimer.singleShot(1200, grab)  # after show, layout, validation and first paint
    elif isinstance(quit_after, (int, float)):
        QTimer.singleShot(int(quit_after * 1000), finish)
    await quitting.wait()
    return 0
