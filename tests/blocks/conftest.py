"""Fixtures for block tests: distributions with `nopflow.blocks` entry points on sys.path."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nopflow.blocks import registry

#: install(dir_name, {entry point name: value}, {module name: source}) -> the sys.path dir
InstallDist = Callable[[str, dict[str, str], dict[str, str]], Path]


def write_dist(root: Path, name: str, entry_points: dict[str, str],
               modules: dict[str, str]) -> Path:
    """A real installed-distribution layout (dist-info + modules), as pip leaves it."""
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n",
                                   encoding="utf-8")
    lines = [f"{k} = {v}" for k, v in entry_points.items()]
    (info / "entry_points.txt").write_text(
        "[nopflow.blocks]\n" + "\n".join(lines) + "\n", encoding="utf-8")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source, encoding="utf-8")
    return root


@pytest.fixture
def install_dist(tmp_path: Path) -> Iterator[InstallDist]:
    """Put fake installed distributions on sys.path; discovery looks again before and after."""
    added: list[str] = []
    modules: list[str] = []

    def install(name: str, entry_points: dict[str, str], sources: dict[str, str]) -> Path:
        root = write_dist(tmp_path / "site" / name, name, entry_points, sources)
        sys.path.insert(0, str(root))
        added.append(str(root))
        modules.extend(sources)
        registry.rediscover()
        return root

    yield install
    for path in added:
        sys.path.remove(path)
    for module in modules:
        sys.modules.pop(module, None)
    registry.rediscover()


@pytest.fixture
def editor(qtbot, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A factory of shown editor windows; no modal question can block the test."""
    pytest.importorskip("PySide6")
    from nopflow.ui import dialogs
    from nopflow.ui.main_window import MainWindow

    asked: list[str] = []
    monkeypatch.setattr(dialogs, "ask_unsaved", lambda *a: asked.append("unsaved") or "discard")
    monkeypatch.setattr(dialogs, "ask_recover", lambda *a: asked.append("recover") or False)
    monkeypatch.setattr(dialogs, "show_error", lambda *a: asked.append(f"error: {a[1:]}"))
    windows = []

    def make():  # type: ignore[no-untyped-def]
        win = MainWindow()
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        windows.append(win)
        return win

    yield make
    for win in windows:
        win._recovered = False
        win.undo.setClean()
        win.close()
