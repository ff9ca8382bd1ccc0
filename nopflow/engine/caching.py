"""The run side of the cache (docs/partial-runs.md): a key per node start, a look-up, a keep.

Only nodes with ``"cache": true`` take part, and only when the run was given an
`OutputCache` (``--no-cache`` gives none). Upstream outputs enter a key by their digest,
which the store computes once per top-level node and the run remembers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from nopflow.blocks import CheckContext
from nopflow.engine.cache_key import (
    NodeReads,
    cache_key,
    inputs_part,
    node_reads,
    static_parts,
)
from nopflow.engine.reuse import CacheHit, OutputCache

if TYPE_CHECKING:
    from nopflow.engine.runner import Run
    from nopflow.engine.scheduling import Group, NodePlan

log = logging.getLogger(__name__)


class NodeCache:
    """Keys, look-ups and keeps for one run's cached nodes."""

    def __init__(self, run: Run, cache: OutputCache) -> None:
        self._run = run
        self._cache = cache
        self._static: dict[str, tuple[NodeReads, dict[str, str]]] = {}
        ctx = CheckContext(project_dir=run._project_dir, python=run.workflow.settings.python)
        for nid, cn in run.plan.nodes.items():
            if not cn.node.cache:
                continue
            try:
                self._static[nid] = (node_reads(cn.block, cn.node.config),
                                     static_parts(cn.node, cn.block, ctx))
            except Exception:  # a key that cannot be made means: this node runs
                log.exception("node %s: no cache key (it runs uncached)", nid)

    def wants(self, nid: str) -> bool:
        return nid in self._static

    def key(self, g: Group, st: NodePlan, by_node: dict[str, Any]) -> str:
        """The node's cache key for this start (its parts kept on the run)."""
        run = self._run
        reads, static = self._static[st.id]
        secret = run.workflow.secret_inputs()
        scalars = {
            "input": {k: "***" if k in secret else v for k, v in run.inputs.items()},
            "vars": run.vars,
            "loop": g.loop,
            "env": {k: run.redactor.text(v) for k, v in (run._env or {}).items()},
        }
        top = g is self._scheduler_top()
        parts = {**static, "inputs": inputs_part(
            by_node, reads, g.scope_nodes,
            self.digest_top if top else self._digest_value, scalars)}
        if top:
            run.cache_parts[st.id] = parts
        return cache_key(parts)

    def lookup(self, key: str) -> CacheHit | None:
        try:
            return self._cache.lookup(key)
        except Exception:
            log.exception("cache look-up failed (the node runs)")
            return None

    def keep(self, g: Group, nid: str, key: str, output: Any,
             ports: frozenset[str] | None) -> None:
        try:
            digest = (self.digest_top(nid, output) if g is self._scheduler_top()
                      else self._digest_value(nid, output))
            self._cache.keep(key, digest, ports)
        except Exception:
            log.exception("node %s: keeping its output in the cache failed", nid)

    def digest_top(self, nid: str, value: Any) -> str:
        """A top-level node's output digest (computed by the store at most once)."""
        digests = self._run.output_digests
        found = digests.get(nid)
        if found is None:
            found = digests[nid] = self._digest_value(nid, value)
        return found

    def _digest_value(self, _nid: str, value: Any) -> str:
        """The store keeps what it hashes, so it gets the value with secrets hidden."""
        red = self._run.redactor
        return self._cache.digest(red.value(value) if red else value)

    def _scheduler_top(self) -> Group | None:
        return self._run._scheduler.top
