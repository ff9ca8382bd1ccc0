"""The PySide6 editor. The only package that imports Qt (DESIGN.md §1).

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

The Run menu/toolbar actions live in ``MainWindow.run_actions`` ("run", "pause", "cancel"),
disabled until the live-run bridge connects them; run logs go to ``MainWindow.output``.
"""
