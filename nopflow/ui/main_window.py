"""The editor window: canvas in the middle, palette / inspector / log docks, menus, files.

File handling rules (docs/editor.md): the title shows the name and an unsaved mark, closing
with unsaved changes asks, saving is atomic, a bad file shows the loader's message and the
window keeps running, and an autosave copy newer than the file is offered back at open.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QTabWidget,
    QToolBar,
    QUndoView,
    QWidget,
)

from nopflow.blocks import get_block
from nopflow.engine.compiler import Problem
from nopflow.errors import NopflowError
from nopflow.model import Workflow, load_workflow, new_id, save_workflow
from nopflow.model.migrate import resolve_versions
from nopflow.ui import clipboard, dialogs, subworkflow_links
from nopflow.ui.autosave import Autosaver, SetAside, find_recovery
from nopflow.ui.document import WorkflowDocument
from nopflow.ui.editor import Editor
from nopflow.ui.find_bar import FindBar
from nopflow.ui.inspector import Inspector
from nopflow.ui.minimap import Minimap
from nopflow.ui.palette import Palette
from nopflow.ui.problems import ProblemsPanel, Validator, by_node
from nopflow.ui.scheduler_status import SchedulerStatus
from nopflow.ui.settings import app_settings
from nopflow.ui.theme import apply_theme, icon, theme_mode, toolbar_icon
from nopflow.ui.view import WorkflowView

MAX_RECENT = 10
SHORTCUTS = [
    ("Tab", "quick-add a block at the cursor"),
    ("Ctrl+F", "find nodes by title, type, id or config text (Enter: next)"),
    ("Ctrl+Shift+N", "add a sticky note at the cursor"),
    ("Double-click canvas", "quick-add there"),
    ("Drag from a port", "connect; drop on empty canvas to add a connected block"),
    ("Middle drag / Space+drag", "pan"),
    ("Wheel", "zoom around the cursor"),
    ("F / Ctrl+0", "fit the graph in view / actual size"),
    ("Ctrl+M", "show or hide the minimap (click or drag in it to move the canvas)"),
    ("Ctrl+C / X / V, Ctrl+D", "copy, cut, paste, duplicate"),
    ("Delete", "delete the selection"),
    ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo"),
    ("Ctrl+click, drag on canvas", "add to selection, rubber-band select"),
    ("Ctrl+A", "select all"),
    ("Ctrl+Shift+L", "auto-layout the selection, or the whole graph"),
    ("Ctrl+G", "put a frame around the selection (drag its title to move it all)"),
    ("F5 / F6 / Shift+F5", "run / pause-resume / cancel"),
]


class MainWindow(QMainWindow):
    """One open workflow."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("nopflowMain")
        self.setWindowIcon(icon("nopflow"))
        self.path: str | None = None
        self._recovered = False  # the document came from an autosave: unsaved by definition
        self._close_confirmed = False  # closing was agreed to; only background work remains
        #: why editing outside the canvas is locked (a run is in progress), or None
        self.edit_lock: str | None = None
        self.notice: QWidget | None = None  # the last non-modal notice shown
        self.editor = Editor(WorkflowDocument(), self)
        self.doc = self.editor.doc
        self.scene = self.editor.scene
        self.undo = self.editor.undo
        self.view = WorkflowView(self.editor, self)
        self.setCentralWidget(self.view)

        self.palette = Palette(self)
        self.palette.activated.connect(
            lambda t: self.editor.add_block(t, self.view.cursor_scene_pos()))
        self.inspector = Inspector(self.editor, self, project_dir=lambda: (
            Path(self.path).resolve().parent if self.path else None))
        self.problems = ProblemsPanel(self)
        self.problems.nodeRequested.connect(self.view.center_on_node)
        self.problems.credentialRequested.connect(lambda name: self.show_credentials(name))
        self.output = QPlainTextEdit(self)
        self.output.setReadOnly(True)
        self.output.setPlaceholderText("Run output appears here.")
        self.log_tabs = QTabWidget(self)
        self.log_tabs.setDocumentMode(True)
        self.log_tabs.addTab(self.problems, "Problems")
        self.log_tabs.addTab(self.output, "Output")
        self.palette_dock = self._dock("palette", "Blocks", self.palette,
                                       Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector_dock = self._dock("inspector", "Inspector", self.inspector,
                                         Qt.DockWidgetArea.RightDockWidgetArea)
        self.log_dock = self._dock("log", "Log", self.log_tabs,
                                   Qt.DockWidgetArea.BottomDockWidgetArea)
        self.history_view = QUndoView(self.undo, self)
        self.history_view.setEmptyLabel("Opened")
        self.history_dock = self._dock("history", "Undo history", self.history_view,
                                       Qt.DockWidgetArea.RightDockWidgetArea)
        self.history_dock.hide()
        self.resize(1400, 860)
        self.setMinimumSize(720, 480)
        self.resizeDocks([self.palette_dock, self.inspector_dock], [210, 360],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.log_dock], [150], Qt.Orientation.Vertical)

        self.validator = Validator(self._validation_snapshot, self)
        self.validator.problemsChanged.connect(self._show_problems)
        self.autosaver = Autosaver(lambda: (self.path, self.doc.snapshot()), self)
        self.doc.changed.connect(self._on_changed)
        # The stack's clean state is only updated after a command ran, so dirty tracking
        # and autosave follow the stack, not the document's signals.
        self.undo.indexChanged.connect(self._on_index_changed)
        # bound methods, not lambdas: the stack signals while the window is destroyed,
        # and only a method connection is dropped with its (half-deleted) window
        self.undo.cleanChanged.connect(self._update_title)
        self.doc.workflowChanged.connect(self._update_title)
        self.view.message.connect(lambda m: self.statusBar().showMessage(m, 5000))
        self.view.nodeActivated.connect(self._node_activated)
        self.view.node_menu.add_entries("open", subworkflow_links.menu_entries(self))
        self.view.noteActivated.connect(lambda _n: self._focus_inspector())
        self.view.fileDropped.connect(self.open_file)
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(self._system_scheme_changed)

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self.zoom_label = QLabel(self)
        self.problem_label = QLabel(self)
        self.statusBar().addPermanentWidget(self.problem_label)
        self.scheduler_status = SchedulerStatus(self)
        self.statusBar().addPermanentWidget(self.scheduler_status)
        self.statusBar().addPermanentWidget(self.zoom_label)
        self.view.zoomChanged.connect(lambda _z: self._update_zoom_label())
        self._update_zoom_label()
        from nopflow.ui.live.run_controller import LiveRunController

        #: live runs: run controls, canvas colours, history and run details docks
        self.live = LiveRunController(self)
        self._restore_layout()
        self._update_title()
        self.validator.schedule()

    # ------------------------------------------------------------------ building

    def _dock(self, name: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _act(self, text: str, slot, shortcut: QKeySequence | str | list | None = None,  # type: ignore[no-untyped-def]
             icon_name: str | None = None, tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, list):
                a.setShortcuts(shortcut)
            else:
                a.setShortcut(shortcut)
        if icon_name:
            a.setIcon(icon(icon_name))
        if tip:
            a.setStatusTip(tip)
        a.triggered.connect(lambda _checked=False: slot())
        self.addAction(a)
        return a

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey
        self.act_new = self._act("&New", self.new_document, K.New)
        self.act_open = self._act("&Open…", self.open_dialog, K.Open)
        self.act_save = self._act("&Save", self.save, K.Save)
        self.act_save_as = self._act("Save &As…", self.save_as, "Ctrl+Shift+S")
        self.act_quit = self._act("&Quit", self.close, K.Quit)
        # Own actions, not QUndoStack.createUndoAction(): the stack re-enables those on
        # every change, and they must stay off while editing is locked (a run).
        self.act_undo = self._act("&Undo", self.undo.undo, K.Undo)
        self.act_redo = self._act("&Redo", self.undo.redo,
                                  [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for signal in (self.undo.canUndoChanged, self.undo.canRedoChanged,
                       self.undo.undoTextChanged, self.undo.redoTextChanged):
            signal.connect(self._update_undo_actions)
        self._update_undo_actions()
        canvas = Qt.ShortcutContext.WidgetWithChildrenShortcut
        self.act_cut = self._act("Cu&t", lambda: clipboard.cut_selection(self.editor), K.Cut)
        self.act_copy = self._act("&Copy", lambda: clipboard.copy_selection(self.editor), K.Copy)
        self.act_paste = self._act(
            "&Paste", lambda: clipboard.paste(self.editor, self.view.cursor_on_canvas()),
            K.Paste)
        self.act_duplicate = self._act(
            "&Duplicate",
            lambda: clipboard.duplicate_selection(self.editor, self.view.cursor_on_canvas()),
            "Ctrl+D")
        self.act_delete = self._act("De&lete", self.editor.delete_selection,
                                    [QKeySequence(K.Delete), QKeySequence("Backspace")])
        self.act_select_all = self._act("Select &All", self.select_all, K.SelectAll)
        self.act_quick_add = self._act(
            "&Quick Add Block…", lambda: self.view.open_quick_add(self.view.cursor_scene_pos()),
            tip="Add a block by name at the cursor (Tab on the canvas)")
        self.find_bar = FindBar(self.view)
        self.act_find = self._act("&Find…", self.find_bar.open_bar, K.Find,
                                  tip="Find nodes by title, type, id or config text")
        self.act_note = self._act("Add &Note", lambda: self.editor.add_note(
            self.view.cursor_scene_pos()), "Ctrl+Shift+N")
        for a in (self.act_cut, self.act_copy, self.act_paste, self.act_duplicate,
                  self.act_delete, self.act_select_all):
            # canvas-only: in a text field these keys keep their text meaning
            self.removeAction(a)
            self.view.addAction(a)
            a.setShortcutContext(canvas)
        self.act_history = self.history_dock.toggleViewAction()
        self.act_history.setText("Undo &History")
        self.act_fit = self._act("&Fit to View", self.view.fit_all, "F")
        self.removeAction(self.act_fit)
        self.view.addAction(self.act_fit)
        self.act_fit.setShortcutContext(canvas)
        view = self.view
        self.act_zoom_in = self._act("Zoom &In", lambda: view.set_zoom(view.zoom() * 1.25),
                                     K.ZoomIn)
        self.act_zoom_out = self._act("Zoom &Out", lambda: view.set_zoom(view.zoom() / 1.25),
                                      K.ZoomOut)
        self.act_zoom_reset = self._act("&Actual Size", lambda: self.view.set_zoom(1.0), "Ctrl+0")
        self.act_grid = self._act("Show &Grid", self._toggle_grid)
        self.act_grid.setCheckable(True)
        self.act_grid.setChecked(True)
        self.minimap = Minimap(self.view)
        self.act_minimap = self._act("&Minimap", self._toggle_minimap, "Ctrl+M",
                                     tip="Show the whole graph in the canvas corner")
        self.act_minimap.setCheckable(True)
        self.act_minimap.setChecked(True)
        self.act_snap = self._act("&Snap to Grid", self._toggle_snap)
        self.act_snap.setCheckable(True)
        self.theme_group = QActionGroup(self)
        self.theme_actions = {}
        for mode, label in (("system", "Follow &System"), ("light", "&Light"), ("dark", "&Dark")):
            a = self._act(label, lambda m=mode: self.set_theme(m))
            a.setCheckable(True)
            self.theme_group.addAction(a)
            self.theme_actions[mode] = a
        self.act_run = self._act("&Run", lambda: None, "F5", "state-running",
                                 "Run the workflow")
        self.act_pause = self._act("&Pause / Resume", lambda: None, "F6", None,
                                   "Pause or resume the run")
        self.act_cancel = self._act("&Cancel Run", lambda: None, "Shift+F5", "state-cancelled",
                                    "Cancel the run")
        #: enabled and connected by the live-run controller (ui/live/run_controller.py)
        self.run_actions = {"run": self.act_run, "pause": self.act_pause,
                            "cancel": self.act_cancel}
        for a in self.run_actions.values():
            a.setEnabled(False)
        self.act_layout = self._act(
            "Auto-&Layout", self.editor.auto_layout, "Ctrl+Shift+L",
            tip="Lay out the selection (or the whole graph) left to right, in columns")
        self.arrange_actions = [self.act_layout]
        for text, edge in (("Align &Left", "left"), ("Align &Right", "right"),
                           ("Align &Top", "top"), ("Align &Bottom", "bottom"),
                           ("Align Centres &Vertically", "hcenter"),
                           ("Align Centres &Horizontally", "vcenter")):
            self.arrange_actions.append(
                self._act(text, lambda e=edge: self.editor.align_selection(e)))
        for text, axis in (("Distribute Hori&zontally", "x"), ("Distribute V&ertically", "y")):
            self.arrange_actions.append(
                self._act(text, lambda a=axis: self.editor.distribute_selection(a)))
        self.act_frame = self._act(
            "&Frame Selection", self.editor.frame_selection, "Ctrl+G",
            tip="Put a titled frame around the selected nodes; moving it moves them")
        self.arrange_actions.append(self.act_frame)
        self.act_shortcuts = self._act("&Keyboard Shortcuts", self._shortcuts, "F1")
        self.act_about = self._act("&About nopflow", self._about)
        self.act_credentials = self._act("&Credentials…", self.show_credentials,
                                         tip="Add, edit or delete stored credentials")

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addActions([self.act_new, self.act_open])
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        m.addMenu(self.recent_menu)
        m.addSeparator()
        m.addActions([self.act_save, self.act_save_as])
        m.addSeparator()
        m.addAction(self.act_credentials)
        m.addSeparator()
        m.addAction(self.act_quit)
        m = mb.addMenu("&Edit")
        m.addActions([self.act_undo, self.act_redo, self.act_history])
        m.addSeparator()
        m.addActions([self.act_cut, self.act_copy, self.act_paste, self.act_duplicate,
                      self.act_delete])
        m.addSeparator()
        m.addActions([self.act_select_all, self.act_find, self.act_quick_add, self.act_note])
        m = mb.addMenu("&View")
        m.addActions([self.act_fit, self.act_zoom_in, self.act_zoom_out, self.act_zoom_reset])
        m.addSeparator()
        m.addActions([self.act_grid, self.act_snap, self.act_minimap])
        tm = m.addMenu("&Theme")
        tm.addActions(list(self.theme_actions.values()))
        m.addSeparator()
        for dock in (self.palette_dock, self.inspector_dock, self.log_dock):
            m.addAction(dock.toggleViewAction())
        m = mb.addMenu("&Arrange")
        m.addAction(self.act_layout)
        m.addSeparator()
        m.addActions(self.arrange_actions[1:7])
        m.addSeparator()
        m.addActions(self.arrange_actions[7:9])
        m.addSeparator()
        m.addAction(self.act_frame)
        m = mb.addMenu("&Run")
        m.addActions([self.act_run, self.act_pause, self.act_cancel])
        m = mb.addMenu("&Help")
        m.addActions([self.act_shortcuts, self.act_about])

    def _build_toolbar(self) -> None:
        tb = QToolBar("Main", self)
        tb.setObjectName("toolbar_main")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for act, name in ((self.act_new, "tb-new"), (self.act_open, "tb-open"),
                          (self.act_save, "tb-save"), (self.act_undo, "tb-undo"),
                          (self.act_redo, "tb-redo"), (self.act_run, "tb-run"),
                          (self.act_pause, "tb-pause"), (self.act_cancel, "tb-stop"),
                          (self.act_fit, "tb-fit")):
            act.setIcon(toolbar_icon(name))
        tb.addActions([self.act_new, self.act_open, self.act_save])
        tb.addSeparator()
        tb.addActions([self.act_undo, self.act_redo])
        tb.addSeparator()
        tb.addActions([self.act_run, self.act_pause, self.act_cancel])
        tb.addSeparator()
        tb.addAction(self.act_fit)
        self.addToolBar(tb)
        for act in (self.act_undo, self.act_redo):  # their text names the command: too long
            button = tb.widgetForAction(act)
            if button is not None:
                button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)

    # ------------------------------------------------------------------ state

    def lock_editing(self, reason: str | None) -> None:
        """Lock (`reason`: why, shown to the user) or unlock what changes the document
        outside the canvas: undo, redo, the Undo History panel, and opening other files."""
        self.edit_lock = reason
        self.history_view.setEnabled(reason is None)
        self.history_view.setToolTip(f"Undo is off while {reason}" if reason else "")
        self._update_undo_actions()

    def _update_undo_actions(self, *_changed: object) -> None:
        locked = self.edit_lock is not None
        for act, verb, can, text in (
                (self.act_undo, "Undo", self.undo.canUndo(), self.undo.undoText()),
                (self.act_redo, "Redo", self.undo.canRedo(), self.undo.redoText())):
            act.setEnabled(can and not locked)
            act.setText(f"&{verb} {text}".rstrip())
            act.setStatusTip(f"{verb} is off while {self.edit_lock}" if locked else "")

    def _refuse_if_locked(self, what: str) -> bool:
        """True (and say why in the status bar) when `what` must wait for the lock to end."""
        if self.edit_lock is None:
            return False
        self.statusBar().showMessage(
            f"{what} is not possible while {self.edit_lock}: cancel it or wait until it ends",
            8000)
        return True

    def is_modified(self) -> bool:
        """True when there are changes not saved to the file."""
        return self._recovered or not self.undo.isClean()

    def display_name(self) -> str:
        """The file name, or the workflow name for a new document."""
        return Path(self.path).name if self.path else (self.doc.header.name or "Untitled")

    def _update_title(self, *_changed: object) -> None:
        self.setWindowTitle(f"{self.display_name()}[*] — nopflow")
        self.setWindowModified(self.is_modified())

    def _on_changed(self) -> None:
        self.validator.schedule()

    def _on_index_changed(self, _index: int) -> None:
        if self.is_modified():
            self.autosaver.schedule()
        self._update_title()

    def _validation_snapshot(self) -> tuple[Workflow, Path | None]:
        return self.doc.snapshot(), Path(self.path).resolve().parent if self.path else None

    def _edge_target(self, edge_id: str) -> str | None:
        e = self.doc.edges.get(edge_id)
        return e.target if e else None

    def _show_problems(self, problems: list[Problem]) -> None:
        grouped = by_node(problems, self._edge_target)
        self.scene.set_problems(grouped)
        self.inspector.set_problems(grouped)
        self.problems.set_problems(problems, self._edge_target)
        n = len(problems)
        self.problem_label.setText("✓ valid" if n == 0 else f"⚠ {n} problem{'s' if n != 1 else ''}")
        self.log_tabs.setTabText(0, f"Problems ({n})" if n else "Problems")

    def _update_zoom_label(self) -> None:
        text = f"{self.view.zoom() * 100:.0f} %"
        if self.zoom_label.text() != text:
            self.zoom_label.setText(text)

    # ------------------------------------------------------------------ files

    def set_workflow(self, wf: Workflow, path: str | None, recovered: bool = False) -> None:
        """Show a workflow (fresh undo history) and fit it into view."""
        self.autosaver.discard()
        self.path = path
        self._recovered = recovered
        if self.output.toPlainText():  # another workflow: its log starts under a line
            self.output.appendPlainText(
                f"══ {Path(path).name if path else wf.name or 'Untitled'} opened "
                f"{time.strftime('%H:%M:%S')} ══")
        self.doc.load(resolve_versions(wf, get_block))  # a save records each block's version
        self.undo.clear()
        self.undo.setClean()
        self._update_title()
        QTimer.singleShot(0, self.view.fit_all)
        self.validator.schedule()
        if recovered:
            self.autosaver.schedule()

    def new_document(self) -> None:
        """File ▸ New (asks about unsaved changes first)."""
        if not self._refuse_if_locked("A new workflow") and self.maybe_save():
            self.set_workflow(Workflow(), None)

    def open_dialog(self) -> None:
        """File ▸ Open."""
        if self._refuse_if_locked("Opening a workflow") or not self.maybe_save():
            return
        folder = str(Path(self.path).parent) if self.path else ""
        path = dialogs.open_path(self, folder)
        if path:
            self.open_file(path, ask=False)

    def open_file(self, path: str, ask: bool = True) -> bool:
        """Open a workflow file; a bad file shows the loader's message. Returns success.

        Every way of opening (menu, recent files, a dropped file, the OS's file-open
        event) comes here, so none can replace the document while editing is locked.
        """
        if self._refuse_if_locked(f"Opening {Path(path).name}"):
            return False
        if ask and not self.maybe_save():
            return False
        path = os.path.abspath(path)
        rec, aside = find_recovery(path)
        self._tell_set_aside(aside)
        if rec is not None:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(rec.saved_at))
            if dialogs.ask_recover(self, Path(path).name, when):
                self.set_workflow(rec.workflow, path, recovered=True)
                self.autosaver.path = rec.path
                self._add_recent(path)
                return True
            rec.path.unlink(missing_ok=True)
        try:
            wf = load_workflow(path, blocks=get_block)
        except NopflowError as exc:
            dialogs.show_error(self, "Cannot open workflow", str(exc))
            return False
        self.set_workflow(wf, path)
        self._add_recent(path)
        self.statusBar().showMessage(f"Opened {path}", 4000)
        return True

    def recover_untitled(self) -> bool:
        """At start-up without a file: offer the newest unsaved document's autosave."""
        rec, aside = find_recovery(None)
        self._tell_set_aside(aside)
        if rec is None:
            return False
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(rec.saved_at))
        if dialogs.ask_recover(self, rec.workflow.name or "Untitled", when):
            self.set_workflow(rec.workflow, None, recovered=True)
            self.autosaver.path = rec.path
            return True
        rec.path.unlink(missing_ok=True)
        return False

    def _tell_set_aside(self, aside: list[SetAside]) -> None:
        """Unusable autosave copies were renamed out of the way: say so, without a modal."""
        if not aside:
            return
        lines = []
        for a in aside:
            where = (f"It was set aside as {a.moved_to}." if a.moved_to else
                     f"It could not be moved and stays at {a.path}.")
            lines.append(f"An autosave copy could not be used ({a.reason}). {where}")
        text = "\n\n".join(lines)
        self.output.appendPlainText(text)
        self.notice = dialogs.show_notice(self, "Autosave copy unusable", text)

    def save(self) -> bool:
        """File ▸ Save (Save As for a new document)."""
        if not self.path:
            return self.save_as()
        return self._write(self.path)

    def save_as(self) -> bool:
        """File ▸ Save As; appends `.nopflow.json` when the name has no .json suffix.

        Saving a file under another name makes a copy, and a copy gets its own workflow id:
        history is kept per id, so the copy's runs never mix with the original's.
        """
        suggestion = self.path or str(Path.home() / f"{self.doc.header.name or 'Untitled'}")
        path = dialogs.save_path(self, suggestion)
        if not path:
            return False
        is_copy = self.path is not None and os.path.abspath(path) != self.path
        return self._write(path, new_workflow_id=is_copy)

    def _write(self, path: str, new_workflow_id: bool = False) -> bool:
        wf = self.doc.snapshot()
        if new_workflow_id:
            wf = wf.model_copy(update={"id": new_id()})
        named = not wf.name or wf.name == "Untitled"
        if named:  # an untitled workflow takes the name it is saved under
            wf = wf.model_copy(update={"name": workflow_name_for(path)})
        try:
            save_workflow(wf, path)
        except NopflowError as exc:
            dialogs.show_error(self, "Cannot save workflow", str(exc))
            return False
        if new_workflow_id:  # not an edit: the file's identity, so not on the undo stack
            self.doc.update_header(id=wf.id)
        if named:  # the same: what the file is called, not an edit to undo
            self.doc.update_header(name=wf.name)
        self.autosaver.discard()
        self.path = os.path.abspath(path)
        self._recovered = False
        self.undo.setClean()
        self._add_recent(self.path)
        self._update_title()
        self.validator.schedule()
        self.statusBar().showMessage(f"Saved {self.path}", 4000)
        return True

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; False means the user cancelled."""
        if not self.is_modified():
            return True
        answer = dialogs.ask_unsaved(self, self.display_name())
        if answer == "save":
            return self.save()
        return answer == "discard"

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.live.allow_close():  # a run is going on: asked, cancelling, closes after
            event.ignore()
            return
        if not self._close_confirmed:
            if not self.maybe_save():
                event.ignore()
                return
            self._close_confirmed = True
        # The warm sandbox is stopped inside the running loop, then the window closes for
        # good: a stop left for after the loop would be stepped with no loop running.
        if self.live.stop_sandbox_then(self.close):
            event.ignore()
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Clean close: keep the layout, drop the autosave copy, finish background work."""
        self.live.shutdown()
        self._save_layout()
        self.validator.wait(3000)
        self.autosaver.discard()

    # ------------------------------------------------------------------ recent files

    def recent_files(self) -> list[str]:
        """Recently opened/saved files, newest first."""
        value = app_settings().value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in value or []]

    def _add_recent(self, path: str) -> None:
        files = [path, *[p for p in self.recent_files() if p != path]][:MAX_RECENT]
        app_settings().setValue("recent", files)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for path in files:
            a = self.recent_menu.addAction(Path(path).name)
            a.setToolTip(path)
            a.setStatusTip(path)
            a.triggered.connect(lambda _c=False, p=path: self.open_file(p))
        if not files:
            self.recent_menu.addAction("No recent files").setEnabled(False)

    # ------------------------------------------------------------------ view

    def select_all(self) -> None:
        """Edit ▸ Select All."""
        self.scene.select_only([*self.scene.nodes.values(), *self.scene.notes.values(),
                                *self.scene.edges.values()])

    def _toggle_grid(self) -> None:
        self.scene.show_grid = self.act_grid.isChecked()
        self.view.resetCachedContent()
        self.view.viewport().update()

    def _toggle_minimap(self) -> None:
        self.minimap.setVisible(self.act_minimap.isChecked())
        self.minimap.schedule()

    def _toggle_snap(self) -> None:
        self.scene.snap_to_grid = self.act_snap.isChecked()

    def set_theme(self, mode: str) -> None:
        """View ▸ Theme: follow the system, or force light/dark."""
        apply_theme(mode)
        self.theme_actions[theme_mode()].setChecked(True)
        app_settings().setValue("theme", theme_mode())
        self.view.resetCachedContent()
        self.view.viewport().update()

    def _node_activated(self, node_id: str) -> None:
        """Double-click on a node: open the workflow it runs, else focus its form."""
        if not subworkflow_links.node_activated(self, node_id):
            self._focus_inspector()

    def _focus_inspector(self) -> None:
        """Double-click on a node or note: show its form and put the cursor in it."""
        self.inspector_dock.show()
        self.inspector_dock.raise_()
        self.inspector.follow_selection()
        form = self.inspector.form()
        if form is not None:
            from PySide6.QtWidgets import QLineEdit, QPlainTextEdit

            edit = form.findChild(QPlainTextEdit) or form.findChild(QLineEdit)
            if edit is not None:
                edit.setFocus()

    def _system_scheme_changed(self, _scheme: object) -> None:
        if theme_mode() == "system":
            self.set_theme("system")

    def _shortcuts(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{v}</td></tr>"
                       for k, v in SHORTCUTS)
        box = QMessageBox(QMessageBox.Icon.NoIcon, "Keyboard shortcuts",
                          f"<table>{rows}</table>", QMessageBox.StandardButton.Close, self)
        box.setModal(False)
        box.show()  # non-modal: it can stay open while you work

    def show_credentials(self, name: str = "", cred_type: str = "") -> None:
        """File ▸ Credentials (non-modal), optionally preset to create `name`."""
        from nopflow.ui.credentials_dialog import CredentialsDialog

        self.credentials_dialog = CredentialsDialog(self, preset_name=name,
                                                    preset_type=cred_type)
        self.credentials_dialog.changed.connect(self.validator.schedule)
        self.credentials_dialog.open()

    def _about(self) -> None:
        from nopflow.ui.about_dialog import AboutDialog

        self.about_dialog = AboutDialog(self)
        self.about_dialog.open()

    def _save_layout(self) -> None:
        s = app_settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.sync()

    def _restore_layout(self) -> None:
        s = app_settings()
        geo = s.value("window/geometry")
        state = s.value("window/state")
        if isinstance(geo, QByteArray):
            self.restoreGeometry(geo)
        if isinstance(state, QByteArray):
            self.restoreState(state)
        mode = str(s.value("theme", theme_mode()))
        if mode in self.theme_actions:
            self.theme_actions[mode].setChecked(True)


def workflow_name_for(path: str) -> str:
    """The name a file gives an untitled workflow: `wf1` for `wf1.nopflow.json`."""
    name = Path(path).name
    for suffix in (".nopflow.json", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or name
    return name


def active_windows() -> list[MainWindow]:
    """Every open editor window."""
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
