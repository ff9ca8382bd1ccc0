"""Hover text for ports and edges: what a port is and, after a run, what went through it.

The view asks `hover_text` on a tooltip event; the values come from a `ValueSource` the
live-run controller sets (the run shown on the canvas, live or kept), so this module knows
nothing about runs. Values are cut short: a tooltip is a glance, Run details has the rest.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from nopflow.model import Edge
from nopflow.ui.items.port_item import PortRef

#: (node id, "in" | "out") → (True, value) when the run shown has one, else (False, None)
ValueSource = Callable[[str, str], tuple[bool, Any]]
PREVIEW_CHARS = 160


def preview(value: Any) -> str:
    """A value as one short line of JSON (cut with … when long)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def _value_line(values: ValueSource | None, node_id: str, kind: str) -> str:
    if values is None:
        return ""
    found, value = values(node_id, kind)
    return f"\n{'received' if kind == 'in' else 'sent'}: {preview(value)}" if found else ""


def port_text(port: PortRef, values: ValueSource | None) -> str:
    """`input 'in' of calc` plus, after a run, the value that went through it."""
    side = "input" if port.kind == "in" else "output"
    return f"{side} '{port.name}' of {port.node_id}" + _value_line(values, port.node_id,
                                                                   port.kind)


def edge_text(edge: Edge, values: ValueSource | None) -> str:
    """`calc.out → out.in` plus, after a run, the value the source sent."""
    head = f"{edge.source}.{edge.source_port} → {edge.target}.{edge.target_port}"
    return head + _value_line(values, edge.source, "out")
