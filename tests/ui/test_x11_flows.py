"""The main editor flows with real X input: Xvfb, the real editor, xdotool.

Find, the node menu, auto-layout, frames and the minimap, each driven by real key presses
and mouse clicks on a real X display; the editor reports positions and its document to a
JSON file the test reads (tests/ui/x11_app.py). Skipped where Xvfb or xdotool is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nopflow.model import Edge, Node, Workflow, save_workflow

pytestmark = pytest.mark.skipif(
    not (shutil.which("Xvfb") and shutil.which("xdotool")), reason="needs Xvfb and xdotool")
APP = Path(__file__).with_name("x11_app.py")


class Desk:
    """A running Xvfb + editor pair and the xdotool commands aimed at it."""

    def __init__(self, display: str, state: Path) -> None:
        self.display, self.state_path = display, state

    def xdo(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], check=True, timeout=10,
                       env={**os.environ, "DISPLAY": self.display})

    def state(self) -> dict[str, Any]:
        return json.loads(self.state_path.read_text())

    def wait(self, cond: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                last = self.state()
                if cond(last):
                    return last
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"condition not met; last state: {json.dumps(last)[:2000]}")

    def click(self, xy: list[int], button: str = "1") -> None:
        self.xdo("mousemove", "--sync", str(xy[0]), str(xy[1]))
        time.sleep(0.15)
        self.xdo("click", button)

    def key(self, *keys: str) -> None:
        self.xdo("key", "--delay", "60", *keys)


def _wf() -> Workflow:
    return Workflow(name="X", nodes=[
        Node(id="start", type="start", title="Start", position=(0, 0)),
        Node(id="calc", type="python", title="Compute", position=(600, 300),
             config={"code": "print('{\"needle\": 1}')"}),
        Node(id="out", type="output", title="Out", position=(300, -200),
             config={"values": {}}),
    ], edges=[Edge(source="start", target="calc"), Edge(source="calc", target="out")])


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    display = f":{100 + os.getpid() % 800}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x900x24", "-nolisten",
                             "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    app = None
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{display[1:]}").exists():
            assert time.monotonic() < deadline, "Xvfb did not start"
            time.sleep(0.05)
        path = tmp_path / "x.nopflow.json"
        save_workflow(_wf(), path)
        state = tmp_path / "state.json"
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
               "NOPFLOW_CONFIG_DIR": str(tmp_path / "cfg"),
               "NOPFLOW_DATA_DIR": str(tmp_path / "data"), "X11_APP_SECONDS": "90"}
        app = subprocess.Popen([sys.executable, str(APP), str(path), str(state)], env=env)
        d = Desk(display, state)
        d.wait(lambda s: len(s["nodes"]) == 3, timeout=20)
        time.sleep(0.5)  # the first fit-to-view lands after the first report
        yield d
    finally:
        for proc in (app, xvfb):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


def test_find_menu_layout_frame_and_minimap_with_real_x_input(desk: Desk) -> None:
    s = desk.state()
    # Find: Ctrl+F, type, Enter -> the hit is selected and centred
    desk.click(s["nodes"]["start"]["screen"])  # focus the canvas
    desk.key("ctrl+f")
    desk.wait(lambda s: s["find_visible"])
    desk.xdo("type", "--delay", "40", "needle")
    s = desk.wait(lambda s: s["find_count"] == "1 of 1" and s["nodes"]["calc"]["selected"])
    c, v = s["nodes"]["calc"]["centre"], s["view_centre"]
    assert abs(c[0] - v[0]) < 5 and abs(c[1] - v[1]) < 5
    desk.key("Escape")
    desk.wait(lambda s: not s["find_visible"])

    # Node menu: right-click calc, click Disable
    desk.click(s["nodes"]["calc"]["header"], button="3")
    s = desk.wait(lambda s: "Disable" in s["menu"])
    desk.click(s["menu"]["Disable"])
    s = desk.wait(lambda s: s["nodes"]["calc"]["disabled"])
    assert s["undo"] == "Disable Compute"

    # Auto-layout: Ctrl+Shift+L puts every edge left to right
    desk.key("ctrl+shift+l")
    s = desk.wait(lambda s: s["undo"] == "Auto-layout 3 nodes")
    pos = {n: v["position"] for n, v in s["nodes"].items()}
    assert pos["start"][0] < pos["calc"][0] < pos["out"][0]

    # Frame: Ctrl+A, Ctrl+G, then drag the frame's title: the nodes come along
    desk.key("ctrl+a", "ctrl+g")
    desk.wait(lambda s: len(s["groups"]) == 1)
    desk.key("f")  # fit: the frame's title comes into view too
    time.sleep(0.4)
    s = desk.wait(lambda s: all(v[1] > 60 for v in s["group_titles"].values()))
    (title,) = s["group_titles"].values()
    before = {n: v["position"] for n, v in s["nodes"].items()}
    desk.click(s["nodes"]["start"]["screen"])  # a plain click selects one node only
    desk.xdo("mousemove", "--sync", str(title[0]), str(title[1]))
    desk.xdo("mousedown", "1")
    for i in range(1, 6):
        desk.xdo("mousemove", "--sync", str(title[0]), str(title[1] + 16 * i))
        time.sleep(0.03)
    desk.xdo("mouseup", "1")
    s = desk.wait(lambda s: s["undo"] == "Move 4 items")
    for n, p in s["nodes"].items():
        assert p["position"][0] == before[n][0] and p["position"][1] > before[n][1] + 20, n

    # Minimap: a click on calc's dot centres the canvas near calc
    desk.click(s["minimap"]["node_points"]["out"])
    target = s["nodes"]["out"]["centre"]
    s = desk.wait(lambda s: abs(s["view_centre"][0] - target[0]) < 80
                  and abs(s["view_centre"][1] - target[1]) < 80)
