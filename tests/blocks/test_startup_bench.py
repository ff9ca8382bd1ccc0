"""benchmarks/startup.py still runs; its --smoke mode fails when `nopflow --version` loads a
block module or Qt, or discovery misses a built-in block."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "startup.py"


def test_startup_benchmark_smoke() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--smoke", "--no-editor"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "loads 0 block/Qt modules" in proc.stdout
    assert "discover blocks" in proc.stdout
