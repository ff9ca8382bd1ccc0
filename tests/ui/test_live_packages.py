"""A run in the editor builds the scripts' package environments first, with a progress bar,
and a build failure is shown without starting the run (real uv, a real index on 127.0.0.1)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "envs"))

pytest.importorskip("qasync")

from pkgindex import PackageIndex, index, wheels
from test_live_run import aloop, open_saved, wait_idle, workflow

from nopflow.storage.history import HistoryStore

__all__ = ["aloop", "index", "wheels"]

CODE = ("# /// script\n# dependencies = [\"tinyfmt\"]\n# ///\n"
        "import json, tinyfmt\nprint(json.dumps({'s': tinyfmt.show(21)}))\n")


def test_packages_are_built_before_the_run_with_a_progress_bar(
        window, qtbot, aloop, tmp_path: Path, index: PackageIndex) -> None:  # type: ignore[no-untyped-def]
    wf = workflow([{"id": "p", "type": "python", "config": {"code": CODE}}], [("start", "p")])
    path = open_saved(window, tmp_path, wf)
    progress = window.live.env_progress
    seen: list[tuple[str, bool]] = []
    original = progress.show_line

    def spy(line: str) -> None:
        original(line)
        seen.append((line, progress.bar.isVisible() and progress.label.isVisible()))
        if len(seen) == 2:
            window.grab().save(str(tmp_path.parent / "packages-building.png"))

    progress.show_line = spy  # type: ignore[method-assign]
    window.live.start()
    wait_idle(window, qtbot)
    lines = [line for line, _visible in seen]
    assert lines[0] == "resolving tinyfmt (node p) …"
    assert lines[1].startswith("building environment ") and "tinyfmt==2.0" in lines[1]
    assert lines[2].startswith("environment ") and " ready in " in lines[2]
    assert all(visible for _line, visible in seen)
    assert not progress.bar.isVisible()  # gone once the run starts
    log = window.output.toPlainText()
    assert "packages: building environment" in log
    assert log.index("packages: environment") < log.index("started")
    (run,) = HistoryStore().list_runs(wf.id)
    assert run.status == "completed"
    assert run.nodes["p"].output == {"s": "<42>"}
    assert (path.parent / "live.nopflow.lock").is_file()


def test_a_package_that_cannot_be_installed_stops_the_run_before_it_starts(
        window, qtbot, aloop, tmp_path: Path, index: PackageIndex) -> None:  # type: ignore[no-untyped-def]
    wf = workflow([{"id": "p", "type": "python",
                    "config": {"code": CODE.replace("tinyfmt\"", "nosuchpkg\"")}}],
                  [("start", "p")])
    open_saved(window, tmp_path, wf)
    window.live.start()
    wait_idle(window, qtbot)
    assert "node p: package nosuchpkg could not be resolved" in window.output.toPlainText()
    assert "Not run: the scripts' packages" in window.statusBar().currentMessage()
    assert HistoryStore().list_runs(wf.id) == []
    assert not window.live.env_progress.bar.isVisible()
