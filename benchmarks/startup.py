"""Start-up cost: `nopflow --version`, block discovery (built-ins + `nopflow.blocks` entry
points) and the editor's first window, each in fresh processes beside a bare interpreter.

Block discovery is lazy, so `--version` must cost what importing the CLI costs and load no
block; the discovery line says what the first block look-up adds (importing the built-in
block modules, reading the entry-point metadata of every installed distribution).

    python benchmarks/startup.py [--smoke] [--runs N] [--no-editor]

``--smoke`` runs each measurement twice and fails (exit 1) only when `--version` loads
block modules or Qt, or discovery misses a built-in.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

PROBE = """
import json, sys, time
t0 = time.perf_counter()
from nopflow.blocks import registry
t1 = time.perf_counter()
eps = registry._entry_points()
t2 = time.perf_counter()
blocks = registry.all_blocks()
t3 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "entry_points_ms": (t2 - t1) * 1e3,
                  "discover_ms": (t3 - t1) * 1e3, "blocks": len(blocks),
                  "builtin": len(registry.BUILTIN), "plugins": len(eps)}))
"""

VERSION_PROBE = """
import sys
from nopflow.cli import main
try:
    main(["--version"])
except SystemExit:
    pass
loaded = [m for m in sys.modules
          if m.startswith("nopflow.blocks.") or m.split(".")[0] in ("PySide6", "qasync")]
print("LOADED", len(loaded), file=sys.stderr)
"""

EDITOR_PROBE = """
import time
t0 = time.perf_counter()
from PySide6.QtWidgets import QApplication
app = QApplication([])
from nopflow.ui.main_window import MainWindow
win = MainWindow()
win.show()
app.processEvents()
print((time.perf_counter() - t0) * 1e3)
win.undo.setClean()
win.close()
"""


def wall_ms(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, str, str]:
    t0 = time.perf_counter()
    res = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    ms = (time.perf_counter() - t0) * 1e3
    if res.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed: {res.stderr.strip()[-500:]}")
    return ms, res.stdout, res.stderr


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-editor", action="store_true")
    args = parser.parse_args()
    runs = 2 if args.smoke else args.runs
    py = sys.executable

    bare = median([wall_ms([py, "-c", "pass"])[0] for _ in range(runs)])
    version, loaded = [], -1
    for _ in range(runs):
        ms, _out, err = wall_ms([py, "-c", VERSION_PROBE])
        version.append(ms)
        loaded = int(err.split("LOADED", 1)[1].split()[0])
    cli_version = median([wall_ms([py, "-m", "nopflow", "--version"])[0] for _ in range(runs)])
    probes = [json.loads(wall_ms([py, "-c", PROBE])[1]) for _ in range(runs)]
    print(f"bare interpreter            {bare:8.1f} ms")
    print(f"nopflow --version           {cli_version:8.1f} ms  "
          f"(+{cli_version - bare:.1f} ms over bare; loads {loaded} block/Qt modules)")
    print(f"import nopflow.blocks       {median([p['import_ms'] for p in probes]):8.2f} ms")
    print(f"read entry points           {median([p['entry_points_ms'] for p in probes]):8.2f} ms"
          f"  ({probes[-1]['plugins']} plugin entry points)")
    print(f"discover blocks             {median([p['discover_ms'] for p in probes]):8.2f} ms"
          f"  ({probes[-1]['blocks']} blocks, {probes[-1]['builtin']} built-in)")
    if not args.no_editor:
        env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
        editor = [float(wall_ms([py, "-c", EDITOR_PROBE], env)[1].strip().splitlines()[-1])
                  for _ in range(runs)]
        print(f"editor first window         {median(editor):8.1f} ms  (in-process, after "
              "interpreter start)")
    ok = loaded == 0 and probes[-1]["blocks"] >= probes[-1]["builtin"]
    if not ok:
        print("REGRESSION: --version loaded blocks/Qt, or a built-in block is missing")
    return 0 if ok or not args.smoke else 1


if __name__ == "__main__":
    sys.exit(main())
