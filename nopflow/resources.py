"""Finding shipped resources (icons, examples, schema) from a checkout, a wheel or a bundle.

In a source checkout they live in `<repo>/resources`; a wheel carries them as
`nopflow/_resources`; a PyInstaller bundle puts them under `sys._MEIPASS`.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path


@cache
def resources_dir() -> Path:
    """The folder holding the shipped resources."""
    here = Path(__file__).resolve().parent
    candidates = [here / "_resources", here.parent / "resources"]
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        candidates.insert(0, Path(meipass) / "nopflow" / "_resources")
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[-1]


def resource_path(*parts: str) -> Path:
    """The path of one resource, e.g. `resource_path("icons", "python.svg")`."""
    return resources_dir().joinpath(*parts)
