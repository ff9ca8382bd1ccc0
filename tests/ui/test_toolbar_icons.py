"""Dark theme: a disabled toolbar icon is visibly fainter than an enabled one (item 12)."""

from __future__ import annotations

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QToolBar

from nopflow.ui.theme import apply_theme


def ink(button, mode: QIcon.Mode) -> float:  # type: ignore[no-untyped-def]
    """Total opacity of the button's icon as drawn in a mode."""
    img = button.icon().pixmap(24, 24, mode).toImage()
    return sum(img.pixelColor(x, y).alphaF() for y in range(img.height())
               for x in range(img.width()))


def test_disabled_undo_looks_disabled_in_the_dark_theme(window):
    window.set_theme("dark")
    try:
        tb = window.findChild(QToolBar, "toolbar_main")
        undo = tb.widgetForAction(window.act_undo)
        assert not window.act_undo.isEnabled()  # nothing to undo yet
        normal, disabled = ink(undo, QIcon.Mode.Normal), ink(undo, QIcon.Mode.Disabled)
        assert normal > 0 and disabled < normal * 0.4
    finally:
        apply_theme("light")
