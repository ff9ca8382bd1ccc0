"""The editor's settings file (window layout, theme, recent files, remembered run inputs).

A module of its own so any part of the UI can reach it without importing the main window.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

from nopflow.storage.locations import config_dir


def app_settings() -> QSettings:
    """Settings in an ini file under the config dir (NOPFLOW_CONFIG_DIR in tests)."""
    return QSettings(str(config_dir() / "nopflow.ini"), QSettings.Format.IniFormat)
