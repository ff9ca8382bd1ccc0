"""Fixtures for editor tests: a real MainWindow (offscreen), dialogs that must be expected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPoint, QPointF

from nopflow.model import Edge, Node, Workflow
from nopflow.ui import dialogs
from nopflow.ui.main_window import MainWindow
from nopflow.ui.theme import apply_theme


class DialogLog:
    """Records which dialogs were asked and answers them as the test told it to."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple]] = []
        self.unsaved = "cancel"
        self.recover = False
        self.save_to: str | None = None
        self.open_from: str | None = None

    def kinds(self) -> list[str]:
        return [k for k, _ in self.asked]


@pytest.fixture
def dialog_log(monkeypatch: pytest.MonkeyPatch) -> DialogLog:
    """Every modal question is intercepted; a test asserts what was asked."""
    log = DialogLog()

    def unsaved(parent, name):  # type: ignore[no-untyped-def]
        log.asked.append(("unsaved", (name,)))
        return log.unsaved

    def recover(parent, name, when):  # type: ignore[no-untyped-def]
        log.asked.append(("recover", (name, when)))
        return log.recover

    def error(parent, title, text):  # type: ignore[no-untyped-def]
        log.asked.append(("error", (title, text)))

    def save_path(parent, suggestion):  # type: ignore[no-untyped-def]
        log.asked.append(("save_path", (suggestion,)))
        return log.save_to

    def open_path(parent, folder=""):  # type: ignore[no-untyped-def]
        log.asked.append(("open_path", (folder,)))
        return log.open_from

    monkeypatch.setattr(dialogs, "ask_unsaved", unsaved)
    monkeypatch.setattr(dialogs, "ask_recover", recover)
    monkeypatch.setattr(dialogs, "show_error", error)
    monkeypatch.setattr(dialogs, "save_path", save_path)
    monkeypatch.setattr(dialogs, "open_path", open_path)
    return log


@pytest.fixture
def window(qtbot, dialog_log: DialogLog) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    """A shown editor window; closed without prompts at the end."""
    apply_theme("light")
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win._recovered = False
    win.undo.setClean()
    win.close()


def small_workflow() -> Workflow:
    """start → calc → out, laid out left to right."""
    return Workflow(
        name="Small",
        nodes=[
            Node(id="start", type="start", title="Start", position=(0, 0)),
            Node(id="calc", type="python", title="Compute", position=(300, 0),
                 config={"code": "print('{}')"}),
            Node(id="out", type="output", title="Out", position=(600, 0),
                 config={"values": {"r": "{{ $prev }}"}}),
        ],
        edges=[Edge(id="e1", source="start", target="calc"),
               Edge(id="e2", source="calc", target="out")],
    )


def port_view_pos(win: MainWindow, node_id: str, kind: str, name: str) -> QPoint:
    """Viewport coordinates of a port (for QTest mouse gestures)."""
    item = win.scene.nodes[node_id]
    return win.view.mapFromScene(item.port_scene_pos(kind, name))


def scene_to_view(win: MainWindow, x: float, y: float) -> QPoint:
    """Viewport coordinates of a scene point."""
    return win.view.mapFromScene(QPointF(x, y))


@pytest.fixture
def tmp_workflow(tmp_path: Path) -> Path:
    """A small saved workflow file."""
    from nopflow.model import save_workflow

    path = tmp_path / "small.nopflow.json"
    save_workflow(small_workflow(), path)
    return path
