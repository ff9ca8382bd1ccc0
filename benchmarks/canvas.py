"""Canvas performance: load, render, move and add with 100 / 1,000 / 5,000 nodes.

    python benchmarks/canvas.py            # full run
    python benchmarks/canvas.py --smoke    # small N, for CI

Goals: 5,000 nodes load < 1 s; a normal-zoom frame < 16 ms; growth linear in N; adding a
node (and undoing it) does not grow with N. Runs offscreen; renders into a QImage.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication

from nopflow.model import Edge, Node, Workflow

TYPES = ["python", "delay", "set", "merge", "condition", "loop", "output"]
VIEW_W, VIEW_H = 1600, 1000


def make_workflow(n: int, seed: int = 1) -> Workflow:
    """A layered DAG with ~1.2 edges per node, laid out in columns of 25."""
    rng = random.Random(seed)
    per_col = 25
    nodes = [Node(id="n0", type="start", position=(0, 0))]
    for i in range(1, n):
        t = TYPES[i % len(TYPES)]
        col, row = divmod(i, per_col)
        cfg = {"code": "print(1)"} if t == "python" else {}
        if t == "condition":
            cfg = {"expression": "$prev.ok"}
        nodes.append(Node(id=f"n{i}", type=t, title=f"{t} {i}",
                          position=(col * 280.0, row * 150.0), config=cfg))
    edges = []
    outs = {"condition": "true", "loop": "body"}
    for i in range(1, n):
        k = 2 if rng.random() < 0.2 else 1
        for _ in range(k):
            j = rng.randrange(max(0, i - 2 * per_col), i)
            src = nodes[j]
            if src.type == "output":
                continue
            edges.append(Edge(id=f"e{len(edges)}", source=src.id,
                              source_port=outs.get(src.type, "out"), target=f"n{i}"))
    return Workflow(nodes=nodes, edges=edges)


def timed(fn, repeat: int = 1) -> float:  # type: ignore[no-untyped-def]
    """Median wall time of `fn` in milliseconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def render(view, img: QImage) -> None:  # type: ignore[no-untyped-def]
    """Render one frame of the view into an image (what a repaint costs)."""
    painter = QPainter(img)
    view.render(painter, QRectF(0, 0, VIEW_W, VIEW_H), view.viewport().rect())
    painter.end()


def bench(n: int) -> dict[str, float]:
    from nopflow.ui.editor import Editor
    from nopflow.ui.view import WorkflowView

    wf = make_workflow(n)
    editor = Editor()
    view = WorkflowView(editor)
    view.resize(VIEW_W, VIEW_H)
    view.show()
    QApplication.processEvents()
    out: dict[str, float] = {"nodes": n, "edges": len(wf.edges)}
    out["load_ms"] = timed(lambda: editor.doc.load(wf))
    img = QImage(VIEW_W, VIEW_H, QImage.Format.Format_ARGB32_Premultiplied)
    view.fit_all()
    # first frame after a load also pays for building the BSP index and warming caches
    out["first_frame_ms"] = timed(lambda: render(view, img))
    out["frame_fit_ms"] = timed(lambda: render(view, img), 3)
    view.set_zoom(1.0)
    view.centerOn(editor.scene.nodes[f"n{n // 2}"].pos())
    render(view, img)
    out["frame_100pct_ms"] = timed(lambda: render(view, img), 5)

    ids = [f"n{i}" for i in range(1, min(n, 501))]
    old = {i: editor.doc.nodes[i].position for i in ids}
    new = {i: (x + 40.0, y + 20.0) for i, (x, y) in old.items()}
    edges = editor.doc.edges_of(ids)

    def drag_step() -> None:  # one mouse-move of a live drag
        for i, (x, y) in new.items():
            editor.scene.nodes[i].setPos(x, y)
        editor.scene.update_edges(edges)

    out["move500_drag_step_ms"] = timed(drag_step)
    out["move500_command_ms"] = timed(lambda: editor.move(old, new))
    out["move500_undo_ms"] = timed(editor.undo.undo)

    def add_and_undo() -> None:
        editor.add_block("python", QPointF(-500, -500))
        editor.undo.undo()

    add_and_undo()
    out["add_node_undo_ms"] = timed(add_and_undo, 20)
    view.close()
    editor.deleteLater()
    QApplication.processEvents()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, for CI")
    parser.add_argument("--sizes", type=int, nargs="*", help="node counts to run")
    args = parser.parse_args()
    sizes = args.sizes or ([50, 200] if args.smoke else [100, 1000, 5000])
    app = QApplication.instance() or QApplication([])
    from nopflow.ui.theme import apply_theme

    apply_theme("light")
    cols = ["nodes", "edges", "load_ms", "first_frame_ms", "frame_fit_ms", "frame_100pct_ms",
            "move500_drag_step_ms", "move500_command_ms", "move500_undo_ms", "add_node_undo_ms"]
    print(" ".join(f"{c:>14}" for c in cols))
    results = []
    for n in sizes:
        r = bench(n)
        results.append(r)
        print(" ".join(f"{r[c]:>14.1f}" if isinstance(r[c], float) else f"{r[c]:>14}"
                       for c in cols), flush=True)
    del app
    big = results[-1]
    if not args.smoke and big["nodes"] >= 5000:
        ok = big["load_ms"] < 1000 and big["frame_100pct_ms"] < 16
        print("goals (5k load < 1 s, 100% frame < 16 ms):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
