"""What a run takes from outside (docs/partial-runs.md): where a partial run starts, pins, the
cache, and the output store it keeps its outputs in. The CLI (`--from`, `--only`,
`--retry-failed`, `--pins`, `--no-cache`) and the editor (Run from here, Run this node,
Re-run failed) both build their runs' seeds here; it sits beside the CLI because it joins
the engine and storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nopflow.engine.compiler import Plan
from nopflow.engine.reuse import (
    OutputCache,
    Seeds,
    plan_seeds,
    run_set_from,
    run_set_only,
    run_set_retry,
)
from nopflow.errors import NopflowError
from nopflow.storage.history import HistoryStore
from nopflow.storage.outputs import OutputRecorder, OutputStore

_ONGOING = ("running", "paused")


class ReuseRefused(NopflowError):
    """A partial run that cannot be made: an unknown --from/--only node, no run to retry."""


@dataclass(frozen=True)
class ReuseOptions:
    """Where a run starts and what it takes from outside (the `reuse_for` arguments)."""

    start: str | None = None
    only: tuple[str, ...] = ()
    retry: bool = False
    pins: bool = False
    use_cache: bool = True


@dataclass
class Reuse:
    """A run's seeds, pins and cache, and the one-line notes to print before it starts."""

    seeds: Seeds | None = None
    pins: dict[str, Any] = field(default_factory=dict)
    cache: OutputCache | None = None
    notes: list[str] = field(default_factory=list)


def _node(plan: Plan, flag: str, nid: str) -> str:
    if nid not in plan.nodes:
        known = ", ".join(sorted(plan.nodes))
        raise ReuseRefused(f"{flag}: the workflow has no node '{nid}' (its nodes: {known})")
    return nid


def reuse_for(plan: Plan, store: OutputStore, history: HistoryStore, *,
              start: str | None = None, only: list[str] | tuple[str, ...] = (),
              retry: bool = False, pins: bool = False, use_cache: bool = True) -> Reuse:
    """Seeds/pins/cache for a run. ReuseRefused: a node that is not there or no run to retry;
    NotKeptError: a needed output is not kept (both before anything runs)."""
    wf = plan.workflow
    out = Reuse()
    pinned = {n.id: n.pinned for n in wf.nodes if n.is_pinned}
    if pins:
        out.pins = pinned
    elif pinned:
        names = ", ".join(sorted(pinned))
        out.notes.append(f"note: pinned output ignored on {len(pinned)} "
                         f"node{'s' if len(pinned) != 1 else ''} ({names}); "
                         "add --pins to apply pins")
    if use_cache and any(n.cache for n in wf.nodes):
        out.cache = store.cache_for(wf.id)
    if start is None and not only and not retry:
        return out
    runs = [r for r in history.list_runs(wf.id) if r.status not in _ONGOING]
    if start is not None:
        runnable = run_set_from(plan, _node(plan, "--from", start))
    elif only:
        runnable = run_set_only(plan, [_node(plan, "--only", n) for n in only])
    else:
        if not runs:
            raise ReuseRefused("--retry-failed: this workflow has no kept run: run the whole "
                             "workflow first")
        latest = runs[0]
        runnable = run_set_retry(plan, {nid: n.status for nid, n in latest.nodes.items()})
        if not runnable:
            out.notes.append(f"note: run {latest.run_id} had no failed, cancelled or skipped "
                             "node: every node is reused")
    ids = [r.run_id for r in runs]
    kept = store.seed_finder(wf.id, ids)
    out.seeds = plan_seeds(plan, runnable, kept, pinned=out.pins,
                           kept_vars=store.kept_vars(wf.id, ids[0]) if ids else None)
    return out


def output_recorder(run: Any, plan: Plan, project_dir: Path, store: OutputStore,
                    history: HistoryStore) -> OutputRecorder:
    """Keeps the run's outputs at its end, with each node's key parts and the bound."""
    from nopflow.engine.cache_key import all_static_parts

    def live(workflow_id: str) -> set[str] | None:
        return {r.run_id for r in history.list_runs(workflow_id)}

    def parts() -> dict[str, dict[str, str]]:
        return all_static_parts(plan, project_dir)

    return OutputRecorder(run, store, parts=parts, live_runs=live)
