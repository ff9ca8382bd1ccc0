"""Live runs in the real window: real workflows, real Python blocks, on qasync's loop.

Every wait is bounded (`qtbot.waitUntil` with a timeout); every test that spawns script
processes checks that they are gone at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prochelpers import script_pid

qasync = pytest.importorskip("qasync")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from nopflow.model import Workflow, save_workflow  # noqa: E402
from nopflow.storage.history import HistoryStore  # noqa: E402
from nopflow.ui.live import history_panel, run_controller, run_inputs_dialog  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 30_000

PID_THEN_SLEEP = (
    "import os, sys, time, json\n"
    "me = os.readlink('/proc/self/ns/pid') + '/' + str(os.getpid())\n"
    "print('pid', me, file=sys.stderr, flush=True)\n"
    "time.sleep({seconds})\n"
    "print(json.dumps({{'slept': {seconds}}}))\n"
)


@pytest.fixture
def aloop(qapp):  # type: ignore[no-untyped-def]
    """qasync's loop on pytest-qt's QApplication, 'running' while Qt processes events.

    Teardown never calls ``loop.stop()``: that calls ``QApplication.exit()``, which would
    leave Qt's quit flag set for the rest of the session. The loop's worker threads are a
    plain executor that is shut down here instead.
    """
    loop = qasync.QEventLoop(qapp, already_running=True)
    executor = ThreadPoolExecutor(4, thread_name_prefix="test-loop")
    loop.set_default_executor(executor)
    asyncio.set_event_loop(loop)
    yield loop
    from nopflow.ui.main_window import active_windows

    for w in active_windows():  # a failed test may leave a run going: end it properly
        w.live.cancel()
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    deadline = time.monotonic() + 10
    while any(not t.done() for t in pending) and time.monotonic() < deadline:
        qapp.processEvents()
        time.sleep(0.01)
    for t in pending:
        t.cancel()
    deadline = time.monotonic() + 10
    while any(not t.done() for t in pending) and time.monotonic() < deadline:
        qapp.processEvents()
        time.sleep(0.01)
    executor.shutdown(wait=True)
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


@pytest.fixture(autouse=True)
def _never_block_on_close(monkeypatch: pytest.MonkeyPatch) -> None:
    """A modal question at teardown would hang the suite: answer 'cancel and close'."""
    monkeypatch.setattr(run_controller, "ask_cancel_run", lambda parent: True)


def workflow(nodes: list[dict[str, Any]], edges: list[tuple[str, str]], **extra: Any) -> Workflow:
    """start + nodes, laid out left to right; edges as (source[.port], target)."""
    all_nodes = [{"id": "start", "type": "start", "position": [0, 0]}]
    for i, n in enumerate(nodes):
        all_nodes.append({"position": [260 * (i + 1), 120 * (i % 2)], **n})
    return Workflow.model_validate({
        "name": extra.pop("name", "Live test"),
        "nodes": all_nodes,
        "edges": [{"id": f"e{i}", "source": s.split(".")[0],
                   "source_port": s.split(".")[1] if "." in s else "out", "target": t}
                  for i, (s, t) in enumerate(edges)],
        **extra,
    })


def open_saved(window, tmp_path: Path, wf: Workflow) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / "live.nopflow.json"
    save_workflow(wf, path)
    assert window.open_file(str(path), ask=False)
    return path


def click_toolbar(window, name: str, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Press a run action's toolbar button, as a user would."""
    from PySide6.QtWidgets import QToolBar

    act = window.run_actions[name]
    tb = window.findChild(QToolBar, "toolbar_main")
    button = tb.widgetForAction(act)
    assert button is not None and button.isEnabled(), f"{name} button not enabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def wait_idle(window, qtbot, timeout: int = RUN_TIMEOUT) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not window.live.busy and window.live.task is not None
                    and window.live.task.done(), timeout=timeout)


def wait_pid(window, qtbot, node_id: str) -> int:  # type: ignore[no-untyped-def]
    """The script's host pid, from the live stderr line in the Output log that gives it."""
    found: list[int] = []

    def seen() -> bool:
        for line in window.output.toPlainText().splitlines():
            if line.startswith(f"{node_id} | pid "):
                pid = script_pid(line.split()[-1])
                if pid is not None:
                    found.append(pid)
                return True
        return False

    qtbot.waitUntil(seen, timeout=RUN_TIMEOUT)
    return found[0]


