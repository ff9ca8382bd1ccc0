"""Temps left by a writer killed mid-write (kill -9) are removed by the next write of the
same file — beside workflows, in history/ — while a live writer's temp is never touched
(issue 11 item 14). The writers are real processes, really killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nopflow.model import Workflow, load_workflow, save_workflow
from nopflow.model.temps import STALE_AFTER_S
from nopflow.storage.history import HistoryStore

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL/SIGSTOP")

REPO = Path(__file__).resolve().parent.parent
Writers = list[subprocess.Popen[bytes]]

#: rewrites its target atomically, 24 MiB at a time, until killed
WRITER = """\
import sys
from nopflow.model.fileio import atomic_write_bytes
data = b"x" * (24 << 20)
while True:
    atomic_write_bytes(sys.argv[1], data)
"""


def _temps(target: Path) -> list[Path]:
    return sorted(target.parent.glob(f".{target.name}.*.tmp"))


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[Writers]:
    """Writer processes a test starts; each is killed by its pid at the end."""
    procs: Writers = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def _caught_mid_write(target: Path, procs: Writers, sig: int) -> Path:
    """Start a writer of ``target`` and send it ``sig`` while its temp exists; the temp."""
    for _attempt in range(20):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], cwd=REPO)
        procs.append(proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _temps(target):
            time.sleep(0.001)
        os.kill(proc.pid, sig)
        if sig == signal.SIGKILL:
            proc.wait(timeout=10)
        else:
            time.sleep(0.05)
        left = [t for t in _temps(target) if f".{proc.pid}-" in t.name]
        if left:
            return left[0]
        proc.kill()  # it finished that write just before the signal: try again
        proc.wait(timeout=10)
    raise AssertionError("never caught the writer mid-write")


def _workflow() -> Workflow:
    return Workflow.model_validate({"id": "temps", "name": "Temps",
                                    "nodes": [{"id": "start", "type": "start"}]})


def test_the_next_save_removes_a_killed_writers_temp(tmp_path: Path, writer: Writers) -> None:
    target = tmp_path / "flow.nopflow.json"
    left = _caught_mid_write(target, writer, signal.SIGKILL)
    assert left.stat().st_size > 0  # half a write, left behind by kill -9
    save_workflow(_workflow(), target)
    assert _temps(target) == []
    assert load_workflow(target).name == "Temps"


def test_a_live_writers_temp_is_kept_until_it_dies(tmp_path: Path, writer: Writers) -> None:
    target = tmp_path / "flow.nopflow.json"
    stopped = _caught_mid_write(target, writer, signal.SIGSTOP)  # alive, mid-write
    save_workflow(_workflow(), target)
    assert _temps(target) == [stopped]  # another process is still writing it
    proc = writer[-1]
    proc.kill()
    proc.wait(timeout=10)
    save_workflow(_workflow(), target)
    assert _temps(target) == []


def test_old_style_temps_go_when_old_and_unrelated_names_stay(tmp_path: Path) -> None:
    target = tmp_path / "flow.nopflow.json"
    young = tmp_path / ".flow.nopflow.json.a1b2c3d4.tmp"  # mkstemp's names, earlier versions
    old = tmp_path / ".flow.nopflow.json.zz9_xq0k.tmp"
    others = [tmp_path / ".flow.nopflow.json.bak.abcdefgh.tmp",  # another file's temp
              tmp_path / ".flow.nopflow.json.abcdefgh.txt",
              tmp_path / ".other.nopflow.json.abcdefgh.tmp"]
    for path in (young, old, *others):
        path.write_text("half")
    past = time.time() - STALE_AFTER_S - 60
    for path in (old, *others):
        os.utime(path, (past, past))
    save_workflow(_workflow(), target)
    assert not old.exists()
    assert young.exists() and all(p.exists() for p in others)


def test_a_run_cleans_history_temps_a_killed_run_left(tmp_path: Path, writer: Writers) -> None:
    data = tmp_path / "data"
    history_file = HistoryStore(data / "history").path_for("temps")
    history_file.parent.mkdir(parents=True, exist_ok=True)
    left = _caught_mid_write(history_file, writer, signal.SIGKILL)
    history_file.unlink(missing_ok=True)  # the killed writer's last whole write
    flow = tmp_path / "flow.nopflow.json"
    save_workflow(_workflow(), flow)
    proc = subprocess.run([sys.executable, "-m", "nopflow", "run", str(flow), "--json"],
                          capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "NOPFLOW_DATA_DIR": str(data)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "completed"
    assert not left.exists()
    assert _temps(history_file) == []
    assert [r.status for r in HistoryStore(data / "history").list_runs("temps")] == ["completed"]
