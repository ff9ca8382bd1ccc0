"""Helpers for engine tests: build workflows from short specs and run them."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from nopflow.engine.events import Event
from nopflow.engine.runner import Run
from nopflow.model import Workflow


def make_wf(
    nodes: list[tuple[str, str, dict[str, Any]] | tuple[str, str, dict[str, Any], dict[str, Any]]],
    edges: list[str | tuple[str, str]],
    **settings: Any,
) -> Workflow:
    """nodes: (id, type, config[, extra node fields]); edges: "a->b" or "a.port->b"."""
    doc_nodes = []
    for spec in nodes:
        nid, ntype, config = spec[0], spec[1], spec[2]
        extra = spec[3] if len(spec) > 3 else {}  # type: ignore[misc]
        doc_nodes.append({"id": nid, "type": ntype, "config": config, **extra})
    doc_edges = []
    for i, e in enumerate(edges):
        text = e if isinstance(e, str) else f"{e[0]}->{e[1]}"
        src, dst = text.split("->")
        port = "out"
        if "." in src:
            src, port = src.split(".")
        doc_edges.append({"id": f"e{i}", "source": src, "source_port": port, "target": dst})
    doc: dict[str, Any] = {"nodes": doc_nodes, "edges": doc_edges}
    for key in ("inputs", "variables", "name", "id"):
        if key in settings:
            doc[key] = settings.pop(key)
    doc["settings"] = settings
    return Workflow.model_validate(doc)


def chain(*ids: str) -> list[str]:
    return [f"{a}->{b}" for a, b in itertools.pairwise(ids)]


async def run_wf(wf: Workflow, events: list[Event] | None = None,
                 control: Callable[[Run], Any] | None = None, **kw: Any) -> Run:
    run = Run(wf, **kw)
    if events is not None:
        run.events.subscribe(events.append)
    if control is not None:
        control(run)
    return await run.execute()


def states(run: Run) -> dict[str, str]:
    return {nid: rec.state.value for nid, rec in run.nodes.items()}

