"""Quitting the real editor (run_editor on qasync's loop) after a run: silent, no process left.

Each case runs the app in a child interpreter, so what it prints at exit — including what
Python and Qt print while the window is destroyed — is captured whole.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("qasync")

from nopflow.model import Workflow, save_workflow

REPO = Path(__file__).resolve().parents[2]
#: the offscreen platform plugin warns about this on every window; not ours
QT_OFFSCREEN_NOISE = "This plugin does not support propagateSizeHints()"

QUIT_SCRIPT = r"""
import os, sys
from pathlib import Path
from PySide6.QtCore import QPointF, QTimer
from nopflow.ui import app as appmod, dialogs

answer = sys.argv[2]
dialogs.ask_unsaved = lambda parent, name: answer
opened = appmod.open_window

def tree(root):
    # every live descendant of `root` (zygote, its spares, scripts)
    kids = {}
    for e in Path('/proc').iterdir():
        if e.name.isdigit():
            try:
                f = (e / 'stat').read_text().rsplit(')', 1)[1].split()
            except OSError:
                continue
            if f[0] not in 'ZX':
                kids.setdefault(int(f[1]), []).append(int(e.name))
    out, todo = [], [root]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out

def open_and_run(f):
    w = opened(f)
    QTimer.singleShot(200, w.live.start)
    def quit_when_done():
        if w.live.task is None or not w.live.task.done():
            QTimer.singleShot(50, quit_when_done)
            return
        assert w.live.run.state.value == 'completed', w.live.run.state
        if answer == 'discard':
            w.editor.add_note(QPointF(40, 200))  # an unsaved change: Quit asks
        print('PIDS', *tree(os.getpid()), flush=True)
        w.act_quit.trigger()  # File > Quit
    QTimer.singleShot(300, quit_when_done)
    return w

appmod.open_window = open_and_run
print('RC', appmod.run_editor(sys.argv[1]), flush=True)
"""


def quit_after_a_run(tmp_path: Path,
                     answer: str) -> tuple[subprocess.CompletedProcess[str], list[int]]:
    """Start the editor on a one-script workflow, run it, File ▸ Quit; returns the process
    and the pids of the sandbox tree seen just before quitting."""
    wf = Workflow.model_validate({
        "name": "Quit test",
        "nodes": [{"id": "start", "type": "start", "position": [0, 0]},
                  {"id": "py", "type": "python", "position": [300, 0],
                   "config": {"code": "print('{}')"}}],
        "edges": [{"id": "e1", "source": "start", "target": "py"}],
    })
    path = tmp_path / "quit.nopflow.json"
    save_workflow(wf, path)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", QUIT_SCRIPT, str(path), answer], cwd=REPO,
                          capture_output=True, text=True, timeout=90, env=env)
    pids = next((line.split()[1:] for line in proc.stdout.splitlines()
                 if line.startswith("PIDS")), None)
    assert pids is not None, proc.stdout + proc.stderr[-3000:]
    return proc, [int(p) for p in pids]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("answer", ["nothing-unsaved", "discard"])
def test_quit_after_a_run_is_silent_and_leaves_no_process(tmp_path, answer):
    proc, sandbox = quit_after_a_run(tmp_path, answer)
    assert "RC 0" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    assert sandbox, "the run should have started the sandbox's zygote"
    noise = [line for line in proc.stderr.splitlines()
             if line.strip() and line.strip() != QT_OFFSCREEN_NOISE]
    assert noise == [], "\n".join(noise)
    assert [p for p in sandbox if alive(p)] == []


DESTROYED_UNCLOSED = r"""
from PySide6.QtCore import QPointF
from nopflow.ui.app import make_app
from nopflow.ui.main_window import MainWindow
app = make_app()
w = MainWindow()
w.show()
w.editor.add_note(QPointF(0, 0))
w.editor.add_note(QPointF(0, 80))
w.undo.undo()  # something to undo and to redo: the stack signals when it is destroyed
app.processEvents()
print('DONE', flush=True)
"""


def test_a_window_destroyed_without_closing_is_silent(tmp_path):
    """The session ends without a close event: destroying the window says nothing."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", DESTROYED_UNCLOSED], cwd=REPO,
                          capture_output=True, text=True, timeout=60, env=env)
    assert "DONE" in proc.stdout, proc.stderr[-3000:]
    noise = [line for line in proc.stderr.splitlines()
             if line.strip() and line.strip() != QT_OFFSCREEN_NOISE]
    assert noise == [], "\n".join(noise)
