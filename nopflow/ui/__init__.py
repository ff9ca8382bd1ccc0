"""The PySide6 editor. The only package that imports Qt (docs/architecture.md).

How the pieces fit (data flows one way):

    gestures (interactions.py), palette, quick-add, inspector, menus
        → Editor (editor.py): edits in the user's terms
        → QUndoCommand (commands.py): each changes only the document
        → WorkflowDocument (document.py): indexed model, change signals
        → WorkflowScene (scene.py): builds/updates NodeItem / EdgeItem / NoteItem

Presentation-only state never touches the document:

* run state — ``window.scene.set_node_state(node_id, state, elapsed=, attempt=, error=)``
  with state in pending/running/success/error/skipped/cancelled (None clears);
  ``window.scene.clear_states()`` before a new run. Unknown ids are ignored; running nodes
  animate and count elapsed time on their own.
* validation badges — ``scene.set_problems({node_id: [message, …]})`` (the Validator does it).

Live runs (``ui/live/``): the Run menu/toolbar actions live in ``MainWindow.run_actions``
("run" F5, "pause" F6, "cancel" Shift+F5), enabled only when they apply, and are driven by
``RunController`` (``window.live``). One ``LiveBridge`` QObject is the only engine
subscriber: it queues engine events and flushes them as Qt signals at most once a frame.
Run logs go to ``MainWindow.output``; the History dock recolours the canvas to a kept run.
"""
