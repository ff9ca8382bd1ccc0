"""Auto-layout, align and distribute: one undo step each, through the Arrange menu."""

from __future__ import annotations

import itertools

from PySide6.QtCore import QRectF

from nopflow.model import Edge, Node, Workflow
from nopflow.ui.items.port_item import NODE_WIDTH


def tangled() -> Workflow:
    """Two chains a→b→c, x→y→z cross-wired, placed at random-looking spots."""
    spots = {"a": (0, 0), "b": (300, 0), "c": (-300, 900), "x": (0, 600),
             "y": (300, 600), "z": (1200, -400), "lone": (600, 300)}
    nodes = [Node(id=n, type="python", position=p, config={"code": "print(1)"})
             for n, p in spots.items()]
    nodes[0] = Node(id="a", type="start", position=spots["a"])
    nodes[3] = Node(id="x", type="start", position=spots["x"])
    pairs = [("a", "y"), ("x", "b"), ("y", "c"), ("b", "z"), ("a", "b")]
    return Workflow(nodes=nodes, edges=[Edge(source=s, target=t) for s, t in pairs])


def rects(win) -> dict[str, QRectF]:
    return {n: win.scene.nodes[n].sceneBoundingRect() for n in win.doc.nodes}


def crossings(win) -> int:
    """Edges that cross on screen: straight segments between port rows, left to right."""
    doc = win.doc

    def seg(e):  # type: ignore[no-untyped-def]
        s, t = doc.nodes[e.source].position, doc.nodes[e.target].position
        return (s[0], s[1]), (t[0], t[1])

    def ccw(a, b, c):  # type: ignore[no-untyped-def]
        return (c[1] - a[1]) * (b[0] - a[0]) > (b[1] - a[1]) * (c[0] - a[0])

    n = 0
    for e1, e2 in itertools.combinations(doc.edges.values(), 2):
        if {e1.source, e1.target} & {e2.source, e2.target}:
            continue
        (a, b), (c, d) = seg(e1), seg(e2)
        n += ccw(a, c, d) != ccw(b, c, d) and ccw(a, b, c) != ccw(a, b, d)
    return n


def test_auto_layout_of_the_whole_graph_is_one_undo_step(window):
    window.set_workflow(tangled(), None)
    before = {n: node.position for n, node in window.doc.nodes.items()}
    assert crossings(window) > 0
    window.act_layout.trigger()  # Arrange ▸ Auto-Layout, nothing selected: everything
    doc = window.doc
    assert window.undo.undoText() == "Auto-layout 7 nodes"
    for e in doc.edges.values():  # every edge runs left to right
        assert doc.nodes[e.target].position[0] >= doc.nodes[e.source].position[0] + NODE_WIDTH
    r = rects(window)
    for p, q in itertools.combinations(r, 2):
        assert not r[p].intersects(r[q]), (p, q)
    assert crossings(window) == 0
    # the layout starts where the graph started (top-left), not somewhere far away
    assert min(n.position[0] for n in doc.nodes.values()) == min(p[0] for p in before.values())
    window.undo.undo()
    assert {n: node.position for n, node in doc.nodes.items()} == before
    assert window.scene.nodes["a"].pos().x() == before["a"][0]  # the canvas followed


def test_auto_layout_of_a_selection_moves_only_it(window):
    window.set_workflow(tangled(), None)
    scene = window.scene
    scene.select_only([scene.nodes["a"], scene.nodes["y"], scene.nodes["c"]])
    before = {n: node.position for n, node in window.doc.nodes.items()}
    window.act_layout.trigger()
    doc = window.doc
    moved = {n for n in doc.nodes if doc.nodes[n].position != before[n]}
    assert moved and moved <= {"a", "y", "c"}
    assert doc.nodes["a"].position[0] < doc.nodes["y"].position[0] < doc.nodes["c"].position[0]
    assert doc.nodes["a"].position[1] == doc.nodes["y"].position[1] == doc.nodes["c"].position[1]


def test_align_and_distribute_from_the_menu(window):
    window.set_workflow(tangled(), None)
    scene, doc = window.scene, window.doc
    ids = ["b", "c", "y", "z"]
    scene.select_only([scene.nodes[n] for n in ids])
    menu = {a.text().replace("&", ""): a for a in window.arrange_actions}
    menu["Align Left"].trigger()
    assert {doc.nodes[n].position[0] for n in ids} == {-300}
    assert window.undo.undoText() == "Align 4 nodes"
    menu["Distribute Vertically"].trigger()
    ys = sorted(doc.nodes[n].position[1] for n in ids)
    r = rects(window)
    tops = sorted((r[n].top(), r[n].bottom()) for n in ids)
    gaps = [round(b[0] - a[1], 1) for a, b in itertools.pairwise(tops)]
    assert max(gaps) - min(gaps) < 0.3 and min(gaps) > 0  # equal gaps, no overlap
    assert ys[0] == -400 and ys[-1] == 900  # the ends stay
    menu["Align Top"].trigger()
    assert {doc.nodes[n].position[1] for n in ids} == {-400}
    window.undo.undo()
    window.undo.undo()
    assert sorted(doc.nodes[n].position[1] for n in ids) == [-400, 0, 600, 900]


def test_align_needs_a_selection_and_says_so(window):
    window.set_workflow(tangled(), None)
    messages: list[str] = []
    window.editor.message.connect(messages.append)
    window.editor.align_selection("left")
    window.editor.distribute_selection("x")
    assert messages == ["Select two or more nodes to align them",
                        "Select three or more nodes to distribute them"]
    assert window.undo.count() == 0


def test_layout_actions_are_off_during_a_run_lock(window):
    window.live._set_busy(True)
    try:
        assert not window.act_layout.isEnabled()
    finally:
        window.live._set_busy(False)
    assert window.act_layout.isEnabled()
