"""benchmarks/data_blocks.py still runs and checks its results against the baseline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "data_blocks.py"


def test_data_blocks_benchmark_smoke() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--smoke"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "transform (3 fields)" in proc.stdout and "ratio" in proc.stdout
