"""Outputs a run takes from outside instead of running nodes (docs/partial-runs.md).

The engine defines the shapes and the protocol; storage implements them (the engine never
imports storage). A partial run gets `Seeds` (outputs kept by past runs), an editor or
``run --pins`` run gets pins, and a run with the cache on gets an `OutputCache`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import networkx as nx

from nopflow.errors import NopflowError
from nopflow.model.seeds import CacheHit, Seed, Seeds

if TYPE_CHECKING:
    from nopflow.engine.compiler import Plan


class OutputCache(Protocol):
    """The store side of the cache, as a run uses it (storage implements it)."""

    def digest(self, value: Any) -> str:
        """The content digest of ``value`` (keeping it in the store on the way)."""
        ...

    def lookup(self, key: str) -> CacheHit | None:
        """The output stored under a cache key, or None (a damaged entry is a miss)."""
        ...

    def keep(self, key: str, digest: str, ports: frozenset[str] | None) -> None:
        """Remember that ``key`` gave the output with ``digest``."""
        ...


class NotKeptError(NopflowError):
    """A partial run needs outputs no kept run has; ``node_ids`` lists them all."""

    def __init__(self, node_ids: list[str]) -> None:
        self.node_ids = node_ids
        super().__init__("\n".join(
            f"node {nid} has no kept output: run the whole workflow first" for nid in node_ids))


def top_level_of(plan: Plan, node_id: str) -> str:
    """The top-level node a node runs under: itself, or the outermost loop holding it."""
    nid = node_id
    while plan.nodes[nid].loop is not None:
        nid = plan.nodes[nid].loop  # type: ignore[assignment]
    return nid


def run_set_from(plan: Plan, node_id: str) -> set[str]:
    """`--from NODE`: the node (or the loop holding it) and everything downstream."""
    top = top_level_of(plan, node_id)
    return {top, *nx.descendants(plan.graph, top)}


def run_set_only(plan: Plan, node_ids: Iterable[str]) -> set[str]:
    """`--only NODE…`: just those nodes (a node inside a loop body runs its loop)."""
    return {top_level_of(plan, nid) for nid in node_ids}


def run_set_retry(plan: Plan, statuses: Mapping[str, str]) -> set[str]:
    """`--retry-failed`: the latest run's failed, cancelled and skipped nodes (and nodes it
    did not have) with everything downstream of them."""
    out: set[str] = set()
    for nid in plan.top_level:
        if statuses.get(nid, "pending") not in ("success",):
            out |= run_set_from(plan, nid)
    return out


def plan_seeds(
    plan: Plan,
    runs: Collection[str],
    kept: Callable[[str], Seed | None],
    pinned: Collection[str] = (),
    kept_vars: Mapping[str, Any] | None = None,
) -> Seeds:
    """Seeds for every top-level node outside ``runs``; `NotKeptError` listing each needed
    node (an ancestor of one that runs) that has no kept output."""
    nodes: dict[str, Seed] = {}
    left_out: set[str] = set()
    missing: list[str] = []
    needed: set[str] = set()
    for nid in runs:
        if nid in plan.nodes:
            needed |= plan.ancestors[nid]
    for nid in plan.top_level:
        if nid in runs or nid in pinned:
            continue
        seed = kept(nid)
        if seed is not None:
            nodes[nid] = seed
        elif nid in needed:
            missing.append(nid)
        else:
            left_out.add(nid)
    if missing:
        raise NotKeptError(missing)
    return Seeds(nodes=nodes, left_out=frozenset(left_out), vars=dict(kept_vars or {}))


__all__ = [
    "CacheHit",
    "NotKeptError",
    "OutputCache",
    "Seed",
    "Seeds",
    "plan_seeds",
    "run_set_from",
    "run_set_only",
    "run_set_retry",
    "top_level_of",
]
