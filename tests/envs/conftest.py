"""Script-package tests: uv talks only to a package index the test starts on 127.0.0.1.

`pkgindex.py` (wheels and the index) sits beside this file, which puts the folder on
sys.path so test modules import it whatever pytest's import mode is.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pkgindex import index, wheels

__all__ = ["index", "wheels"]
