"""`nopflow history FILE [--json]`: the kept runs of a workflow, newest first (docs/history.md)."""

from __future__ import annotations

import argparse
import sys

from nopflow.cli import EXIT_INVALID, EXIT_OK, first_line, plural
from nopflow.model import strict_json


def cmd_history(args: argparse.Namespace) -> int:
    """Print the kept runs as a table (or `--json`: a list of run records)."""
    from nopflow.errors import NopflowError
    from nopflow.model import load_workflow
    from nopflow.storage.history import HistoryStore

    try:
        wf = load_workflow(args.file)
        store = HistoryStore()
        runs = store.list_runs(wf.id)
    except NopflowError as exc:
        print(f"nopflow: {exc}", file=sys.stderr)
        return EXIT_INVALID
    # store.warnings (a corrupt file set aside) were logged as they happened
    if getattr(args, "json", False):
        print(strict_json.dumps([r.to_dict() for r in runs], indent=2, default=str))
        return EXIT_OK
    if not runs:
        print(f"{wf.name}: no runs kept yet", file=sys.stderr)
        return EXIT_OK
    print(f"{wf.name} ({wf.id}): {plural(len(runs), 'run')}, newest first")
    print(f"history file: {store.path_for(wf.id)}")
    for r in runs:
        secs = f"{r.duration_ms / 1000:.2f}s" if r.duration_ms is not None else "-"
        print(f"\n{r.started_at or '-'}  {r.status:<11}  {secs:>8}  run {r.run_id}")
        if r.workflow_file:
            print(f"  from {r.workflow_file}")
        if r.error:
            print(f"  error: {r.error}")
        width = max((len(nid) for nid in r.nodes), default=4)
        for nid, n in r.nodes.items():
            dur = f"{n.duration_ms / 1000:.2f}s" if n.duration_ms is not None else "-"
            tries = f" x{n.attempts}" if n.attempts > 1 else ""
            err = f"  {first_line(n.error)}" if first_line(n.error) else ""
            print(f"  {nid:<{width}}  {n.status:<9} {dur:>8}{tries}{err}")
    return EXIT_OK
