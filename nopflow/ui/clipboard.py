"""Copy, cut, paste and duplicate through the system clipboard as JSON.

A fragment is plain JSON (`{"format": "nopflow/fragment", "nodes", "edges", "notes"}`), so
it travels between windows and processes and can be pasted into a text editor. Only edges
between copied nodes are kept; pasted nodes get fresh ids.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import QMimeData, QPointF
from PySide6.QtGui import QGuiApplication

from nopflow.model import Edge, Node, Note
from nopflow.ui.editor import Editor

FRAGMENT_MIME = "application/x-nopflow-fragment"
FRAGMENT_FORMAT = "nopflow/fragment"
PASTE_OFFSET = 40.0


def fragment(editor: Editor, nodes: list[str], notes: list[str]) -> dict[str, Any]:
    """The selected nodes and notes, and the edges among those nodes, as JSON data."""
    doc = editor.doc
    ids = set(nodes)
    edges = sorted(
        (e for e in doc.edges_of(ids) if doc.edges[e].source in ids and doc.edges[e].target in ids),
        key=doc.edge_order,
    )
    return {
        "format": FRAGMENT_FORMAT,
        "nodes": [doc.nodes[n].model_dump(mode="json") for n in nodes],
        "edges": [doc.edges[e].model_dump(mode="json") for e in edges],
        "notes": [doc.notes[n].model_dump(mode="json") for n in notes],
    }


def parse_fragment(text: str) -> tuple[list[Node], list[Edge], list[Note]] | None:
    """Nodes, edges and notes of a fragment; None when the text is not one."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return fragment_models(data)


def fragment_models(data: Any) -> tuple[list[Node], list[Edge], list[Note]] | None:
    """Nodes, edges and notes of fragment data (parsed JSON); None when it is not one."""
    try:
        if not isinstance(data, dict) or data.get("format") != FRAGMENT_FORMAT:
            return None
        return (
            [Node.model_validate(n) for n in data.get("nodes", [])],
            [Edge.model_validate(e) for e in data.get("edges", [])],
            [Note.model_validate(n) for n in data.get("notes", [])],
        )
    except (ValueError, TypeError, ValidationError):
        return None


def copy_selection(editor: Editor) -> int:
    """Put the selection on the clipboard; returns how many nodes and notes were copied."""
    nodes, _edges, notes = editor.scene.selected_ids()
    if not (nodes or notes):
        return 0
    text = json.dumps(fragment(editor, nodes, notes), indent=1)
    mime = QMimeData()
    mime.setData(FRAGMENT_MIME, text.encode("utf-8"))
    mime.setText(text)
    QGuiApplication.clipboard().setMimeData(mime)
    return len(nodes) + len(notes)


def cut_selection(editor: Editor) -> int:
    """Copy, then delete the selection (one undo step for the delete)."""
    n = copy_selection(editor)
    if n:
        editor.delete_selection()
    return n


def _top_left(nodes: list[Node], notes: list[Note]) -> QPointF:
    xs = [n.position[0] for n in nodes] + [n.position[0] for n in notes]
    ys = [n.position[1] for n in nodes] + [n.position[1] for n in notes]
    return QPointF(min(xs, default=0.0), min(ys, default=0.0))


def _offset(editor: Editor, parsed: tuple[list[Node], list[Edge], list[Note]],
            at: QPointF | None, fallback: QPointF) -> QPointF:
    """How far to shift a fragment: its top-left to `at` (snapped), else `fallback`."""
    if at is None:
        return fallback
    return editor.scene.snap(at) - _top_left(parsed[0], parsed[2])


def paste(editor: Editor, at: QPointF | None = None) -> list[str]:
    """Paste the clipboard's fragment (if any) with its top-left at `at` (the cursor), else
    offset from the originals; returns the new ids."""
    mime = QGuiApplication.clipboard().mimeData()
    if mime is None:
        return []
    if mime.hasFormat(FRAGMENT_MIME):
        text = bytes(mime.data(FRAGMENT_MIME).data()).decode("utf-8")
    else:
        text = mime.text()
    parsed = parse_fragment(text) if text else None
    if parsed is None:
        editor.message.emit("Nothing to paste: the clipboard holds no nopflow blocks")
        return []
    offset = _offset(editor, parsed, at, QPointF(PASTE_OFFSET, PASTE_OFFSET))
    return editor.insert_fragment(*parsed, offset, "Paste")


def duplicate_selection(editor: Editor, at: QPointF | None = None) -> list[str]:
    """Ctrl+D: copy the selection without touching the clipboard, with its top-left at `at`
    (the cursor), else just below the originals so no copy hides them or their edges."""
    nodes, _edges, notes = editor.scene.selected_ids()
    if not (nodes or notes):
        return []
    parsed = fragment_models(fragment(editor, nodes, notes))  # no JSON text round trip
    assert parsed is not None
    scene = editor.scene
    items = [scene.nodes[n] for n in nodes] + [scene.notes[n] for n in notes]
    bottom = max(it.sceneBoundingRect().bottom() for it in items)
    below = QPointF(0.0, scene.snap(QPointF(0.0, bottom + PASTE_OFFSET)).y()
                    - _top_left(parsed[0], parsed[2]).y())
    return editor.insert_fragment(*parsed, _offset(editor, parsed, at, below), "Duplicate")
