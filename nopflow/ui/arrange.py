"""Arranging nodes: layered auto-layout (left to right), align and distribute.

Pure geometry over ids, sizes and edges (no Qt), so the editor turns each result into one
undoable move. Layers come from networkx (a node sits one column right of its furthest
predecessor); the order inside each column is found by barycentre sweeps, the usual
Sugiyama crossing reduction. grandalf implements the same, but has had no release since
2023 and its Python loops are slower here than these few lines over networkx's layering.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

import networkx as nx

Point = tuple[float, float]
#: space between columns and between nodes in a column (scene units)
COLUMN_GAP, ROW_GAP = 90.0, 40.0
#: barycentre sweeps (down and up count as one each); more rarely changes anything
SWEEPS = 8


def layered_layout(
    ids: Iterable[str], edges: Iterable[tuple[str, str]], sizes: Mapping[str, Point],
    origin: Point, current: Mapping[str, Point],
) -> dict[str, Point]:
    """New top-left positions: columns by dependency, ordered to keep edges from crossing.

    `edges` between ids outside `ids` are ignored; `current` positions break ties (a
    column starts in the order the user had), `origin` is the result's top-left corner.
    """
    nodes = list(dict.fromkeys(ids))
    keep = set(nodes)
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from((a, b) for a, b in edges if a in keep and b in keep and a != b)
    layers = [sorted(layer, key=lambda n: (current[n][1], current[n][0], n))
              for layer in nx.topological_generations(g)]
    _reduce_crossings(g, layers)
    for layer in layers:  # unconnected nodes go below the connected ones, not between them
        layer.sort(key=lambda n: g.degree(n) == 0)
    width = max((sizes[n][0] for n in nodes), default=0.0)
    heights = [sum(sizes[n][1] for n in layer) + ROW_GAP * (len(layer) - 1)
               for layer in layers]
    tallest = max(heights, default=0.0)
    out: dict[str, Point] = {}
    for col, (layer, h) in enumerate(zip(layers, heights, strict=True)):
        x = origin[0] + col * (width + COLUMN_GAP)
        y = origin[1] + (tallest - h) / 2  # each column centred on one middle line
        for n in layer:
            out[n] = (x, y)
            y += sizes[n][1] + ROW_GAP
    return out


def _reduce_crossings(g: nx.DiGraph, layers: list[list[str]]) -> None:
    """Reorder each layer by the mean position of its neighbours in the layer before it."""
    best, best_cross = [list(layer) for layer in layers], count_crossings(g, layers)
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        rng = range(1, len(layers)) if down else range(len(layers) - 2, -1, -1)
        for i in rng:
            ref = layers[i - 1] if down else layers[i + 1]
            pos = {n: k for k, n in enumerate(ref)}
            here = {n: k for k, n in enumerate(layers[i])}
            key = {n: _barycentre(g.predecessors(n) if down else g.successors(n), pos,
                                  float(here[n])) for n in layers[i]}
            layers[i].sort(key=key.__getitem__)
        cross = count_crossings(g, layers)
        if cross < best_cross:
            best, best_cross = [list(layer) for layer in layers], cross
    layers[:] = best


def _barycentre(neighbours: Iterable[str], pos: Mapping[str, int], default: float) -> float:
    ks = [pos[m] for m in neighbours if m in pos]
    return sum(ks) / len(ks) if ks else default


def count_crossings(g: nx.DiGraph, layers: list[list[str]]) -> int:
    """Edge crossings between neighbouring layers (edges that skip layers are not counted)."""
    total = 0
    for a, b in itertools.pairwise(layers):
        pa = {n: k for k, n in enumerate(a)}
        pb = {n: k for k, n in enumerate(b)}
        pairs = sorted((pa[u], pb[v]) for u in a for v in g.successors(u) if v in pb)
        for i, (ua, va) in enumerate(pairs):
            total += sum(1 for ub, vb in pairs[i + 1:] if ub != ua and vb < va)
    return total


def align(positions: Mapping[str, Point], sizes: Mapping[str, Point],
          edge: str) -> dict[str, Point]:
    """Line nodes up on one side: "left", "right", "top", "bottom", or a centre line
    ("hcenter": one vertical line through the centres, "vcenter": one horizontal line)."""
    if edge == "left":
        x = min(p[0] for p in positions.values())
        return {n: (x, p[1]) for n, p in positions.items()}
    if edge == "right":
        x = max(p[0] + sizes[n][0] for n, p in positions.items())
        return {n: (x - sizes[n][0], p[1]) for n, p in positions.items()}
    if edge == "top":
        y = min(p[1] for p in positions.values())
        return {n: (p[0], y) for n, p in positions.items()}
    if edge == "bottom":
        y = max(p[1] + sizes[n][1] for n, p in positions.items())
        return {n: (p[0], y - sizes[n][1]) for n, p in positions.items()}
    if edge == "hcenter":
        cx = sum(p[0] + sizes[n][0] / 2 for n, p in positions.items()) / len(positions)
        return {n: (cx - sizes[n][0] / 2, p[1]) for n, p in positions.items()}
    if edge == "vcenter":
        cy = sum(p[1] + sizes[n][1] / 2 for n, p in positions.items()) / len(positions)
        return {n: (p[0], cy - sizes[n][1] / 2) for n, p in positions.items()}
    raise ValueError(f"unknown alignment {edge!r}")


def distribute(positions: Mapping[str, Point], sizes: Mapping[str, Point],
               axis: str) -> dict[str, Point]:
    """Equal gaps between nodes along "x" or "y"; the first and last stay where they are."""
    k = 0 if axis == "x" else 1
    order = sorted(positions, key=lambda n: (positions[n][k], n))
    if len(order) < 3:
        return dict(positions)
    first, last = order[0], order[-1]
    span = positions[last][k] + sizes[last][k] - positions[first][k]
    gap = (span - sum(sizes[n][k] for n in order)) / (len(order) - 1)
    out = dict(positions)
    at = positions[first][k]
    for n in order:
        p = list(positions[n])
        p[k] = at
        out[n] = (p[0], p[1])
        at += sizes[n][k] + gap
    return out
