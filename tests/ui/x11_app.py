"""The editor on a real X display for test_x11_flows.py: it reports, never drives.

Run as `python x11_app.py WORKFLOW STATE_JSON`. It opens the workflow in a MainWindow and
every 100 ms writes what the test needs to aim real X input (screen positions of nodes,
the minimap and an open menu's entries) and to check the result (the document).
"""

from __future__ import annotations

import json
import os
import sys

from PySide6.QtCore import QPointF, QTimer
from PySide6.QtWidgets import QApplication, QMenu

from nopflow.model import load_workflow
from nopflow.ui.main_window import MainWindow


def main() -> None:
    app = QApplication(sys.argv[:1])
    path, state_path = sys.argv[1], sys.argv[2]
    win = MainWindow()
    win.resize(1280, 860)
    win.move(0, 0)
    win.show()
    win.set_workflow(load_workflow(path), path)

    def report() -> None:
        view = win.view
        vp = view.viewport()

        def screen(p: QPointF) -> list[int]:
            g = vp.mapToGlobal(view.mapFromScene(p))
            return [g.x(), g.y()]

        mm = win.minimap
        tl = mm.mapToGlobal(mm.rect().topLeft())
        popup = QApplication.activePopupWidget()
        menu = {}
        if isinstance(popup, QMenu):
            for a in popup.actions():
                if a.text() and not a.isSeparator():
                    c = popup.actionGeometry(a).center()
                    g = popup.mapToGlobal(c)
                    menu[a.text()] = [g.x(), g.y()]
        doc = win.doc
        centre = view.mapToScene(vp.rect().center())
        state = {
            "nodes": {n: {"screen": screen(it.sceneBoundingRect().center()),
                          "header": screen(it.sceneBoundingRect().topLeft() + QPointF(60, 14)),
                          "position": list(doc.nodes[n].position),
                          "disabled": doc.nodes[n].disabled,
                          "selected": it.isSelected(),
                          "centre": [it.sceneBoundingRect().center().x(),
                                     it.sceneBoundingRect().center().y()]}
                      for n, it in win.scene.nodes.items()},
            "groups": {g: list(grp.rect) for g, grp in doc.groups.items()},
            "group_titles": {g: screen(it.frame_rect().topLeft() + QPointF(60, 12))
                             for g, it in win.scene.groups.items()},
            "minimap": {"rect": [tl.x(), tl.y(), mm.width(), mm.height()],
                        "node_points": {n: [tl.x() + round(mm.to_map(it.sceneBoundingRect()
                                                                     .center()).x()),
                                            tl.y() + round(mm.to_map(it.sceneBoundingRect()
                                                                     .center()).y())]
                                        for n, it in win.scene.nodes.items()}},
            "find_visible": win.find_bar.isVisible(),
            "find_count": win.find_bar.count.text(),
            "view_centre": [centre.x(), centre.y()],
            "menu": menu,
            "undo": win.undo.undoText(),
        }
        tmp = state_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f)
        os.replace(tmp, state_path)

    timer = QTimer()
    timer.timeout.connect(report)
    timer.start(100)

    def close() -> None:
        win.undo.setClean()
        win._recovered = False
        win.close()

    QTimer.singleShot(int(float(os.environ.get("X11_APP_SECONDS", "60")) * 1000), close)
    app.exec()


if __name__ == "__main__":
    main()
