"""Drives live runs from the editor window: Run / Pause-Resume / Cancel and what they show.

One controller per `MainWindow`. It

* enables the run actions only when they apply (Run: a workflow with nodes and no run in
  progress; Pause/Resume and Cancel: while a run is in progress);
* asks for run inputs when the workflow declares them (remembered per workflow);
* compiles off the GUI thread; problems go to the Problems list and nothing runs; Cancel
  while it compiles cancels the run as soon as it exists, before any node starts;
* runs `engine.Run` on qasync's loop — the same object the CLI uses — and records it in
  history with the same `HistoryRecorder`;
* listens only through its `RunBridge` (batched per frame) and paints node states, lit
  edges, progress and elapsed time, and stderr lines into the Output log;
* makes the canvas read-only during a run with a banner that says so (edits apply to
  nothing mid-run: the engine runs the snapshot taken at Run; blocking them avoids a
  canvas that no longer matches what is running);
* shows a past run from the History dock on the canvas, and "Back to live" restores the
  current one;
* on window close during a run asks, cancels, waits until the child processes are gone
  and the run is in history, then closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from nopflow.engine.compiler import CompileError, compile_workflow
from nopflow.engine.events import NodeRetryScheduled, NodeStateChanged, RunFinished
from nopflow.executors import create as create_executor
from nopflow.executors import kind as executor_kind
from nopflow.model.records import NodeRecordData
from nopflow.storage.credentials import CredentialError
from nopflow.storage.credentials import catalog as credential_catalog
from nopflow.storage.credentials import resolve as resolve_credentials
from nopflow.storage.history import HistoryRecorder, HistoryStore, RunRecord
from nopflow.storage.locations import scratch_project_dir
from nopflow.ui.items.node_item import NodeItem
from nopflow.ui.items.note_item import NoteItem
from nopflow.ui.live import errors, run_inputs_dialog
from nopflow.ui.live.bridge import RunBridge
from nopflow.ui.live.env_build import EnvBuildProgress, EnvironmentError_, build_environments
from nopflow.ui.live.errors import guarded
from nopflow.ui.live.history_panel import HistoryPanel, fmt_duration, fmt_start
from nopflow.ui.live.node_run_view import NodeRunView, NodeView
from nopflow.ui.live.result_view import ResultView, result_line
from nopflow.ui.settings import app_settings
from nopflow.ui.subworkflow_links import open_workflow
from nopflow.ui.theme import STATE_COLORS

if TYPE_CHECKING:
    from nopflow.engine.runner import Run
    from nopflow.ui.main_window import MainWindow

log = logging.getLogger(__name__)

#: executor shutdowns in flight (asyncio keeps only weak references to tasks)
_BACKGROUND: set[asyncio.Task[None]] = set()

#: node states after which an incoming edge counts as having carried data
_STARTED = frozenset({"running", "success", "error"})
#: source states that have sent data down their edges (a loop feeds its body while running)
_PRODUCED = frozenset({"running", "success"})


def _carried(src_state: str | None, dst_state: str | None, fired: Any, port: str) -> bool:
    """The one rule for a lit edge, live or kept: its source produced data down `port`
    (`fired`: the ports it fired, None = all; a condition's untaken port stays dark) and
    its target started."""
    return (src_state in _PRODUCED and dst_state in _STARTED
            and (fired is None or port in fired))


def _compile_and_resolve(wf: Any, project_dir: Path | None) -> tuple[Any, dict[str, Any]]:
    """Compile (credentials checked against the vault) and read the credentials it uses;
    runs on a worker thread: the keyring may be slow or ask to be unlocked."""
    plan = compile_workflow(wf, project_dir, credentials=credential_catalog())
    return plan, resolve_credentials(plan.credential_names)


async def drain_background(timeout: float = 10.0) -> None:
    """Wait for executor shutdowns still in flight (app exit: no zygote outlives the app)."""
    pending = [t for t in _BACKGROUND if not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=timeout)


def _elapsed(state: str, started_at: float | None, duration_ms: int | None,
             now: float) -> float | None:
    """Seconds a node shows: so far while running, else how long it took (None: unknown)."""
    if state == "running" and started_at:
        return now - started_at
    return duration_ms / 1000 if duration_ms is not None else None


def _fired_ports(nodes: Mapping[str, NodeRecordData]) -> dict[str, list[str]]:
    """Per node id, the ports it fired, from the records' `details["ports"]`."""
    out: dict[str, list[str]] = {}
    for nid, rec in nodes.items():
        ports = rec.details.get("ports")
        if isinstance(ports, list):
            out[nid] = ports
    return out


def ask_cancel_run(parent: QWidget | None) -> bool:
    """Closing during a run: True to cancel it and close (tests replace this)."""
    answer = QMessageBox.question(
        parent, "A run is in progress",
        "The workflow is still running. Cancel the run and close?\n\n"
        "Running scripts are stopped and the run is kept in history as cancelled.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


class RunBanner(QFrame):
    """The strip above the canvas that says a run is going on (and the canvas is locked)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runBanner")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.button = QPushButton(self)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 4, 6, 4)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.button)
        self.hide()

    def show_text(self, text: str, color: str, button: str) -> None:
        """Show ``text`` on a tinted strip with one action button."""
        c = QColor(color)
        tint = f"rgba({c.red()}, {c.green()}, {c.blue()}, 40)"  # (#RRGGBBAA reads as ARGB)
        self.setStyleSheet(
            f"#runBanner {{ background: {tint}; border-bottom: 2px solid {color}; }}")
        self.label.setText(text)
        self.button.setText(button)
        self.show()


class ReadOnlyGuard(QObject):
    """Event filter that keeps the canvas viewable but not editable during a run.

    Allowed: selecting (to inspect nodes), panning, zooming, rubber-band selection.
    Swallowed: dragging nodes, dragging links from ports, double-click quick-add,
    context menus, Tab quick-add and drops.
    """

    def __init__(self, win: MainWindow) -> None:
        super().__init__(win)
        self.win = win
        self.active = False

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if not self.active:
            return False
        t = event.type()
        if t in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop,
                 QEvent.Type.ContextMenu, QEvent.Type.MouseButtonDblClick):
            return True
        if t == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Tab:  # type: ignore[attr-defined]
            return True
        if t == QEvent.Type.MouseButtonPress and obj is self.win.view.viewport():
            return self._press(event)
        return False

    def _press(self, event: Any) -> bool:
        view = self.win.view
        if event.button() != Qt.MouseButton.LeftButton or getattr(view, "_space", False):
            return False  # panning stays free
        pos = event.position().toPoint()
        scene = self.win.scene
        if scene.port_at(view.mapToScene(pos)) is not None:
            return True  # no new links
        item = next((it for it in view.items(pos)
                     if isinstance(it, (NodeItem, NoteItem))
                     or hasattr(it, "edge_id") or hasattr(it, "group_id")), None)
        if item is None:
            return False  # rubber band selection is harmless
        if event.modifiers() & (Qt.KeyboardModifier.ControlModifier
                                | Qt.KeyboardModifier.ShiftModifier):
            item.setSelected(not item.isSelected())
        else:
            scene.select_only([item])
        return True  # selected, but never dragged


class LiveRunController(QObject):
    """Run controls, live colouring, history view and node inspection for one window."""

    def __init__(self, win: MainWindow) -> None:
        super().__init__(win)
        self.win = win
        self._executor: Any = None  # one warm executor shared by this window's runs
        self._executor_settings: Any = None  # the settings it was made for
        self._closing_executor: Any = None
        self._stopping = False  # stop_sandbox_then() is stopping the sandbox
        self._cancel_pending = False  # Cancel came before the run existed (compiling)
        self.bridge = RunBridge(self)
        self.env_progress = EnvBuildProgress(win)
        self.run: Run | None = None
        self.task: asyncio.Task[None] | None = None
        self.viewing: RunRecord | None = None
        self.busy = False
        self.paused = False
        self._close_after = False
        self._t_start = 0.0
        self._progress = (0, 0)
        self._store_factory = HistoryStore

        # -- run actions
        acts = win.run_actions
        acts["run"].triggered.connect(self.start)
        acts["pause"].triggered.connect(self.toggle_pause)
        acts["cancel"].triggered.connect(self.cancel)
        acts["run"].setStatusTip("Run the workflow on the canvas (F5)")
        acts["pause"].setStatusTip("Pause or resume the run (F6)")
        acts["cancel"].setStatusTip("Cancel the run: running scripts are stopped (Shift+F5)")
        self._edit_actions = [win.act_new, win.act_open, win.act_cut, win.act_paste,
                              win.act_duplicate, win.act_delete, win.act_quick_add, win.act_note]
        self._edit_actions += win.arrange_actions  # no layout while the canvas is locked

        # -- canvas with the banner above it
        view = win.takeCentralWidget()
        box = QWidget(win)
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.banner = RunBanner(box)
        self.banner.button.clicked.connect(self._banner_clicked)
        lay.addWidget(self.banner)
        lay.addWidget(view)
        win.setCentralWidget(box)
        box.setFocusProxy(view)  # the canvas, not a dock, gets the keyboard first
        win.setFocusProxy(view)
        self.guard = ReadOnlyGuard(win)
        win.view.installEventFilter(self.guard)
        win.view.viewport().installEventFilter(self.guard)

        # -- docks: run details (beside the inspector) and history (under the palette)
        self.node_view = NodeRunView(win)
        self.details_dock = win._dock("run_details", "Run details", self.node_view,
                                      Qt.DockWidgetArea.RightDockWidgetArea)
        win.tabifyDockWidget(win.inspector_dock, self.details_dock)
        win.inspector_dock.raise_()
        self.history = HistoryPanel(lambda: self._store_factory(), win)
        self.history_dock = win._dock("run_history", "Run history", self.history,
                                      Qt.DockWidgetArea.LeftDockWidgetArea)
        win.splitDockWidget(win.palette_dock, self.history_dock, Qt.Orientation.Vertical)
        self.history.runSelected.connect(self.show_past_run)
        self.history.liveRequested.connect(self.back_to_live)
        self.history.message.connect(lambda m: win.statusBar().showMessage(m, 6000))
        self.history_dock.visibilityChanged.connect(self._history_visible)
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):  # back from a terminal: CLI runs show up
            app.applicationStateChanged.connect(self._app_state)
        for menu_action in win.menuBar().actions():
            if menu_action.text() == "&Run" and menu_action.menu() is not None:
                menu = menu_action.menu()
                menu.addSeparator()
                menu.addAction(self.history_dock.toggleViewAction())
                menu.addAction(self.details_dock.toggleViewAction())

        # -- the last run's outputs, beside the Output log
        self.result_view = ResultView(win)
        win.log_tabs.addTab(self.result_view, "Result")

        # -- status bar
        self.status_label = QLabel(win)
        win.statusBar().insertPermanentWidget(0, self.status_label)
        self._clock = QTimer(self)
        self._clock.setInterval(200)
        self._clock.timeout.connect(self._update_status)

        # -- bridge → view
        self.bridge.nodeEvents.connect(self._on_node_events)
        self.bridge.logLines.connect(self._on_logs)
        self.bridge.progressChanged.connect(self._on_progress)
        self.bridge.subworkflowProgress.connect(self._on_child_progress)
        self.node_view.childRunRequested.connect(self._open_child_run)
        self.bridge.pausedChanged.connect(self._on_paused)
        self.bridge.runFinished.connect(self._on_finished)
        self.bridge.failed.connect(self.show_error)
        self._remove_sink = errors.add_sink(self.show_error)

        self._select_timer = QTimer(self)
        self._select_timer.setSingleShot(True)
        self._select_timer.setInterval(0)
        self._select_timer.timeout.connect(self._show_selected)
        win.scene.selectionChanged.connect(self._select_timer.start)
        win.doc.reset.connect(self._on_reset)
        win.doc.changed.connect(self._edited)
        win.view.hover_values = self.shown_value
        win.doc.workflowChanged.connect(  # Save As gave the copy its own id (and history)
            lambda: self.history.set_workflow(win.doc.header.id))
        win.doc.changed.connect(self._update_actions)
        self.history.set_workflow(win.doc.header.id)
        self._update_actions()

    # ------------------------------------------------------------------ actions

    def _update_actions(self) -> None:
        acts = self.win.run_actions
        acts["run"].setEnabled(not self.busy and bool(self.win.doc.nodes))
        acts["pause"].setEnabled(self.busy and self.run is not None)
        acts["cancel"].setEnabled(self.busy and not self._cancel_pending)
        acts["pause"].setText("&Resume" if self.paused else "&Pause")

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.guard.active = busy
        self.win.palette.setEnabled(not busy)
        self.win.inspector.setEnabled(not busy)
        self.win.view.setAcceptDrops(not busy)
        self.win.recent_menu.setEnabled(not busy)
        for a in self._edit_actions:
            a.setEnabled(not busy)
        self.win.lock_editing("a run is in progress" if busy else None)
        if not busy:
            self.paused = False
        self._update_actions()
        self._update_banner()

    def _update_banner(self) -> None:
        if self.busy:
            if self.paused:
                self.banner.show_text(
                    "‖ Run paused — the canvas is read-only until the run ends. "
                    "Resume with F6.", STATE_COLORS["cancelled"], "Cancel run")
            else:
                self.banner.show_text(
                    "▶ Run in progress — the canvas is read-only until it finishes "
                    "(select nodes to inspect them).", STATE_COLORS["running"], "Cancel run")
        elif self.viewing is not None:
            rec = self.viewing
            self.banner.show_text(
                f"Showing the past run of {fmt_start(rec.started_at)} ({rec.status}, "
                f"{fmt_duration(rec.duration_ms)}).", STATE_COLORS["pending"], "Back to live")
        else:
            self.banner.hide()

    @guarded("banner")
    def _banner_clicked(self) -> None:
        if self.busy:
            self.cancel()
        else:
            self.history.back_to_live()

    # ------------------------------------------------------------------ controls

    @guarded("run")
    def start(self) -> None:
        """Run ▸ Run (F5): run what is on the canvas (saved or not), asking for run inputs."""
        self._start(None)

    @guarded("run")
    def start_with(self, inputs: dict[str, Any]) -> None:
        """Run with these run inputs, without asking (scripted runs, screenshots)."""
        self._start(dict(inputs))

    def _start(self, preset: dict[str, Any] | None) -> None:
        if self.busy or not self.win.doc.nodes:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.show_error("Cannot run: the editor's asyncio loop (qasync) is not running")
            return
        wf = self.win.doc.snapshot()
        values: dict[str, Any] = {}
        if preset is not None:
            values = preset
        elif wf.inputs:
            settings = app_settings()
            remembered = run_inputs_dialog.load_remembered(settings, wf)
            answer = run_inputs_dialog.ask_run_inputs(self.win, wf, remembered)
            if answer is None:
                return
            run_inputs_dialog.remember(settings, wf, answer)
            values = answer
        project_dir = Path(self.win.path).resolve().parent if self.win.path else None
        self._cancel_pending = False
        self._set_busy(True)
        self.task = loop.create_task(self._execute(wf, values, project_dir))

    @guarded("pause")
    def toggle_pause(self) -> None:
        """Run ▸ Pause / Resume (F6)."""
        if self.run is None or not self.busy:
            return
        if self.run.state.value == "paused":
            self.run.resume()
        else:
            self.run.pause()

    @guarded("cancel")
    def cancel(self) -> None:
        """Run ▸ Cancel (Shift+F5): running scripts are killed, the run is kept as cancelled.

        While the workflow still compiles there is no run yet: it is cancelled as soon as
        it exists, before any node starts, and kept in history like any cancelled run.
        """
        if not self.busy:
            return
        if self.run is not None:
            self.run.cancel()
        else:
            self._cancel_pending = True
            self._update_actions()
        self.win.statusBar().showMessage("Cancelling the run…", 3000)

    async def _execute(self, wf: Any, values: dict[str, Any], project_dir: Path | None) -> None:
        from nopflow.engine.runner import Run

        loop = asyncio.get_running_loop()
        run: Run | None = None
        recorder: HistoryRecorder | None = None
        try:
            try:
                plan, credentials = await loop.run_in_executor(
                    None, _compile_and_resolve, wf, project_dir)
            except CompileError as exc:
                self._compile_failed(exc)
                return
            except CredentialError as exc:
                self.show_error(str(exc))
                return
            try:  # before the run: never inside a node's timeout
                environments = await build_environments(
                    plan, self.win.path, project_dir, self.env_progress, self.win.output)
            except EnvironmentError_ as exc:
                self._packages_failed(exc)
                return
            if project_dir is None:
                project_dir = await loop.run_in_executor(None, scratch_project_dir, wf.id)
            run = Run(plan, inputs=values, project_dir=project_dir,
                      executor=self._shared_executor(wf), credentials=credentials,
                      environments=environments)
            if self._cancel_pending:
                run.cancel()  # cancelled while compiling: it ends before any node runs
            self.run = run
            self.bridge.attach(run)
            recorder = HistoryRecorder(run, self._store_factory())
            self._begin(run)
            await run.execute()
        except Exception as exc:
            errors.report_exception(exc, "run")
        finally:
            with contextlib.suppress(Exception):
                self.bridge.flush()
            self.bridge.detach()
            if recorder is not None:
                await recorder.wait()
                if recorder.error:
                    self.show_error(recorder.error)
            self._clock.stop()
            self._set_busy(False)
            self._update_status()
            self.history.refresh()
            if self._close_after:
                QTimer.singleShot(0, self.win.close)

    def _compile_failed(self, exc: CompileError) -> None:
        self.win._show_problems(exc.problems)
        self.win.log_dock.show()
        self.win.log_tabs.setCurrentIndex(0)
        n = len(exc.problems)
        self.win.statusBar().showMessage(
            f"Not run: the workflow has {n} problem{'s' if n != 1 else ''} (see Problems)", 8000)

    def _packages_failed(self, exc: EnvironmentError_) -> None:
        self.win.output.appendPlainText("\n".join(exc.problems))
        self.win.log_dock.show()
        self.win.log_tabs.setCurrentWidget(self.win.output)
        self.win.statusBar().showMessage(
            f"Not run: the scripts' packages could not be installed: {exc.problems[0]}", 10000)

    def _begin(self, run: Run) -> None:
        """A run starts: fresh colours, everything pending, banner, clock."""
        self.viewing = None
        self.history.tree.clearSelection()
        scene = self.win.scene
        scene.clear_states()
        for item in scene.edges.values():
            item.set_live(None)
        for nid in run.nodes:
            scene.set_node_state(nid, "pending")
        self._t_start = time.monotonic()
        self._progress = (0, len(run.nodes))
        self._clock.start()
        self._update_actions()
        self._update_status()
        self._update_banner()
        self.win.output.appendPlainText(
            f"── run {run.id[:8]} of “{run.workflow.name}” started "
            f"{time.strftime('%H:%M:%S')} ──")
        self.details_dock.raise_()
        self.win.log_tabs.setCurrentWidget(self.win.output)
        self._show_selected()

    # ------------------------------------------------------------------ bridge slots

    @guarded("live view")
    def _on_node_events(self, events: list[Any]) -> None:
        last: dict[str, NodeStateChanged] = {}
        out: list[str] = []
        for ev in events:
            if isinstance(ev, NodeRetryScheduled):
                err = f": {ev.error.splitlines()[0]}" if ev.error else ""
                out.append(f"↻ {ev.node_id}: retry (attempt {ev.attempt}) in "
                           f"{ev.delay_s:.2f} s{err}")
                continue
            last[ev.node_id] = ev
            if ev.state == "error" and ev.error:
                out.append(f"✗ {ev.node_id}: {ev.error}")
        if out:
            self.win.output.appendPlainText("\n".join(out))
        if self.viewing is None:
            scene = self.win.scene
            now = time.time()
            for nid, ev in last.items():
                scene.set_node_state(nid, ev.state, attempt=ev.attempt, error=ev.error,
                                     elapsed=_elapsed(ev.state, ev.started_at, ev.duration_ms,
                                                      now))
            self._light_edges(last)
        cur = self.node_view.current
        if cur is not None and cur.node_id in last and self.viewing is None:
            self._show_selected()

    def _light_edges(self, changed: dict[str, Any]) -> None:
        """Edges into nodes that started, from sources that produced data, light up."""
        if self.run is None:
            return
        doc, scene, nodes = self.win.doc, self.win.scene, self.run.nodes
        for nid, ev in changed.items():
            if ev.state not in _STARTED:
                continue
            for eid in doc.in_edges(nid):
                e = doc.edges.get(eid)
                item = scene.edges.get(eid)
                if e is None or item is None or item.live:
                    continue
                src = nodes.get(e.source)
                if src is None:
                    continue
                fired = src.details.get("ports") if isinstance(src.details, dict) else None
                if _carried(src.state.value, ev.state, fired, e.source_port):
                    item.set_live(True)

    @guarded("live log")
    def _on_logs(self, logs: dict[str, list[str]]) -> None:
        self.win.output.appendPlainText(
            "\n".join(f"{nid} | {line}" for nid, lines in logs.items() for line in lines))
        cur = self.node_view.current
        if self.viewing is None and cur is not None and cur.node_id in logs:
            nid = cur.node_id  # only the shown node's log is copied, not every logging one's
            rec = self.run.nodes.get(nid) if self.run is not None else None
            if rec is not None:  # the record is the truth; the event may be stale
                self.node_view.sync_log(nid, list(rec.logs))
            else:
                self.node_view.append_log(nid, logs[nid])

    @guarded("live progress")
    def _on_progress(self, done: int, total: int) -> None:
        self._progress = (done, total)

    @guarded("live pause")
    @guarded("live view")
    def _on_child_progress(self, progress: dict[str, tuple[int, int]]) -> None:
        if self.viewing is not None:
            return
        for nid, (done, total) in progress.items():
            item = self.win.scene.nodes.get(nid)
            if item is not None and item.state == "running":  # a batch may end it first
                item.set_sub_progress(done, total)

    def _open_child_run(self, file: str, run_id: str) -> None:
        """Run details ▸ Open child run: the child file, that run selected in its history."""
        open_workflow(self.win, Path(file), run_id)

    def _on_paused(self, paused: bool) -> None:
        self.paused = paused
        if self.viewing is None:
            self.win.scene.set_paused(paused)
        self.win.output.appendPlainText("‖ paused" if paused else "▶ resumed")
        self._update_actions()
        self._update_banner()
        self._update_status()

    @guarded("live finish")
    def _on_finished(self, ev: RunFinished) -> None:
        self.paused = False
        text = f"Run {ev.status} in {ev.duration_ms / 1000:.2f} s"
        if ev.error:
            text += f" — {ev.error.splitlines()[0]}"
        self.win.output.appendPlainText(f"── {text} ──")
        if ev.outputs:
            self.win.output.appendPlainText(result_line(ev.outputs))
        self.win.statusBar().showMessage(text, 10000)
        self.result_view.show_result(ev.status, ev.outputs)
        if ev.outputs and self.win.log_tabs.currentWidget() is self.win.output:
            self.win.log_tabs.setCurrentWidget(self.result_view)

    def _update_status(self) -> None:
        run = self.run
        if run is None:
            self.status_label.setText("")
            return
        done, total = self._progress
        if self.busy:
            elapsed = time.monotonic() - self._t_start
            state = "paused" if self.paused else "running"
            self.status_label.setText(f"{state} {done}/{total} · {elapsed:.1f} s")
        else:
            dur = run.duration_s or 0.0
            self.status_label.setText(f"{run.state.value} {done}/{total} · {dur:.1f} s")

    # ------------------------------------------------------------------ inspection

    @guarded("run details")
    def _show_selected(self) -> None:
        if self.win.scene is None:
            return
        nodes = [it.node_id for it in self.win.scene.selectedItems()
                 if isinstance(it, NodeItem)]
        if len(nodes) != 1:
            self.node_view.show_view(None)
            return
        nid = nodes[0]
        if self.viewing is not None:
            rec = self.viewing.nodes.get(nid)
            title = self.win.doc.nodes[nid].label if nid in self.win.doc.nodes else nid
            if rec is None:
                self.node_view.show_view(None, f"{nid} was not part of this run.")
            else:
                self.node_view.show_view(NodeView.from_history(
                    nid, title, rec, f"run of {fmt_start(self.viewing.started_at)}"))
            return
        if self.run is not None and nid in self.run.nodes:
            self.node_view.show_view(NodeView.from_live(self.run.nodes[nid],
                                                       self.run.redactor))
        else:
            self.node_view.show_view(None, f"{nid} has not run yet.")
            if not self.busy:  # nothing to inspect: the dock follows to the editing form
                self.win.inspector_dock.raise_()

    def shown_value(self, node_id: str, kind: str) -> tuple[bool, Any]:
        """The input ("in") or output ("out") of a node in the run on the canvas (secrets
        hidden); (False, None) when that run has none."""
        if self.viewing is not None:
            kept = self.viewing.nodes.get(node_id)
            if kept is None or kept.status not in ("success", "error", "skipped"):
                return False, None
            return True, kept.inputs if kind == "in" else kept.output
        live = self.run.nodes.get(node_id) if self.run is not None else None
        if live is None or live.state.value not in ("success", "error", "skipped"):
            return False, None
        data = live.to_data().redacted(self.run.redactor)  # type: ignore[union-attr]
        return True, data.inputs if kind == "in" else data.output

    def _edited(self) -> None:
        """An edit after a run: the right dock goes back to the inspector (the edit's form)."""
        if not self.busy and self.viewing is None:
            self.win.inspector_dock.raise_()

    # ------------------------------------------------------------------ history

    def _history_visible(self, visible: bool) -> None:
        if visible:
            self.history.refresh()

    def _app_state(self, state: Qt.ApplicationState) -> None:
        if (state == Qt.ApplicationState.ApplicationActive and self.history_dock.isVisible()
                and not self.busy):
            self.history.refresh()

    @guarded("history view")
    def show_past_run(self, rec: RunRecord) -> None:
        """Recolour the canvas to a kept run and inspect its nodes."""
        self.viewing = rec
        self.apply_records(rec.nodes)
        self._update_banner()
        self._show_selected()
        self.details_dock.raise_()

    @guarded("history view")
    def back_to_live(self) -> None:
        """Show the current (or last) live run again, or no states when there is none."""
        if self.viewing is None:
            return
        self.viewing = None
        if self.run is not None:
            self.apply_records({nid: r.to_data() for nid, r in self.run.nodes.items()})
        else:
            self.apply_states({})
        self._update_banner()
        self._show_selected()

    def apply_records(self, records: Mapping[str, NodeRecordData]) -> None:
        """Paint a whole run (live or kept) from its node records."""
        self.apply_states({nid: (n.status, n.duration_ms, n.attempts, n.error)
                           for nid, n in records.items()},
                          fired=_fired_ports(records))

    def apply_states(self, states: dict[str, tuple[str, int | None, int, str | None]],
                     fired: dict[str, list[str]] | None = None) -> None:
        """Paint a whole run's node states (and lit edges) at once.

        `fired`: per node, the output ports that fired (absent = all): an edge from a
        condition's untaken port stays dark even when its target ran through another edge.
        """
        fired = fired or {}
        scene = self.win.scene
        now = time.time()
        # one pass over the items (not clear-then-set): a 1,000-node run opens in ms
        for nid, item in scene.nodes.items():
            entry = states.get(nid)
            if entry is None:
                if item.state is not None:
                    scene.set_node_state(nid, None)
                continue
            state, dur, attempt, error = entry
            live = self.run.nodes.get(nid) if self.run is not None else None
            started = live.started_at if live is not None and state == "running" else None
            scene.set_node_state(nid, state, elapsed=_elapsed(state, started, dur, now),
                                 attempt=attempt, error=error)
        doc = self.win.doc
        for eid, item in scene.edges.items():
            e = doc.edges.get(eid)
            live = False
            if e is not None:
                src = states.get(e.source)
                dst = states.get(e.target)
                live = (src is not None and dst is not None
                        and _carried(src[0], dst[0], fired.get(e.source), e.source_port))
            item.set_live(True if live else None)

    # ------------------------------------------------------------------ window

    def _on_reset(self) -> None:
        """Another workflow was opened: forget the past run view and follow its history."""
        if not self.busy:
            self.run = None
            self._progress = (0, 0)
            self._update_status()
        self.viewing = None
        self._update_banner()
        self.history.set_workflow(self.win.doc.header.id)
        self.node_view.show_view(None)
        self._update_actions()

    def show_error(self, text: str) -> None:
        """An error line in the status bar and the Output log (never a crash)."""
        self.win.statusBar().showMessage(text, 10000)
        self.win.output.appendPlainText(text)

    def allow_close(self) -> bool:
        """closeEvent hook: False keeps the window (a run is still being cancelled)."""
        if not self.busy:
            return True
        if not self._close_after:
            if not ask_cancel_run(self.win):
                return False
            self._close_after = True
            self.win.statusBar().showMessage("Cancelling the run before closing…")
        self.cancel()
        return False

    def _shared_executor(self, wf: Any) -> Any:
        """One warm executor for every run of this window (None: the run makes one).

        Keeping it between runs keeps e.g. the sandbox's zygote and spare children warm,
        so a second press of Run starts its first script in milliseconds. Kinds made per
        run (a Dask cluster's scratch folders live as long as its executor) are left to
        the run, which asks the same registry.
        """
        settings = wf.settings.executor
        info = executor_kind(settings.kind)
        if info is None or info.per_run:
            return None
        if self._executor is not None and self._executor_settings != settings:
            self._retire_executor()
        if self._executor is None:
            self._executor = create_executor(settings)
            self._executor_settings = settings.model_copy()
        return self._executor

    def stop_sandbox_then(self, done: Callable[[], object]) -> bool:
        """Window close: stop the warm sandbox inside the running loop, then call `done`.

        False when there is nothing to stop (or no loop to stop it in): close at once.
        """
        if self._stopping:
            return True
        if self._executor is None and self._closing_executor is None:
            return False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False

        async def stop() -> None:
            try:
                await self.aclose()
            finally:
                self._stopping = False
                done()

        self._stopping = True
        task = loop.create_task(stop())
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)
        return True

    def shutdown(self) -> None:
        """The window goes away: stop timers and stop reporting errors to it."""
        self._clock.stop()
        self._remove_sink()
        self.cancel()
        self._retire_executor()

    def _retire_executor(self) -> None:
        """Close the shared executor once no run uses it (settings changed, window closed)."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._closing_executor = executor  # aclose() at app exit closes it
            return
        def close_it(_task: object = None) -> None:
            closer = loop.create_task(executor.aclose())
            _BACKGROUND.add(closer)  # keep a reference until it is done
            closer.add_done_callback(_BACKGROUND.discard)

        task = self.task
        if task is not None and not task.done():  # the run still uses it: close after
            task.add_done_callback(close_it)
        else:
            close_it()

    async def aclose(self) -> None:
        """Cancel a run in progress and wait until it is fully cleaned up (app exit)."""
        self.cancel()
        task = self.task
        if task is not None and not task.done():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(task), 15)
        for executor in (self._executor, self._closing_executor):
            if executor is not None:
                with contextlib.suppress(Exception):
                    await executor.aclose()
        self._executor = self._closing_executor = None
