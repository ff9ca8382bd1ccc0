"""The GUI drives the sandbox from qasync's Qt event loop: pipes, pidfds, timers must work."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

qasync = pytest.importorskip("qasync")
QtWidgets = pytest.importorskip("PySide6.QtWidgets")

from nopflow.sandbox import ScriptRunner, ScriptSpec  # noqa: E402


def test_runner_on_qasync_loop(tmp_path: Path, qapp: QtWidgets.QApplication) -> None:
    # The GUI's application object (pytest-qt's), not a bare QCoreApplication: a
    # QCoreApplication left behind would make every later widget test abort.
    app = qapp
    loop = qasync.QEventLoop(app)
    lines: list[str] = []

    async def main() -> None:
        runner = ScriptRunner()
        try:
            code = "import json,sys\nprint('log', file=sys.stderr)\nprint(json.load(sys.stdin))"
            r = await runner.run(ScriptSpec(project_dir=tmp_path, code=code, input=1), lines.append)
            assert r.ok and r.output == 1
            assert lines == ["log"]
            r = await runner.run(
                ScriptSpec(project_dir=tmp_path, code="while True: pass", timeout_s=0.3)
            )
            assert r.error == "timed out after 0.3 s"
            h = await runner.start(
                ScriptSpec(project_dir=tmp_path, code="import time\ntime.sleep(0.4)", timeout_s=0.8)
            )
            h.pause()
            await asyncio.sleep(0.6)
            h.resume()
            assert (await h.wait()).ok
            specs = [
                ScriptSpec(
                    project_dir=tmp_path,
                    code="import json,sys\nprint(json.load(sys.stdin))",
                    input=i,
                )
                for i in range(12)
            ]
            results = await asyncio.gather(*(runner.run(s) for s in specs))
            assert [x.output for x in results] == list(range(12))
        finally:
            await runner.aclose()

    try:
        with loop:
            loop.run_until_complete(asyncio.wait_for(main(), 30))
    finally:
        asyncio.set_event_loop(None)
