"""Regression: many subprocesses under a qasync loop must not abort the interpreter.

PySide6 6.12.0 leaks a reference to `True` in `SignalInstance.disconnect()`; qasync
disconnects ~3 signals per subprocess, so after a few hundred subprocesses Python 3.11 dies
with `Fatal Python error: bool_dealloc`. pyproject excludes 6.12.0; this test keeps it so.
Runs in a child interpreter so a fatal abort fails the test instead of killing pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

N_SUBPROCESSES = 650

CHILD = textwrap.dedent(
    f"""
    import asyncio, sys
    from PySide6.QtWidgets import QApplication
    import qasync

    async def main():
        for i in range({N_SUBPROCESSES}):
            proc = await asyncio.create_subprocess_exec(
                "/bin/true", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            await proc.communicate()
            assert proc.returncode == 0
        return "ok"

    app = QApplication(sys.argv)
    print(qasync.run(main()))
    """
)


def test_hundreds_of_subprocesses_under_qasync() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         timeout=240, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().endswith("ok")
    assert "bool_dealloc" not in res.stderr
