"""A node on the canvas: header with icon, title and type; named ports; state and problems.

Painting is the hot path with thousands of nodes, so everything it needs is prepared
before paint: fonts and pens are shared, texts are QStaticText built when the title
changes, icons are cached pixmaps. Below a zoom threshold (level of detail) only a
coloured card is drawn. The run state is plain attributes plus `update()` — cheap enough
to set for every engine event.
"""

from __future__ import annotations

import time
from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QStaticText
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from nopflow.blocks import get_block
from nopflow.model import Node
from nopflow.ui.items.port_item import (
    HEADER_H,
    NODE_WIDTH,
    PORT_R,
    PortLayout,
    PortRef,
    layout_for,
)
from nopflow.ui.theme import (
    CATEGORY_COLORS,
    STATE_LABELS,
    canvas_theme,
    icon_pixmap,
    state_icon_name,
)

#: below this scale only the card is painted (no text, icons or ports)
LOD_SIMPLE = 0.3
RADIUS = 8.0


@cache
def fonts() -> dict[str, QFont]:
    """Shared fonts (created once, after the QApplication exists)."""
    title = QFont()
    title.setPointSizeF(9.5)
    title.setWeight(QFont.Weight.DemiBold)
    small = QFont()
    small.setPointSizeF(8.0)
    return {"title": title, "small": small}


@cache
def _port_texts(block_type: str) -> tuple[tuple[QStaticText, ...], tuple[QStaticText, ...]]:
    lay = layout_for(block_type)

    def make(name: str) -> QStaticText:
        st = QStaticText(name)
        st.setTextFormat(Qt.TextFormat.PlainText)
        st.prepare(font=fonts()["small"])
        return st

    return tuple(make(n) for n, _ in lay.inputs), tuple(make(n) for n, _ in lay.outputs)


def _static_title(title: str, width: float) -> QStaticText:
    """A prepared title, elided with … to fit `width`."""
    fm = QFontMetricsF(fonts()["title"])
    if fm.horizontalAdvance(title) > width:
        title = fm.elidedText(title, Qt.TextElideMode.ElideRight, width)
    st = QStaticText(title)
    st.setTextFormat(Qt.TextFormat.PlainText)
    st.prepare(font=fonts()["title"])
    return st


@cache
def _card_path(height: float) -> QPainterPath:
    path = QPainterPath()
    path.addRoundedRect(QRectF(0, 0, NODE_WIDTH, height), RADIUS, RADIUS)
    return path


@cache
def _hit_shape(height: float) -> QPainterPath:
    """A node's hit area, shared by every node of that height (built once, not per hit test)."""
    path = QPainterPath()
    path.addRect(QRectF(-PORT_R - 4, 0, NODE_WIDTH + 2 * PORT_R + 8, height))
    return path


@cache
def _header_path(height: float) -> QPainterPath:
    path = QPainterPath()
    path.addRoundedRect(QRectF(0, 0, NODE_WIDTH, HEADER_H + RADIUS), RADIUS, RADIUS)
    clip = QPainterPath()
    clip.addRect(QRectF(0, 0, NODE_WIDTH, HEADER_H))
    return path.intersected(clip)


