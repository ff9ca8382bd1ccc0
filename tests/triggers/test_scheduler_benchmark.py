"""benchmarks/scheduler.py still runs and measures every fire (--smoke: 20 workflows, 3 s)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "scheduler.py"


def test_scheduler_benchmark_smoke() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--smoke"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "60 fires (expected ~60)" in proc.stdout
    assert "fire lateness  p50" in proc.stdout and "idle scheduler CPU" in proc.stdout
