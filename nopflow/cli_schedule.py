"""`nopflow scheduler` and `nopflow schedule enable|disable|list|install|uninstall` (§13)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime, timezone
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def add_parsers(sub: Any) -> None:
    """The `scheduler` and `schedule` commands of the grammar (`nopflow.cli_args`)."""
    sch = sub.add_parser(
        "scheduler", help="run the triggers of every enabled workflow (foreground)",
        description="Fire the triggers of every enabled workflow until stopped (SIGTERM, "
                    "SIGINT or --duration); one line per fire or skip on stderr.")
    sch.add_argument("--duration", type=float, metavar="S",
                     help="stop after S seconds (fractions allowed; running runs are "
                          "cancelled and recorded)")
    sch.add_argument("--port", type=int, default=8787, help="webhook port (default 8787)")
    sch.add_argument("--host", default="127.0.0.1",
                     help="webhook address (default 127.0.0.1: this machine only)")

    sched = sub.add_parser("schedule", help="choose which workflows the scheduler runs",
                           description="Enable or disable workflows for `nopflow scheduler`, "
                                       "list them, or start the scheduler at login.")
    what = sched.add_subparsers(dest="schedule_command", metavar="ACTION")
    on = what.add_parser("enable", help="let the scheduler run this workflow's triggers")
    on.add_argument("file", help="the workflow file")
    off = what.add_parser("disable", help="stop scheduling this workflow")
    off.add_argument("file", help="the workflow file")
    lst = what.add_parser("list", help="enabled workflows, their triggers and next fires")
    lst.add_argument("--json", action="store_true", help="print the list as JSON")
    what.add_parser("install", help="start `nopflow scheduler` at login (systemd user unit, "
                                    "launchd agent or Task Scheduler task)")
    what.add_parser("uninstall", help="stop starting the scheduler at login")


def _err(message: str) -> None:
    print(f"nopflow: {message}", file=sys.stderr)


def cmd_scheduler(args: argparse.Namespace) -> int:
    from nopflow.errors import NopflowError
    from nopflow.triggers.scheduler import TriggerScheduler

    if args.duration is not None and args.duration < 0:
        _err("--duration must be 0 or more seconds")
        return EXIT_INVALID

    async def main() -> None:
        await TriggerScheduler(host=args.host, port=args.port).run(args.duration)

    try:
        asyncio.run(main())
    except NopflowError as exc:
        _err(str(exc))
        return EXIT_INVALID
    return EXIT_OK


def _load(file: str) -> Any:
    from nopflow.blocks import get_block
    from nopflow.model import load_workflow

    return load_workflow(file, blocks=get_block)


def listing() -> list[dict[str, Any]]:
    """`schedule list --json`: each enabled file with its triggers' next three fire times."""
    from nopflow.errors import NopflowError
    from nopflow.triggers import registry
    from nopflow.triggers.timing import TimingError, next_times

    running = registry.running_scheduler()
    started = (datetime.fromtimestamp(running["started_at"], timezone.utc)
               if running and isinstance(running.get("started_at"), (int, float)) else None)
    now = datetime.now(timezone.utc)
    out = []
    for file in registry.enabled_files():
        item: dict[str, Any] = {"file": file, "workflow_id": None, "name": None,
                                "triggers": []}
        try:
            wf = _load(file)
        except NopflowError as exc:
            item["error"] = str(exc).splitlines()[0]
            out.append(item)
            continue
        item["workflow_id"], item["name"] = wf.id, wf.name
        for trig in wf.triggers:
            row: dict[str, Any] = {"id": trig.id, "type": trig.type, "enabled": trig.enabled}
            try:
                row["next"] = [t.isoformat() for t in next_times(trig, now, 3, started)] \
                    if trig.enabled else []
            except TimingError as exc:
                row["next"], row["error"] = [], str(exc)
            item["triggers"].append(row)
        out.append(item)
    return out


def cmd_schedule(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from nopflow.errors import NopflowError
    from nopflow.triggers import registry

    action = args.schedule_command
    try:
        if action in ("enable", "disable"):
            if action == "enable":
                try:
                    wf = _load(args.file)
                except NopflowError as exc:
                    _err(str(exc))
                    return EXIT_INVALID
                changed = registry.enable(args.file)
                running = registry.running_scheduler()
                note = "" if running else " (no scheduler is running: start `nopflow " \
                                          "scheduler` or `nopflow schedule install`)"
                word = "enabled" if changed else "already enabled"
                count = sum(t.enabled for t in wf.triggers)
                print(f"{args.file}: {word}, {count} trigger(s){note}", file=sys.stderr)
            else:
                changed = registry.disable(args.file)
                print(f"{args.file}: {'disabled' if changed else 'was not enabled'}",
                      file=sys.stderr)
            return EXIT_OK
        if action == "list":
            return _print_list(listing(), args.json, registry.running_scheduler())
        if action in ("install", "uninstall"):
            from nopflow.triggers import autostart

            message = autostart.install() if action == "install" else autostart.uninstall()
            print(message)
            return EXIT_OK
    except NopflowError as exc:
        _err(str(exc))
        return EXIT_INVALID
    parser.parse_args(["schedule", "--help"])
    return EXIT_INVALID


def _print_list(items: list[dict[str, Any]], as_json: bool, running: Any) -> int:
    if as_json:
        print(json.dumps(items, indent=2))
        return EXIT_OK
    if running:
        print(f"scheduler: running (pid {running['owner'].get('pid')}, webhooks on "
              f"{running.get('host')}:{running.get('port')})")
    else:
        print("scheduler: not running (start `nopflow scheduler`, or `nopflow schedule "
              "install` to start it at login)")
    if not items:
        print("no workflow is enabled (nopflow schedule enable FILE)")
    for item in items:
        title = f"{item['name']} ({item['file']})" if item["name"] else item["file"]
        print(title)
        if item.get("error"):
            print(f"  cannot load: {item['error']}")
        for trig in item["triggers"]:
            state = "" if trig["enabled"] else " (disabled)"
            nxt = ", ".join(trig["next"]) if trig["next"] else "on demand"
            if trig.get("error"):
                nxt = trig["error"]
            print(f"  {trig['id']} [{trig['type']}]{state}: {nxt}")
        if not item["triggers"] and not item.get("error"):
            print("  no triggers")
    return EXIT_OK

