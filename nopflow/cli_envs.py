"""`nopflow lock FILE` and `nopflow envs list|prune`: script packages headless.

`lock` resolves every PEP 723 header of a workflow afresh and writes ``NAME.nopflow.lock``;
`envs` shows and cleans the environments built in the data dir (docs/script-packages.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from nopflow.cli import EXIT_FAILED, EXIT_INVALID, EXIT_OK, plural


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `lock` and `envs` on the top-level parser."""
    lock = sub.add_parser(
        "lock", help="resolve the packages of a workflow's scripts and write its lock",
        description="Resolve every script's PEP 723 header afresh (newest matching "
        "versions) and write NAME.nopflow.lock beside the workflow.")
    lock.add_argument("file", help="the workflow file")
    envs = sub.add_parser("envs", help="list or clean the built script environments")
    esub = envs.add_subparsers(dest="envs_command", parser_class=type(envs))
    elist = esub.add_parser("list", help="show built environments, most recently used first")
    elist.add_argument("--json", action="store_true", help="print them as JSON")
    prune = esub.add_parser(
        "prune", help="remove environments unused for a while or beyond a size bound",
        description="Remove environments unused for --older-than days, then the least "
        "recently used while the total exceeds --max-size (ones used within the hour stay).")
    prune.add_argument("--older-than", type=float, default=None, metavar="DAYS",
                       help="remove those unused for DAYS days (default 30)")
    prune.add_argument("--max-size", type=float, default=None, metavar="MB",
                       help="keep the total under MB megabytes (default 5000)")
    prune.add_argument("--all", action="store_true", help="remove every environment")
    prune.add_argument("--dry-run", action="store_true", help="only say what would go")


def _err(message: str) -> None:
    print(f"nopflow: {message}", file=sys.stderr)


def cmd_lock(args: argparse.Namespace) -> int:
    from nopflow.blocks import get_block
    from nopflow.engine.compiler import CompileError, compile_workflow
    from nopflow.envs.prepare import EnvironmentError_, lock_workflow
    from nopflow.errors import NopflowError
    from nopflow.model import load_workflow
    from nopflow.model.lockfile import lock_path

    project_dir = Path(args.file).resolve().parent
    try:
        wf = load_workflow(args.file, blocks=get_block)
        plan = compile_workflow(wf, project_dir, workflow_file=args.file)
    except CompileError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        _err(f"{args.file}: {plural(len(exc.problems), 'problem')}; nothing was locked")
        return EXIT_INVALID
    except NopflowError as exc:
        _err(str(exc))
        return EXIT_INVALID
    try:
        lock = lock_workflow(plan, args.file, wf.settings.python, project_dir,
                             lambda line: print(f"  packages: {line}", file=sys.stderr,
                                                flush=True))
    except EnvironmentError_ as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        _err(f"{args.file}: not locked")
        return EXIT_FAILED
    except NopflowError as exc:
        _err(str(exc))
        return EXIT_FAILED
    pins = sorted({p for e in lock.entries.values() for p in e.pins()})
    print(f"{lock_path(args.file)}: {plural(len(lock.entries), 'environment')}"
          + (f" ({', '.join(pins)})" if pins else ""), file=sys.stderr)
    return EXIT_OK


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def cmd_envs(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from nopflow.envs import store

    if args.envs_command == "list":
        envs = store.list_envs()
        if args.json:
            print(json.dumps([e.to_dict() for e in envs], indent=2))
            return EXIT_OK
        now = time.time()
        for env in envs:
            print(f"{env.key}  {env.size_bytes / 1e6:7.1f} MB  used {_age(now - env.last_used)}"
                  f"  {', '.join(env.packages) or '(no packages)'}")
        total = sum(e.size_bytes for e in envs)
        print(f"{plural(len(envs), 'environment')}, {total / 1e6:.1f} MB in {store.envs_dir()}",
              file=sys.stderr)
        return EXIT_OK
    if args.envs_command == "prune":
        gone = store.prune(
            max_age_days=store.MAX_AGE_DAYS if args.older_than is None else args.older_than,
            max_total_mb=store.MAX_TOTAL_MB if args.max_size is None else args.max_size,
            everything=args.all, dry_run=args.dry_run)
        verb = "would remove" if args.dry_run else "removed"
        for env in gone:
            print(f"{verb} {env.key} ({', '.join(env.packages) or 'no packages'})")
        freed = sum(e.size_bytes for e in gone) / 1e6
        print(f"{verb} {plural(len(gone), 'environment')}, {freed:.1f} MB", file=sys.stderr)
        return EXIT_OK
    parser.parse_args(["envs", "--help"])
    return EXIT_INVALID
