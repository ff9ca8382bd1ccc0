"""Port geometry of a node: where each named port sits and what is under the cursor.

Ports are not QGraphicsItems of their own: with thousands of nodes, three or four child
items per node would multiply item count, index work and paint calls. The node paints its
ports and answers hit tests from this layout, computed once per block type.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from PySide6.QtCore import QPointF

from nopflow.blocks import get_block

NODE_WIDTH = 200.0
HEADER_H = 42.0
ROW_H = 22.0
BODY_PAD = 8.0
PORT_R = 5.5
#: how far from a port centre a press or drop still counts as on the port
PORT_HIT = 11.0


@dataclass(frozen=True)
class PortRef:
    """One end of a connection: node id, 'in' or 'out', port name."""

    node_id: str
    kind: str  # "in" | "out"
    name: str


@dataclass(frozen=True)
class PortLayout:
    """Local positions of a block type's ports and the node's height."""

    inputs: tuple[tuple[str, QPointF], ...]
    outputs: tuple[tuple[str, QPointF], ...]
    height: float

    def position(self, kind: str, name: str) -> QPointF | None:
        """Local centre of a port, or None if the block has no such port."""
        for n, p in self.inputs if kind == "in" else self.outputs:
            if n == name:
                return p
        return None

    def hit(self, x: float, y: float, radius: float = PORT_HIT) -> tuple[str, str] | None:
        """('in'|'out', name) of the port within `radius` of local point (x, y), else None."""
        best: tuple[float, tuple[str, str]] | None = None
        for kind, ports in (("in", self.inputs), ("out", self.outputs)):
            for name, p in ports:
                d = (p.x() - x) ** 2 + (p.y() - y) ** 2
                if d <= radius * radius and (best is None or d < best[0]):
                    best = (d, (kind, name))
        return best[1] if best else None


@cache
def layout_for(block_type: str) -> PortLayout:
    """The port layout of a block type (unknown types get one input and one output)."""
    block = get_block(block_type)
    ins = block.input_names() if block else ("in",)
    outs = block.output_names() if block else ("out",)
    rows = max(len(ins), len(outs), 1)
    height = HEADER_H + BODY_PAD + rows * ROW_H + BODY_PAD / 2

    def col(names: tuple[str, ...], x: float) -> tuple[tuple[str, QPointF], ...]:
        return tuple(
            (n, QPointF(x, HEADER_H + BODY_PAD + ROW_H * (i + 0.5))) for i, n in enumerate(names)
        )

    return PortLayout(col(ins, 0.0), col(outs, NODE_WIDTH), height)
