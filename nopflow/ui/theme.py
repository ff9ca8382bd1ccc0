"""Light and dark looks: the application palette plus the canvas colours.

The canvas is painted by hand, so its colours live in a `CanvasTheme` that items read at
paint time (no per-paint allocation: pens and brushes are built once per theme switch).
The default follows the system colour scheme (QStyleHints.colorScheme); View ▸ Theme can
force light or dark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QGuiApplication,
    QIcon,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from nopflow.resources import resource_path

#: node states (docs/execution.md) and their colours; the badge icon carries the same meaning
STATES = ("pending", "running", "success", "error", "skipped", "cancelled")
STATE_COLORS = {
    "pending": "#8A94A6",
    "running": "#2F80ED",
    "success": "#27AE60",
    "error": "#E5484D",
    "skipped": "#A3ABB8",
    "cancelled": "#E89B2C",
}
#: node states for people (tooltips, run details)
STATE_LABELS = {
    "pending": "Pending",
    "running": "Running",
    "success": "Succeeded",
    "error": "Failed",
    "skipped": "Skipped",
    "cancelled": "Cancelled",
}
#: run statuses drawn with a node state's badge
_RUN_STATE_BADGES = {"completed": "success", "failed": "error", "paused": "pending"}


def state_icon_name(state: str | None) -> str:
    """The badge icon of a node state or run status (runs map onto node states)."""
    return "state-" + _RUN_STATE_BADGES.get(state or "", state or "pending")


CATEGORY_COLORS = {"Flow": "#2E9E5B", "Code": "#3572A5", "Data": "#C2477A", "Web": "#1F7A8C",
                   "System": "#6B5B95", "Files": "#B8860B", "AI": "#8E44AD"}


@dataclass
class CanvasTheme:
    """Every colour/pen/brush the canvas paints with, built once per theme."""

    dark: bool
    background: QColor
    grid_minor: QColor
    grid_major: QColor
    node_fill: QColor
    node_header: QColor
    node_border: QColor
    node_selected: QColor
    text: QColor
    text_dim: QColor
    port_fill: QColor
    port_ok: QColor
    edge: QColor
    edge_selected: QColor
    invalid: QColor
    note_fill: QColor
    note_text: QColor
    pens: dict[str, QPen] = field(default_factory=dict)
    brushes: dict[str, QBrush] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def pen(c: QColor, w: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
            p = QPen(c, w, style)
            p.setCosmetic(False)
            p.setCapStyle(Qt.PenCapStyle.RoundCap)
            return p

        self.pens = {
            "node": pen(self.node_border, 1.0),
            "selected": pen(self.node_selected, 2.2),
            "edge": pen(self.edge, 2.0),
            "edge_selected": pen(self.edge_selected, 3.0),
            # an edge that carried data in the run shown: the success colour, a bit wider
            "edge_live": pen(QColor(STATE_COLORS["success"]), 2.6),
            "edge_preview": pen(self.edge_selected, 2.0, Qt.PenStyle.DashLine),
            "invalid": pen(self.invalid, 2.0, Qt.PenStyle.DashLine),
            "port": pen(self.node_border, 1.2),
            "port_ok": pen(self.port_ok, 2.4),
            "text": QPen(self.text),
            "text_dim": QPen(self.text_dim),
            "grid_minor": QPen(self.grid_minor, 0),
            "grid_major": QPen(self.grid_major, 0),
            "note": QPen(self.note_text),
        }
        for state, color in STATE_COLORS.items():
            self.pens["state_" + state] = pen(QColor(color), 2.4)
            self.pens["state_text_" + state] = QPen(QColor(color))
        self.brushes = {
            "node": QBrush(self.node_fill),
            "header": QBrush(self.node_header),
            "port": QBrush(self.port_fill),
            "port_ok": QBrush(self.port_ok),
            "note": QBrush(self.note_fill),
        }
        for state, color in STATE_COLORS.items():  # a zoomed-out node is filled by state
            self.brushes["state_" + state] = QBrush(QColor(color))


def _canvas(dark: bool) -> CanvasTheme:
    if dark:
        return CanvasTheme(
            dark=True,
            background=QColor("#1E2127"),
            grid_minor=QColor("#262A31"),
            grid_major=QColor("#2F343C"),
            node_fill=QColor("#2B3038"),
            node_header=QColor("#323843"),
            node_border=QColor("#444B57"),
            node_selected=QColor("#5AA2FF"),
            text=QColor("#E6E9EF"),
            text_dim=QColor("#9AA3B2"),
            port_fill=QColor("#8893A5"),
            port_ok=QColor("#5AD08A"),
            edge=QColor("#7E8899"),
            edge_selected=QColor("#5AA2FF"),
            invalid=QColor("#FF5C63"),
            note_fill=QColor("#4A4530"),
            note_text=QColor("#F1E7B8"),
        )
    return CanvasTheme(
        dark=False,
        background=QColor("#F4F5F7"),
        grid_minor=QColor("#E8EAEE"),
        grid_major=QColor("#DADDE3"),
        node_fill=QColor("#FFFFFF"),
        node_header=QColor("#F7F8FA"),
        node_border=QColor("#C9CED6"),
        node_selected=QColor("#2F80ED"),
        text=QColor("#1F2329"),
        text_dim=QColor("#6B7380"),
        port_fill=QColor("#8A94A6"),
        port_ok=QColor("#27AE60"),
        edge=QColor("#8E98A8"),
        edge_selected=QColor("#2F80ED"),
        invalid=QColor("#E5484D"),
        note_fill=QColor("#FFF4BF"),
        note_text=QColor("#4A4020"),
    )


_current: CanvasTheme | None = None
_mode = "system"


def canvas_theme() -> CanvasTheme:
    """The canvas colours in use now."""
    global _current
    if _current is None:
        _current = _canvas(system_is_dark())
    return _current


def system_is_dark() -> bool:
    """True when the OS asks for a dark scheme (Qt ≥ 6.5), else guess from the palette."""
    app = QGuiApplication.instance()
    if app is None:
        return False
    try:
        scheme = QGuiApplication.styleHints().colorScheme()
        if scheme == Qt.ColorScheme.Dark:
            return True
        if scheme == Qt.ColorScheme.Light:
            return False
    except AttributeError:  # pragma: no cover (old Qt)
        pass
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def theme_mode() -> str:
    """'system', 'light' or 'dark'."""
    return _mode


def apply_theme(mode: str = "system") -> CanvasTheme:
    """Set the app palette and canvas colours; returns the canvas theme now in use."""
    global _current, _mode
    _mode = mode if mode in ("system", "light", "dark") else "system"
    dark = system_is_dark() if _mode == "system" else _mode == "dark"
    app = QApplication.instance()
    if isinstance(app, QApplication):
        app.setStyle("Fusion")  # the same crisp look on every platform, palette-driven
        app.setPalette(_dark_palette() if dark else _light_palette())
        # A widget with its own style sheet keeps the palette it was polished with (the
        # palette tree stayed white in dark mode): polish those again with the new one.
        for w in app.allWidgets():
            sheet = w.styleSheet()
            if sheet:
                w.setStyleSheet("")
                w.setStyleSheet(sheet)
    _current = _canvas(dark)
    return _current


def _light_palette() -> QPalette:
    p = QPalette()
    R = QPalette.ColorRole
    for role, color in (
        (R.Window, "#ECEEF1"), (R.WindowText, "#1F2329"), (R.Base, "#FFFFFF"),
        (R.AlternateBase, "#F5F6F8"), (R.Text, "#1F2329"), (R.Button, "#F3F4F6"),
        (R.ButtonText, "#1F2329"), (R.Highlight, "#2F80ED"), (R.HighlightedText, "#FFFFFF"),
        (R.ToolTipBase, "#FFFFFF"), (R.ToolTipText, "#1F2329"), (R.PlaceholderText, "#8A94A6"),
        (R.Link, "#2F80ED"), (R.Mid, "#C9CED6"), (R.Dark, "#A0A7B2"), (R.Light, "#FFFFFF"),
    ):
        p.setColor(role, QColor(color))
    p.setColor(QPalette.ColorGroup.Disabled, R.Text, QColor("#A0A7B2"))
    p.setColor(QPalette.ColorGroup.Disabled, R.ButtonText, QColor("#A0A7B2"))
    p.setColor(QPalette.ColorGroup.Disabled, R.WindowText, QColor("#A0A7B2"))
    return p


def _dark_palette() -> QPalette:
    p = QPalette()
    R = QPalette.ColorRole
    for role, color in (
        (R.Window, "#252830"), (R.WindowText, "#E6E9EF"), (R.Base, "#1B1E24"),
        (R.AlternateBase, "#22262D"), (R.Text, "#E6E9EF"), (R.Button, "#2D3139"),
        (R.ButtonText, "#E6E9EF"), (R.Highlight, "#3D7EDB"), (R.HighlightedText, "#FFFFFF"),
        (R.ToolTipBase, "#2D3139"), (R.ToolTipText, "#E6E9EF"), (R.PlaceholderText, "#7A8393"),
        (R.Link, "#6AA8FF"), (R.Mid, "#3A3F48"), (R.Dark, "#15171B"), (R.Light, "#3A3F48"),
    ):
        p.setColor(role, QColor(color))
    p.setColor(QPalette.ColorGroup.Disabled, R.Text, QColor("#6B7280"))
    p.setColor(QPalette.ColorGroup.Disabled, R.ButtonText, QColor("#6B7280"))
    p.setColor(QPalette.ColorGroup.Disabled, R.WindowText, QColor("#6B7280"))
    return p


# ---------------------------------------------------------------------- icons


@cache
def icon(name: str) -> QIcon:
    """A shipped SVG icon by name (`python`, `state-error`, `nopflow`); blank if missing."""
    return QIcon(str(_icon_file(name)))


#: how much of a toolbar icon shows when its action is off (Qt's own greying keeps a light
#: icon on a dark toolbar looking enabled)
DISABLED_OPACITY = 0.3


def toolbar_icon(name: str) -> QIcon:
    """A shipped icon whose disabled look is the icon faded, readable in both themes."""
    ic = QIcon()
    for size in (16, 20, 24, 32, 48):
        normal = icon_pixmap(name, size, 1.0)
        ic.addPixmap(normal, QIcon.Mode.Normal)
        faded = QPixmap(normal.size())
        faded.fill(Qt.GlobalColor.transparent)
        painter = QPainter(faded)
        painter.setOpacity(DISABLED_OPACITY)
        painter.drawPixmap(0, 0, normal)
        painter.end()
        ic.addPixmap(faded, QIcon.Mode.Disabled)
    return ic


@cache
def icon_pixmap(name: str, size: int, dpr: float) -> QPixmap:
    """A rasterised icon at a device pixel ratio, cached so painting never re-renders SVG.

    `size` is in logical pixels; the pixmap holds size·dpr device pixels and says so, so it
    paints crisp and at the right size on high-DPI screens. The SVG is rendered here because
    QIcon.pixmap's ratio handling differs between Qt versions (6.11 applies it twice).
    """
    px = max(1, round(size * dpr))
    pm = QPixmap(px, px)
    pm.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pm)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    QSvgRenderer(str(_icon_file(name))).render(painter)
    painter.end()
    pm.setDevicePixelRatio(dpr)
    return pm


def _icon_file(name: str) -> Path:
    path = resource_path("icons", f"{name}.svg")
    return path if path.is_file() else resource_path("icons", "block.svg")
