"""Live runs in the editor: the engine → Qt bridge, run controls, history, node inspection.

How the pieces fit (docs/architecture.md: the GUI only listens to engine events and drives runs):

    engine Run ──events──▶ RunBridge (bridge.py, the ONE QObject subscribed to the engine)
                             queues events, flushes at most once per frame as Qt signals
                                  │
                                  ▼
    LiveRunController (run_controller.py): actions, read-only banner, canvas colours,
        status bar, log lines; starts/pauses/resumes/cancels the Run on qasync's loop and
        records it in history (like `nopflow run`)
        ├── HistoryPanel (history_panel.py): the kept runs; selecting one recolours the canvas
        ├── NodeRunView (node_run_view.py): the selected node's inputs/outputs/log/error
        └── ask_run_inputs (run_inputs_dialog.py): the per-run input form

Nothing here is imported by the engine; everything here runs on the GUI thread, except
history file reads/writes, which go to a worker thread.
"""

from __future__ import annotations
