"""The shapes of outputs a run takes from outside (docs/partial-runs.md): kept, cached.

In the model so storage (which produces them) and the engine (which consumes them through
its `OutputCache` protocol, `nopflow.engine.reuse`) share them without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Seed:
    """A node's output kept by run ``run_id``: the node does not run, it is `reused`."""

    output: Any
    run_id: str
    #: the output ports that fired in that run (a condition's branch); None = all
    ports: frozenset[str] | None = None
    #: the output's content digest in the store, when known (saves hashing it again)
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class Seeds:
    """What a partial run takes from past runs: outputs by node, and nodes it leaves out."""

    nodes: Mapping[str, Seed] = field(default_factory=dict)
    #: nodes outside the run set with no kept output nothing needs: they end `skipped`
    left_out: frozenset[str] = frozenset()
    #: `$vars` as the seeding run left them (set blocks that are reused still count)
    vars: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CacheHit:
    """A stored output whose cache key matched."""

    output: Any
    digest: str
    ports: frozenset[str] | None = None
