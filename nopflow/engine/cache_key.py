"""A node's cache key (docs/partial-runs.md), kept as named parts so a miss can say why.

The parts: ``config`` (block type, version and the config as written: inline code and
credential *names*, never values), the block's own facts (a script file's content, the
interpreter's path and version) and ``inputs`` (the digests of `$prev`'s sources and every
`$node`/`$vars`/`$input`/`$loop`/`$env` value its config reads). Upstream outputs are
hashed by the store once (their digest), never serialised again for a key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nopflow.engine import expressions as ex

if TYPE_CHECKING:
    from nopflow.blocks import Block, CheckContext
    from nopflow.model import Node

_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                            default=str)
#: what a miss says for each part that differs
REASONS = {
    "config": "config changed",
    "inputs": "input changed",
    "script": "script file changed",
    "interpreter": "interpreter changed",
}


def value_digest(value: Any) -> str:
    """sha256 of a value's canonical JSON, streamed (the text is never held whole)."""
    h = hashlib.sha256()
    for chunk in _ENCODER.iterencode(value):
        h.update(chunk.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class NodeReads:
    """What a node's config reads besides `$prev` (worked out once per run)."""

    node_refs: tuple[str, ...]
    roots: frozenset[str]


def node_reads(block: type[Block], config: Mapping[str, Any]) -> NodeReads:
    """The `$node` ids and roots a node's templates and bare expressions read."""
    from nopflow.engine.compiler import templated_config

    templ = templated_config(block, dict(config))
    refs = set(ex.node_refs(templ))
    roots = set(ex.roots_used(templ))
    from nopflow.engine.compiler import _bare_expressions

    for expr in _bare_expressions(block, templ):
        refs |= expr.node_refs
        roots |= expr.roots
    return NodeReads(tuple(sorted(refs)), frozenset(roots))


def static_parts(node: Node, block: type[Block], ctx: CheckContext) -> dict[str, str]:
    """The parts of the key that do not depend on the run's data."""
    parts = {"config": value_digest(
        {"type": node.type, "version": block.version, "config": node.config})}
    parts.update(block.cache_facts(block.Config.model_validate(node.config), ctx))
    return parts


def inputs_part(
    by_node: Mapping[str, Any],
    reads: NodeReads,
    scope_nodes: Mapping[str, Any],
    digest_of: Callable[[str, Any], str],
    scalars: Mapping[str, Any],
) -> str:
    """The ``inputs`` part: upstream outputs by digest, other roots by value."""
    h = hashlib.sha256()
    for src, value in by_node.items():
        h.update(f"prev:{src}={digest_of(src, value)};".encode())
    for ref in reads.node_refs:
        if ref in scope_nodes:
            h.update(f"node:{ref}={digest_of(ref, scope_nodes[ref])};".encode())
    for root in ("input", "vars", "loop", "env"):
        if root in reads.roots:
            h.update(f"{root}={value_digest(scalars.get(root))};".encode())
    return h.hexdigest()


def cache_key(parts: Mapping[str, str]) -> str:
    """The key itself: one digest of every part."""
    return value_digest(dict(parts))


def stale_reasons(now: Mapping[str, str], kept: Mapping[str, str]) -> list[str]:
    """Why a kept output no longer fits: one reason per part that differs."""
    out = []
    for name in sorted(set(now) | set(kept)):
        if now.get(name) != kept.get(name):
            out.append(REASONS.get(name, f"{name} changed"))
    return out




def all_static_parts(plan: Any, project_dir: Any) -> dict[str, dict[str, str]]:
    """Every node's data-independent key parts: what the stale view compares later."""
    from nopflow.blocks import CheckContext

    ctx = CheckContext(project_dir=project_dir, python=plan.workflow.settings.python)
    out: dict[str, dict[str, str]] = {}
    for nid, cn in plan.nodes.items():
        try:
            out[nid] = static_parts(cn.node, cn.block, ctx)
        except Exception:  # a part that cannot be worked out is simply not compared
            continue
    return out


__all__ = ["NodeReads", "all_static_parts", "cache_key", "inputs_part", "node_reads",
           "stale_reasons", "static_parts", "value_digest"]
