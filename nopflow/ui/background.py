"""Run a blocking call (keyring, disk) on Qt's thread pool and get its result on the GUI thread.

The relay object is parented to the caller, so a result that arrives after the caller is
gone is dropped instead of touching a deleted widget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal


class _Relay(QObject):
    finished = Signal(bool, object)  # ok, result or exception


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.fn, self.relay = fn, relay

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # reported to the caller, never lost on the worker
            self.relay.finished.emit(False, exc)
        else:
            self.relay.finished.emit(True, result)


def run_in_background(
    owner: QObject,
    fn: Callable[[], Any],
    on_done: Callable[[Any], None],
    on_error: Callable[[Exception], None],
) -> None:
    """Call ``fn()`` on the global thread pool; ``on_done``/``on_error`` run on the GUI thread."""
    relay = _Relay(owner)

    def deliver(ok: bool, value: Any) -> None:
        relay.deleteLater()
        (on_done if ok else on_error)(value)

    relay.finished.connect(deliver, Qt.ConnectionType.QueuedConnection)
    QThreadPool.globalInstance().start(_Job(fn, relay))