def proc_state(pid: int) -> str | None:
    """The state letter in /proc/<pid>/stat (R, S, T, Z…), None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()[0]


def gone(pid: int) -> bool:
    return proc_state(pid) in (None, "Z", "X")


def child_pids() -> set[int]:
    """Live (not zombie) direct children of this test process: script runners, zygotes."""
    me = os.getpid()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] not in ("Z", "X"):
            found.add(int(entry.name))
    return found


@pytest.fixture
def record_states(window):  # type: ignore[no-untyped-def]
    """Every state the canvas was asked to show, per node, in order."""
    seen: dict[str, list[str | None]] = {}
    original = window.scene.set_node_state

    def spy(node_id: str, state: str | None, **kw: Any) -> None:
        seen.setdefault(node_id, []).append(state)
        original(node_id, state, **kw)

    window.scene.set_node_state = spy
    return seen


# ---------------------------------------------------------------------- runs


def test_run_from_toolbar_goes_through_states(window, qtbot, aloop, tmp_path, record_states):
    wf = workflow(
        [{"id": "calc", "type": "python",
          "config": {"code": "import json,sys\nd=json.load(sys.stdin)\n"
                             "print('working', file=sys.stderr)\nprint(json.dumps({'n': 21*2}))"}},
         {"id": "out", "type": "output", "config": {"values": {"n": "{{ $prev.n }}"}}}],
        [("start", "calc"), ("calc", "out")])
    open_saved(window, tmp_path, wf)
    assert window.run_actions["run"].isEnabled()
    assert not window.run_actions["pause"].isEnabled()
    assert not window.run_actions["cancel"].isEnabled()
    bridged: dict[str, list[str]] = {}
    window.live.bridge.nodeEvents.connect(
        lambda evs: [bridged.setdefault(e.node_id, []).append(e.state) for e in evs
                     if hasattr(e, "state")])
    finished: list[Any] = []
    window.live.bridge.runFinished.connect(finished.append)

    click_toolbar(window, "run", qtbot)
    assert window.live.busy and not window.run_actions["run"].isEnabled()  # no double start
    wait_idle(window, qtbot)

    assert finished and finished[0].status == "completed"
    for nid in ("start", "calc", "out"):
        assert bridged[nid] == ["running", "success"], nid
        assert record_states[nid][0] == "pending"
        assert record_states[nid][-1] == "success"
        assert window.scene.nodes[nid].state == "success"
    assert "running" in record_states["calc"]
    assert all(item.live for item in window.scene.edges.values())
    assert window.live.run.outputs == {"n": 42}
    assert "calc | working" in window.output.toPlainText()
    assert "completed 3/3" in window.live.status_label.text()
    assert not window.live.banner.isVisible()
    assert window.run_actions["run"].isEnabled() and not window.run_actions["cancel"].isEnabled()
    # inspect: the node's output tree, input, and log
    window.scene.select_only([window.scene.nodes["calc"]])
    qtbot.waitUntil(lambda: window.live.node_view.current is not None, timeout=3000)
    view = window.live.node_view
    assert view.current.output == {"n": 42} and view.current.log == ["working"]
    assert view.outputs.tree.topLevelItem(0).text(0) == "n"
    assert json.loads(view.outputs.tree.copy_text()) == {"n": 42}
    # recorded like the CLI does
    qtbot.waitUntil(lambda: len(window.live.history.runs) == 1, timeout=5000)
    assert HistoryStore().list_runs(wf.id)[0].status == "completed"


def test_pause_stops_the_script_process_and_resume_continues(window, qtbot, aloop, tmp_path):
    code = ("import os, sys, time, json\n"
            "me = os.readlink('/proc/self/ns/pid') + '/' + str(os.getpid())\n"
            "print('pid', me, file=sys.stderr, flush=True)\n"
            "for i in range(12):\n"
            "    print('tick', i, file=sys.stderr, flush=True)\n"
            "    time.sleep(0.1)\n"
            "print(json.dumps({'ticks': 12}))\n")
    wf = workflow([{"id": "slow", "type": "python", "config": {"code": code, "timeout_s": 20}}],
                  [("start", "slow")])
    open_saved(window, tmp_path, wf)

    def ticks() -> int:
        return window.output.toPlainText().count("slow | tick ")

    click_toolbar(window, "run", qtbot)
    pid = wait_pid(window, qtbot, "slow")
    assert window.run_actions["cancel"].isEnabled() and not window.run_actions["run"].isEnabled()
    assert window.live.banner.isVisible() and "read-only" in window.live.banner.label.text()
    assert window.scene.nodes["slow"].state == "running"
    click_toolbar(window, "pause", qtbot)
    qtbot.waitUntil(lambda: proc_state(pid) == "T", timeout=5000)  # SIGSTOPped
    qtbot.waitUntil(lambda: window.live.paused, timeout=3000)
    assert window.run_actions["pause"].text() == "&Resume"
    assert "paused" in window.live.banner.label.text().lower()
    assert "paused" in window.live.status_label.text()
    qtbot.wait(300)  # lines already in the pipe arrive
    held = ticks()
    assert held < 12
    shown = window.scene.nodes["slow"]._state_label()
    qtbot.wait(1000)
    assert proc_state(pid) == "T" and ticks() == held  # it really did nothing meanwhile
    assert window.scene.nodes["slow"]._state_label() == shown  # elapsed time stood still
    QTest.keyClick(window, Qt.Key.Key_F6)  # resume with the shortcut
    qtbot.waitUntil(lambda: proc_state(pid) not in ("T", None) or ticks() > held,
                    timeout=5000)
    wait_idle(window, qtbot)
    assert ticks() == 12
    assert window.live.run.state.value == "completed"
    assert window.live.run.nodes["slow"].output == {"ticks": 12}
    assert window.scene.nodes["slow"].state == "success"
    qtbot.waitUntil(lambda: gone(pid), timeout=5000)


def test_cancel_kills_the_child_and_is_kept_as_cancelled(window, qtbot, aloop, tmp_path):
    wf = workflow([{"id": "slow", "type": "python",
                    "config": {"code": PID_THEN_SLEEP.format(seconds=30), "timeout_s": 60}},
                   {"id": "after", "type": "output", "config": {"values": {}}}],
                  [("start", "slow"), ("slow", "after")])
    open_saved(window, tmp_path, wf)
    click_toolbar(window, "run", qtbot)
    pid = wait_pid(window, qtbot, "slow")
    assert window.scene.nodes["slow"].state == "running"
    assert not gone(pid)
    QTest.keyClick(window, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)  # Shift+F5
    wait_idle(window, qtbot, timeout=15_000)
    assert window.live.run.state.value == "cancelled"
    qtbot.waitUntil(lambda: gone(pid), timeout=5000)
    assert window.scene.nodes["slow"].state == "cancelled"
    assert window.scene.nodes["after"].state == "cancelled"
    qtbot.waitUntil(lambda: len(window.live.history.runs) == 1, timeout=5000)
    assert window.live.history.runs[0].status == "cancelled"


def test_close_during_run_asks_then_cancels_and_leaves_no_child(
        window, qtbot, aloop, tmp_path, monkeypatch):
    wf = workflow([{"id": "slow", "type": "python",
                    "config": {"code": PID_THEN_SLEEP.format(seconds=30), "timeout_s": 60}}],
                  [("start", "slow")])
    open_saved(window, tmp_path, wf)
    before = child_pids()
    answers = [False, True]
    asked: list[bool] = []

    def ask(parent):  # type: ignore[no-untyped-def]
        asked.append(True)
        return answers[len(asked) - 1]

    monkeypatch.setattr(run_controller, "ask_cancel_run", ask)
    window.run_actions["run"].trigger()  # F5's action
    pid = wait_pid(window, qtbot, "slow")
    window.close()  # "No": nothing happens
    assert asked == [True] and window.isVisible() and window.live.busy
    assert not gone(pid)
    window.close()  # "Yes": cancel, wait, close
    assert asked == [True, True]
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=15_000)
    qtbot.waitUntil(lambda: gone(pid), timeout=5000)
    qtbot.waitUntil(lambda: not (child_pids() - before), timeout=5000)  # no zygote left
    assert window.live.run.state.value == "cancelled"
    runs = HistoryStore().list_runs(wf.id)
    assert runs and runs[0].status == "cancelled"


def test_history_shows_cli_runs_and_recolours_the_canvas(
        window, qtbot, aloop, tmp_path, monkeypatch):
    wf = workflow(
        [{"id": "good", "type": "python", "config": {"code": "print('{\"ok\": 1}')"}},
         {"id": "bad", "type": "python",
          "config": {"code": "import sys\nprint('about to fail', file=sys.stderr)\nx = 1 / 0"}},
         {"id": "after", "type": "output", "config": {"values": {}}}],
        [("start", "good"), ("start", "bad"), ("bad", "after")],
        settings={"error_mode": "skip-branch"})
    path = open_saved(window, tmp_path, wf)
    # a run from the command line lands in the same store
    proc = subprocess.run([sys.executable, "-m", "nopflow", "run", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert proc.returncode == 1, proc.stderr
    window.live.history_dock.show()
    window.live.history.refresh()
    qtbot.waitUntil(lambda: len(window.live.history.runs) == 1, timeout=5000)
    tree = window.live.history.tree
    assert tree.topLevelItem(0).text(2) == "2 ok, 1 failed"

    window.live.history.select_run(0)
    scene = window.scene
    assert scene.nodes["good"].state == "success"
    assert scene.nodes["bad"].state == "error"
    assert scene.nodes["after"].state == "skipped"
    assert "ZeroDivisionError" in (scene.nodes["bad"].error or "")
    assert window.live.banner.isVisible() and "past run" in window.live.banner.label.text()
    scene.select_only([scene.nodes["bad"]])
    qtbot.waitUntil(lambda: window.live.node_view.current is not None
                    and window.live.node_view.current.node_id == "bad", timeout=3000)
    view = window.live.node_view
    assert "ZeroDivisionError" in view.error.text()
    assert "ZeroDivisionError" in view.traceback.toPlainText()
    assert "about to fail" in view.log.toPlainText()

    # export (atomic JSON) and back to live
    target = tmp_path / "export.json"
    monkeypatch.setattr(history_panel, "ask_export_path", lambda parent, s: str(target))
    window.live.history.export_selected()
    qtbot.waitUntil(target.exists, timeout=5000)
    assert json.loads(target.read_text())["nodes"]["bad"]["status"] == "error"
    window.live.history.back_to_live()
    assert scene.nodes["bad"].state is None and not window.live.banner.isVisible()

    # a GUI run comes first, newest first; then delete it
    window.run_actions["run"].trigger()
    wait_idle(window, qtbot)
    qtbot.waitUntil(lambda: len(window.live.history.runs) == 2, timeout=5000)
    assert window.live.history.runs[0].run_id == window.live.run.id
    window.live.history.select_run(0)
    window.live.history.delete_selected()
    qtbot.waitUntil(lambda: len(window.live.history.runs) == 1, timeout=5000)
    assert window.live.history.runs[0].run_id != window.live.run.id


def test_history_opens_a_big_run_quickly(window, qtbot, aloop):
    """Selecting a kept 1,000-node run recolours the canvas in a few milliseconds."""
    from nopflow.model.records import NodeRecordData
    from nopflow.storage.history import RunRecord

    n = 1000
    wf = Workflow.model_validate({
        "name": "Big", "nodes": [{"id": f"n{i}", "type": "delay", "config": {"seconds": 0},
                                  "position": [(i % 40) * 240, (i // 40) * 120]}
                                 for i in range(n)],
        "edges": [{"id": f"e{i}", "source": f"n{i - 1}", "target": f"n{i}"}
                  for i in range(1, n)]})
    window.set_workflow(wf, None)
    rec = RunRecord(run_id="r1", workflow_id=wf.id, workflow_name="Big", status="failed",
                    started_at="2026-01-01T00:00:00.000Z", duration_ms=1234,
                    nodes={f"n{i}": NodeRecordData(status="error" if i == 500 else "success",
                                                   duration_ms=1) for i in range(n)})
    HistoryStore().record(rec)
    window.live.history.refresh()
    qtbot.waitUntil(lambda: len(window.live.history.runs) == 1, timeout=5000)
    best = 1e9
    for _ in range(3):
        window.live.history.back_to_live()
        t0 = time.perf_counter()
        window.live.history.select_run(0)
        best = min(best, time.perf_counter() - t0)
    assert window.scene.nodes["n500"].state == "error"
    assert best < 0.25  # generous for CI; benchmarks/live_updates.py reports the real figure


# ---------------------------------------------------------------------- starting


def test_run_inputs_are_asked_and_remembered(window, qtbot, aloop, tmp_path, monkeypatch):
    wf = workflow([{"id": "out", "type": "output",
                    "config": {"values": {"n": "{{ $input.n }}", "who": "{{ $input.who }}"}}}],
                  [("start", "out")], inputs={"n": {"default": 2}, "who": "world"})
    open_saved(window, tmp_path, wf)
    asked: list[dict[str, Any]] = []
    answers: list[dict[str, Any] | None] = [None, {"n": 5, "who": "you"}]

    def ask(parent, workflow, remembered):  # type: ignore[no-untyped-def]
        asked.append(dict(remembered))
        return answers[len(asked) - 1] if len(asked) <= len(answers) else remembered

    monkeypatch.setattr(run_inputs_dialog, "ask_run_inputs", ask)
    window.run_actions["run"].trigger()
    assert asked == [{}] and not window.live.busy  # cancelled the form: nothing runs
    window.run_actions["run"].trigger()
    wait_idle(window, qtbot)
    assert window.live.run.outputs == {"n": 5, "who": "you"}
    window.run_actions["run"].trigger()
    assert asked[2] == {"n": 5, "who": "you"}  # remembered per workflow
    wait_idle(window, qtbot)


def test_the_form_shows_defaults_and_reads_values_like_the_cli(qtbot):
    wf = workflow([], [], inputs={"n": {"default": 2}, "tags": {"default": ["a"]},
                                  "key": {"default": "", "secret": True}})
    dlg = run_inputs_dialog.RunInputsDialog(wf, {"n": 7})
    qtbot.addWidget(dlg)
    assert dlg.edits["n"].text() == "7" and dlg.edits["tags"].text() == '["a"]'
    assert dlg.edits["key"].echoMode() == dlg.edits["key"].EchoMode.Password
    dlg.edits["tags"].setText("plain text")
    assert dlg.values() == {"n": 7, "tags": "plain text", "key": None}


def test_compile_problems_are_listed_and_nothing_runs(window, qtbot, aloop, tmp_path):
    wf = workflow([{"id": "calc", "type": "python", "config": {"code": "print(1)"}}], [])
    open_saved(window, tmp_path, wf)
    window.run_actions["run"].trigger()
    qtbot.waitUntil(lambda: window.live.task is not None and window.live.task.done(),
                    timeout=10_000)
    assert window.live.run is None and not window.live.busy
    assert window.problems.topLevelItemCount() >= 1
    assert "Not run" in window.statusBar().currentMessage()
    assert window.run_actions["run"].isEnabled()
    assert HistoryStore().list_runs(wf.id) == []


def test_an_unsaved_workflow_runs_in_its_scratch_folder(window, qtbot, aloop):
    from nopflow.storage.locations import scratch_project_dir

    wf = workflow([{"id": "calc", "type": "python",
                    "config": {"code": "import os, json\nprint(json.dumps(os.getcwd()))"}}],
                  [("start", "calc")])
    window.set_workflow(wf, None)
    window.run_actions["run"].trigger()
    wait_idle(window, qtbot)
    run = window.live.run
    assert run.state.value == "completed"
    assert Path(run.nodes["calc"].output).resolve() == scratch_project_dir(wf.id).resolve()


def test_canvas_is_read_only_during_a_run(window, qtbot, aloop, tmp_path):
    wf = workflow([{"id": "slow", "type": "python",
                    "config": {"code": PID_THEN_SLEEP.format(seconds=30), "timeout_s": 60}}],
                  [("start", "slow")])
    open_saved(window, tmp_path, wf)
    window.run_actions["run"].trigger()
    pid = wait_pid(window, qtbot, "slow")
    assert not window.act_delete.isEnabled() and not window.act_paste.isEnabled()
    assert not window.palette.isEnabled() and not window.act_open.isEnabled()
    item = window.scene.nodes["slow"]
    before = item.pos()
    vp = window.view.viewport()
    start = window.view.mapFromScene(item.pos() + item.boundingRect().center() / 2)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(vp, start + QPoint(80, 60))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       start + QPoint(80, 60))
    assert item.isSelected()  # inspection still works
    assert item.pos() == before and window.doc.nodes["slow"].position == (before.x(), before.y())
    assert window.undo.count() == 0
    window.live.cancel()
    wait_idle(window, qtbot, timeout=15_000)
    qtbot.waitUntil(lambda: gone(pid), timeout=5000)
    assert window.act_delete.isEnabled() and window.palette.isEnabled()


def test_a_failing_panel_is_reported_and_the_run_goes_on(window, qtbot, aloop, tmp_path,
                                                         monkeypatch):
    wf = workflow([{"id": "a", "type": "delay", "config": {"seconds": 0}}], [("start", "a")])
    open_saved(window, tmp_path, wf)

    def broken(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("panel exploded")

    monkeypatch.setattr(window.live, "_light_edges", broken)
    window.run_actions["run"].trigger()
    wait_idle(window, qtbot)
    assert window.live.run.state.value == "completed"
    assert "panel exploded" in window.output.toPlainText()


APP_EXIT_SCRIPT = r"""
import os, sys
from pathlib import Path
from PySide6.QtCore import QTimer
from nopflow.ui_entry import EDITOR_OPTIONS
from nopflow.ui import app as appmod
from nopflow.ui.main_window import active_windows