class NodeItem(QGraphicsItem):
    """The picture of one `Node`; it never edits the model itself."""

    def __init__(self, node: Node) -> None:
        super().__init__()
        self.node_id = node.id
        self.block_type = node.type
        self.layout: PortLayout = layout_for(node.type)
        block = get_block(node.type)
        self.icon_name = block.icon if block else "block"
        self.accent = QColor(CATEGORY_COLORS.get(block.category, "#6B7280") if block else "#6B7280")
        self._type_text = QStaticText(block.title if block else f"{node.type} (unknown)")
        self._type_text.setTextFormat(Qt.TextFormat.PlainText)
        self.title_text: str | None = None
        self._title_wide = self._title_one = self._title_narrow = QStaticText()
        self._bounds = QRectF(-PORT_R - 2, -4, NODE_WIDTH + 2 * PORT_R + 4, self.layout.height + 8)
        # run state (set by the live-run bridge) and validation problems
        self.state: str | None = None
        self._state_icon = ""
        self.elapsed: float | None = None
        self.attempt: int | None = None
        self.error: str | None = None
        self.started_at: float | None = None
        #: a sub-workflow node's child run: (nodes done, nodes in all), shown while running
        self.sub_progress: tuple[int, int] | None = None
        self.problems: list[str] = []
        #: `"disabled": true`: drawn faded with a "disabled" badge (set from the model)
        self.disabled = False
        #: port highlighting while a link is dragged: {(kind, name): True ok / False dim}
        self.port_marks: dict[tuple[str, str], bool] = {}
        self.phase = 0.0  # running animation phase, advanced by the scene's timer
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(False)
        self.setZValue(1.0)
        self.set_node(node)

    # ------------------------------------------------------------------ model → item

    def set_node(self, node: Node) -> None:
        """Refresh from the model (title or position changed)."""
        title = node.title or node.id
        if title != self.title_text:
            self.title_text = title
            # Prepared variants: full width, and narrower as one or two badges (state,
            # problems; 20 px apiece) take the corner — one badge must not cut as much
            # as two, or a run elides titles like "Word statistics" that fit beside it.
            self._title_wide = _static_title(title, NODE_WIDTH - 40 - 10)
            self._title_one = _static_title(title, NODE_WIDTH - 40 - 30)
            self._title_narrow = _static_title(title, NODE_WIDTH - 40 - 50)
            self._refresh_tooltip()
        if node.disabled != self.disabled:
            self.disabled = node.disabled
            self._apply_opacity()
            self._refresh_tooltip()
        self.setPos(QPointF(*node.position))
        self.update()

    def _apply_opacity(self) -> None:
        """Faded when skipped in a run or disabled in the file."""
        self.setOpacity(0.45 if self.disabled or self.state == "skipped" else 1.0)

    def set_state(
        self,
        state: str | None,
        *,
        elapsed: float | None = None,
        attempt: int | None = None,
        error: str | None = None,
    ) -> None:
        """Show a run state (None clears it). Cheap: attributes, tooltip, one update()."""
        if state == "running" and self.state != "running":
            self.started_at = time.monotonic() - (elapsed or 0.0)
        if state != "running":
            self.sub_progress = None
        self.state = state
        self._state_icon = state_icon_name(state) if state else ""
        self.elapsed = elapsed
        self.attempt = attempt
        self.error = error
        self._apply_opacity()
        self._refresh_tooltip()
        self.update()

    def set_sub_progress(self, done: int, total: int) -> None:
        """A running sub-workflow's child progress, drawn as ``done/total`` by the clock."""
        self.sub_progress = (done, total)
        self.update()

    def pause_clock(self, paused: bool, now: float) -> None:
        """Freeze a running node's elapsed time at `now` (monotonic), or restart it from there."""
        if paused and self.started_at is not None:
            self.elapsed = now - self.started_at
            self.started_at = None
        elif not paused and self.started_at is None:
            self.started_at = now - (self.elapsed or 0.0)
        self.update()

    def set_problems(self, problems: list[str]) -> None:
        """Validation problems of this node (empty clears the badge)."""
        if problems == self.problems:
            return
        self.problems = problems
        self._refresh_tooltip()
        self.update()

    def _refresh_tooltip(self) -> None:
        lines = []
        if self.shown_title() != self.title_text:  # elided on the card: say it in full
            lines.append(self.title_text)
        if self.state:
            head = STATE_LABELS.get(self.state, self.state)
            if self.attempt and self.attempt > 1:
                head += f" (attempt {self.attempt})"
            lines.append(head)
        if self.error:
            lines.append(self.error)
        if self.disabled:
            lines.append("Disabled: does not run; its input passes through")
        lines.extend(f"⚠ {p}" for p in self.problems)
        self.setToolTip("\n".join(lines))

    # ------------------------------------------------------------------ geometry

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        # Include the port discs so presses on a port's outer half still hit the node.
        return _hit_shape(self.layout.height)

    def port_at(self, scene_pos: QPointF, radius: float | None = None) -> PortRef | None:
        """The port under a scene point (within `radius` scene units), if any."""
        p = scene_pos - self.pos()
        hit = self.layout.hit(p.x(), p.y()) if radius is None else self.layout.hit(
            p.x(), p.y(), radius)
        return PortRef(self.node_id, hit[0], hit[1]) if hit else None

    def port_scene_pos(self, kind: str, name: str) -> QPointF:
        """Scene position of a port's centre (falls back to the node's side middle)."""
        local = self.layout.position(kind, name)
        if local is None:
            local = QPointF(0.0 if kind == "in" else NODE_WIDTH, self.layout.height / 2)
        return self.pos() + local

    # ------------------------------------------------------------------ painting

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        th = canvas_theme()
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        h = self.layout.height
        selected = self.isSelected()
        state_pen = th.pens.get("state_" + self.state) if self.state else None
        if lod < LOD_SIMPLE:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            # Zoomed out a border is a pixel: the state fills the whole box, and a node that
            # has not run shows its category only as a thin strip (green Flow ≠ succeeded).
            state_brush = th.brushes.get("state_" + self.state) if self.state else None
            painter.setPen(th.pens["selected"] if selected else (state_pen or th.pens["node"]))
            painter.setBrush(state_brush or th.brushes["node"])
            painter.drawRect(QRectF(0, 0, NODE_WIDTH, h))
            if state_brush is None:
                painter.fillRect(QRectF(0, 0, NODE_WIDTH, HEADER_H * 0.3), self.accent)
            if self.problems:
                painter.fillRect(QRectF(NODE_WIDTH - 40, 0, 40, 40), th.invalid)
            return

        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        card = _card_path(h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(th.brushes["node"])
        painter.drawPath(card)
        painter.setBrush(th.brushes["header"])
        painter.drawPath(_header_path(h))
        painter.fillRect(QRectF(0, HEADER_H - 1, NODE_WIDTH, 1), th.node_border)

        # border: selection wins, else state colour, else the quiet default
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if self.state == "running":
            pen = th.pens["state_running"]
            pen.setStyle(Qt.PenStyle.DashLine)
            pen.setDashOffset(-self.phase)
            painter.setPen(pen)
            painter.drawPath(card)
            pen.setStyle(Qt.PenStyle.SolidLine)
        elif state_pen is not None:
            painter.setPen(state_pen)
            painter.drawPath(card)
        else:
            painter.setPen(th.pens["node"])
            painter.drawPath(card)
        if selected:
            painter.setPen(th.pens["selected"])
            painter.drawRoundedRect(QRectF(-3, -3, NODE_WIDTH + 6, h + 6), RADIUS + 3, RADIUS + 3)

        dpr = painter.device().devicePixelRatioF() if painter.device() else 1.0
        if lod > 1.2:  # zoomed in: a denser pixmap keeps icons sharp (few cached sizes)
            dpr *= 2.0 if lod <= 2.0 else 3.0
        painter.drawPixmap(QPointF(10, 10), icon_pixmap(self.icon_name, 22, dpr))
        painter.setPen(th.pens["text"])
        painter.setFont(fonts()["title"])
        painter.drawStaticText(QPointF(40, 6), self._shown_title())
        painter.setPen(th.pens["text_dim"])
        painter.setFont(fonts()["small"])
        painter.drawStaticText(QPointF(40, 23), self._type_text)

        # badges, right to left: state, then problems; elapsed/attempt under the badge
        x = NODE_WIDTH - 26
        if self.state:
            painter.drawPixmap(QPointF(x, 8), icon_pixmap(self._state_icon, 16, dpr))
            label = self._state_label()
            if label:
                painter.setPen(th.pens["state_text_" + self.state])
                painter.drawText(QRectF(NODE_WIDTH - 90, 23, 80, 14),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                                 label)
            x -= 20
        if self.problems:
            painter.drawPixmap(QPointF(x, 8), icon_pixmap("state-problem", 16, dpr))
        if self.disabled:
            self._paint_disabled_badge(painter)

        # ports with names
        in_texts, out_texts = _port_texts(self.block_type)
        painter.setFont(fonts()["small"])
        for (name, p), st in zip(self.layout.inputs, in_texts, strict=False):
            self._paint_port(painter, p, self.port_marks.get(("in", name)))
            painter.setPen(th.pens["text_dim"])
            painter.drawStaticText(QPointF(p.x() + 12, p.y() - st.size().height() / 2), st)
        for (name, p), st in zip(self.layout.outputs, out_texts, strict=False):
            self._paint_port(painter, p, self.port_marks.get(("out", name)))
            painter.setPen(th.pens["text_dim"])
            sz = st.size()
            painter.drawStaticText(QPointF(p.x() - 12 - sz.width(), p.y() - sz.height() / 2), st)

    def _paint_disabled_badge(self, painter: QPainter) -> None:
        """A "disabled" pill across the card's bottom edge, readable without colour."""
        th = canvas_theme()
        rect = QRectF(NODE_WIDTH / 2 - 34, self.layout.height - 12, 68, 15)
        painter.setPen(th.pens["node"])
        painter.setBrush(th.brushes["header"])
        painter.drawRoundedRect(rect, 8, 8)
        painter.setPen(th.pens["text"])
        painter.setFont(fonts()["small"])
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "disabled")

    def _shown_title(self) -> QStaticText:
        badges = bool(self.state) + bool(self.problems)
        return (self._title_wide, self._title_one, self._title_narrow)[badges]

    def shown_title(self) -> str:
        """The title as drawn now (elided when badges leave too little room)."""
        return self._shown_title().text()

    def _state_label(self) -> str:
        if self.state == "running":
            elapsed = self.elapsed
            if self.started_at is not None:
                elapsed = time.monotonic() - self.started_at
            text = f"{elapsed:.1f} s" if elapsed is not None else ""
            if self.attempt and self.attempt > 1:
                text = f"#{self.attempt} {text}"
            if self.sub_progress is not None:
                text = f"{self.sub_progress[0]}/{self.sub_progress[1]} · {text}"
            return text
        if self.state in ("success", "error") and self.elapsed is not None:
            return f"{self.elapsed:.1f} s"
        return ""

    def _paint_port(self, painter: QPainter, p: QPointF, mark: bool | None) -> None:
        th = canvas_theme()
        if mark is True:
            painter.setPen(th.pens["port_ok"])
            painter.setBrush(th.brushes["port_ok"])
            painter.drawEllipse(p, PORT_R + 1.5, PORT_R + 1.5)
            return
        base = painter.opacity()
        if mark is False:
            painter.setOpacity(base * 0.3)
        painter.setPen(th.pens["port"])
        painter.setBrush(th.brushes["port"])
        painter.drawEllipse(p, PORT_R, PORT_R)
        painter.setOpacity(base)