EDITOR_OPTIONS.update(quit_after=2.0)
orig = appmod.open_window

def open_and_run(f):
    w = orig(f)
    QTimer.singleShot(300, w.live.start)
    return w

appmod.open_window = open_and_run
rc = appmod.run_editor(sys.argv[1])
me = os.getpid()
kids = []
for e in Path('/proc').iterdir():
    if e.name.isdigit():
        try:
            f = (e / 'stat').read_text().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(f[1]) == me and f[0] not in 'ZX':
            kids.append(e.name)
print('RESULT', rc, active_windows()[0].live.run.state.value, len(kids))
"""


def test_quitting_the_app_during_a_run_cancels_it_and_leaves_no_child(tmp_path):
    """The real entry point (qasync loop in run_editor): quit mid-run, nothing survives."""
    wf = workflow([{"id": "slow", "type": "python",
                    "config": {"code": PID_THEN_SLEEP.format(seconds=30), "timeout_s": 60}}],
                  [("start", "slow")])
    path = tmp_path / "slow.nopflow.json"
    save_workflow(wf, path)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", APP_EXIT_SCRIPT, str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "RESULT 0 cancelled 0" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    runs = HistoryStore().list_runs(wf.id)
    assert runs and runs[0].status == "cancelled"


def test_only_edges_that_carried_data_light_up(window, qtbot, aloop, tmp_path):
    # The merge runs through the taken branch; the untaken branch's edge stays dark, live
    # and when the run is reopened from history.
    wf = workflow(
        [{"id": "check", "type": "condition", "config": {"expression": "1 > 2"}},
         {"id": "join", "type": "merge", "config": {}}],
        [("start", "check"), ("check.true", "join"), ("check.false", "join")])
    open_saved(window, tmp_path, wf)
    window.run_actions["run"].trigger()
    wait_idle(window, qtbot)
    edges = window.scene.edges
    qtbot.waitUntil(lambda: edges["e2"].live is True, timeout=5000)
    assert edges["e0"].live is True and not edges["e1"].live
    window.live.history_dock.show()
    window.live.history.refresh()
    qtbot.waitUntil(lambda: len(window.live.history.runs) == 1, timeout=5000)
    window.live.history.select_run(0)
    assert edges["e0"].live is True and edges["e2"].live is True and not edges["e1"].live


def test_runs_share_one_warm_sandbox_and_closing_stops_it(window, qtbot, aloop, tmp_path):
    # The second press of Run reuses the zygote the first one started (no cold start);
    # closing the window shuts it down.
    wf = workflow([{"id": "py", "type": "python", "config": {"code": "print('{\"ok\": 1}')"}}],
                  [("start", "py")])
    open_saved(window, tmp_path, wf)
    zygotes = []
    for _ in range(2):
        window.run_actions["run"].trigger()
        wait_idle(window, qtbot)
        assert window.live.run.nodes["py"].output == {"ok": 1}
        runner = window.live._executor._runner
        zygotes.append(runner.zygote_pid)
    assert zygotes[0] is not None and zygotes[0] == zygotes[1] and not gone(zygotes[0])
    window.close()
    qtbot.waitUntil(lambda: gone(zygotes[0]), timeout=10_000)


def test_run_details_of_a_selected_node_show_each_log_line_once(window, qtbot, aloop, tmp_path):
    """Selected before the run: its details refresh from the live record as it changes,
    and the log event arriving a frame later must not add the same lines again."""
    wf = workflow(
        [{"id": "calc", "type": "python",
          "config": {"code": "import json,sys\nprint('one', file=sys.stderr)\n"
                             "print('two', file=sys.stderr)\nprint(json.dumps({}))"}}],
        [("start", "calc")])
    open_saved(window, tmp_path, wf)
    window.scene.select_only([window.scene.nodes["calc"]])
    click_toolbar(window, "run", qtbot)
    wait_idle(window, qtbot)
    view = window.live.node_view
    qtbot.waitUntil(lambda: view.current is not None and view.current.state == "success",
                    timeout=3000)
    qtbot.wait(50)
    assert view.log.toPlainText().splitlines() == ["one", "two"]
    # The ordering seen in a real window: the record already holds the lines when the
    # view is rebuilt (state change), and the bridge's log batch for them comes after.
    window.live._on_logs({"calc": ["two"]})
    assert view.log.toPlainText().splitlines() == ["one", "two"]
    assert view.current.log == ["one", "two"]
    assert window.output.toPlainText().count("calc | two") == 2  # the Output log just logs


def test_kept_loop_run_lights_the_body_edge(window, qtbot, aloop, tmp_path):
    """A loop's record lists only its final port ('done'); the body ran, so its edge lit
    live must stay lit when the run is shown again from History."""
    wf = workflow(
        [{"id": "each", "type": "loop", "config": {"items": [1, 2]}},
         {"id": "body", "type": "python", "config": {"code": "print('{}')"}},
         {"id": "out", "type": "output", "config": {"values": {}}}],
        [("start", "each"), ("each.body", "body"), ("each.done", "out")])
    open_saved(window, tmp_path, wf)
    click_toolbar(window, "run", qtbot)
    wait_idle(window, qtbot)
    assert window.scene.nodes["body"].state == "success"
    edges = window.scene.edges
    assert edges["e1"].live and edges["e2"].live  # lit while it ran
    window.live.history_dock.show()
    qtbot.waitUntil(lambda: len(window.live.history.runs) == 1, timeout=5000)
    window.live.history.select_run(0)
    assert window.live.viewing is not None
    assert all(edges[e].live for e in ("e0", "e1", "e2"))
    window.live.history.back_to_live()
    assert all(edges[e].live for e in ("e0", "e1", "e2"))


# ---------------------------------------------------------------------- lifecycle edges

MARK_THEN_PRINT = ("import json, pathlib\n"
                   "pathlib.Path('ran.txt').write_text('ran')\n"
                   "print(json.dumps({'ok': 1}))\n")


def marking_workflow() -> Workflow:
    """start → a script that leaves ran.txt in the project folder → output."""
    return workflow([{"id": "mark", "type": "python", "config": {"code": MARK_THEN_PRINT}},
                     {"id": "out", "type": "output", "config": {"values": {}}}],
                    [("start", "mark"), ("mark", "out")])


def test_cancel_while_compiling_cancels_the_run_before_any_node(window, qtbot, aloop, tmp_path):
    wf = marking_workflow()
    open_saved(window, tmp_path, wf)
    window.run_actions["run"].trigger()
    assert window.live.busy and window.live.run is None  # still compiling, off the GUI thread
    QTest.keyClick(window, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)  # Shift+F5
    wait_idle(window, qtbot)
    run = window.live.run
    assert run is not None and run.state.value == "cancelled"
    assert not (tmp_path / "ran.txt").exists()  # the script never ran
    for nid in ("start", "mark", "out"):
        assert run.nodes[nid].state.value == "cancelled", nid
        assert window.scene.nodes[nid].state == "cancelled", nid
    qtbot.waitUntil(lambda: len(window.live.history.runs) == 1, timeout=5000)
    assert window.live.history.runs[0].status == "cancelled"
    assert window.run_actions["run"].isEnabled() and not window.run_actions["cancel"].isEnabled()


def test_closing_while_compiling_cancels_then_closes(window, qtbot, aloop, tmp_path):
    wf = marking_workflow()
    open_saved(window, tmp_path, wf)
    window.run_actions["run"].trigger()
    assert window.live.run is None
    window.close()  # asked (answered "cancel and close" by the autouse fixture)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=15_000)
    assert window.live.run is not None and window.live.run.state.value == "cancelled"
    assert not (tmp_path / "ran.txt").exists()
    assert [r.status for r in HistoryStore().list_runs(wf.id)] == ["cancelled"]


def test_undo_history_and_opening_files_are_locked_during_a_run(window, qtbot, aloop, tmp_path,
                                                                 dialog_log):
    from PySide6.QtCore import QCoreApplication, QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent, QFileOpenEvent
    from PySide6.QtWidgets import QToolBar

    from nopflow.ui.app import make_app

    wf = workflow([{"id": "slow", "type": "python",
                    "config": {"code": PID_THEN_SLEEP.format(seconds=30), "timeout_s": 60}}],
                  [("start", "slow")])
    open_saved(window, tmp_path, wf)
    other = tmp_path / "other.nopflow.json"
    save_workflow(workflow([], [], name="Other"), other)
    window.editor.add_note(QPointF(0, 300))  # one edit the Undo History could take back
    assert len(window.doc.notes) == 1 and window.undo.index() == 1
    window.history_dock.show()
    window.run_actions["run"].trigger()
    pid = wait_pid(window, qtbot, "slow")
    tb = window.findChild(QToolBar, "toolbar_main")

    # the Undo History panel: clicking "Opened" would undo the note
    view = window.history_view
    opened_row = view.visualRect(view.model().index(0, 0)).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=opened_row)
    assert len(window.doc.notes) == 1 and window.undo.index() == 1
    assert not view.isEnabled() and "run" in view.toolTip()
    # Undo / Redo stay off, whatever the stack says
    QTest.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(window.doc.notes) == 1
    for act in (window.act_undo, window.act_redo):
        assert not act.isEnabled() and not tb.widgetForAction(act).isEnabled()
    assert "run" in window.act_undo.statusTip()

    # the OS's file-open event, a recent file, a file dropped on the canvas: all refused,
    # even when the user would discard the unsaved note
    dialog_log.unsaved = "discard"
    QCoreApplication.sendEvent(make_app(), QFileOpenEvent(str(other)))
    assert window.doc.header.name == "Live test"
    assert window.path == str(tmp_path / "live.nopflow.json")
    assert "while a run is in progress" in window.statusBar().currentMessage()
    assert not window.recent_menu.isEnabled()
    window.statusBar().clearMessage()
    assert not window.open_file(str(other))  # what Open Recent's entries call
    assert "while a run is in progress" in window.statusBar().currentMessage()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(other))])
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QCoreApplication.sendEvent(window.view.viewport(), drop)
    assert window.doc.header.name == "Live test" and len(window.doc.notes) == 1

    # after the run everything is back
    window.live.cancel()
    wait_idle(window, qtbot, timeout=15_000)
    qtbot.waitUntil(lambda: gone(pid), timeout=5000)
    assert view.isEnabled() and window.act_undo.isEnabled() and not window.act_redo.isEnabled()
    assert window.act_undo.text() == "&Undo Add note"
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=opened_row)
    assert len(window.doc.notes) == 0 and window.act_redo.isEnabled()


def test_runs_of_a_saved_as_copy_are_kept_apart_from_the_original(window, qtbot, aloop,
                                                                  tmp_path, dialog_log):
    wf = workflow([{"id": "wait", "type": "delay", "config": {"seconds": 0}}],
                  [("start", "wait")])
    original = open_saved(window, tmp_path, wf)
    window.live.history_dock.show()
    window.run_actions["run"].trigger()
    wait_idle(window, qtbot)
    qtbot.waitUntil(lambda: len(window.live.history.runs) == 1, timeout=5000)
    dialog_log.save_to = str(tmp_path / "copy.nopflow.json")
    assert window.save_as()
    qtbot.waitUntil(lambda: window.live.history.workflow_id == window.doc.header.id,
                    timeout=5000)
    assert window.doc.header.id != wf.id
    qtbot.wait(200)
    assert window.live.history.runs == []  # the copy starts with no history
    window.run_actions["run"].trigger()
    wait_idle(window, qtbot)
    qtbot.waitUntil(lambda: len(window.live.history.runs) == 1, timeout=5000)
    assert len(HistoryStore().list_runs(wf.id)) == 1  # the original's runs: just its own
    assert len(HistoryStore().list_runs(window.doc.header.id)) == 1
    assert window.open_file(str(original))
    qtbot.waitUntil(lambda: len(window.live.history.runs) == 1, timeout=5000)
