"""What is wrong with a workflow's triggers, every problem at once (docs/triggers.md).

The file format checks field types; these are the checks it cannot make: the cron
expression and time zone, the watched folder, the webhook's credential and path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nopflow.model import CronTrigger, FileTrigger, WebhookTrigger, Workflow
from nopflow.model.credentials import missing_credential_message
from nopflow.triggers.timing import TimingError, check_cron, zone

#: name -> (type, field names) of a stored credential, or None (as the compiler's catalog)
Catalog = Callable[[str], "tuple[str, tuple[str, ...]] | None"]


def webhook_path(wf: Workflow, trigger: WebhookTrigger) -> str:
    """The URL path a webhook trigger listens on (`/hooks/<workflow-id>` by default)."""
    return trigger.path or f"/hooks/{wf.id}"


def watched_folder(project_dir: Path, trigger: FileTrigger) -> Path:
    """The folder a file trigger watches, resolved against the project dir."""
    return (project_dir / trigger.path).resolve()


def trigger_problems(wf: Workflow, project_dir: Path | None,
                     catalog: Catalog | None = None) -> list[tuple[str, str]]:
    """(trigger id, message) for every problem of ``wf``'s triggers."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    routes: dict[tuple[str, str], str] = {}
    for trig in wf.triggers:
        if trig.id in seen:
            out.append((trig.id, "duplicate trigger id"))
            continue
        seen.add(trig.id)
        if isinstance(trig, CronTrigger):
            try:
                check_cron(trig.cron)
            except TimingError as exc:
                out.append((trig.id, str(exc)))
            try:
                zone(trig.timezone)
            except TimingError as exc:
                out.append((trig.id, str(exc)))
        elif isinstance(trig, FileTrigger):
            out.extend((trig.id, m) for m in _folder_problems(project_dir, trig))
        elif isinstance(trig, WebhookTrigger):
            path = webhook_path(wf, trig)
            if not path.startswith("/") or any(c in path for c in "?# "):
                out.append((trig.id, f"path '{path}': start it with '/' and leave out "
                                     "'?', '#' and spaces"))
            key = (trig.method, path)
            if key in routes:
                out.append((trig.id, f"{trig.method} {path} is also trigger "
                                     f"{routes[key]}'s: give one of them another path"))
            routes.setdefault(key, trig.id)
            out.extend((trig.id, m) for m in _credential_problems(trig.credential, catalog))
    return out


def _folder_problems(project_dir: Path | None, trig: FileTrigger) -> list[str]:
    if project_dir is None:
        return ["a file trigger watches a folder of the project: save the workflow first"]
    root = project_dir.resolve()
    folder = watched_folder(root, trig)
    if folder != root and root not in folder.parents:
        return [f"path '{trig.path}' is outside the project folder {root}: watch a folder "
                "inside it"]
    if not folder.is_dir():
        return [f"path '{trig.path}': folder {folder} does not exist (create it)"]
    return []


def _credential_problems(name: str, catalog: Catalog | None) -> list[str]:
    if catalog is None:
        return []
    found = catalog(name)
    if found is None:
        return [f"credential: {missing_credential_message(name)}"]
    if found[0] != "token":
        return [f"credential: '{name}' is a {found[0]} credential; a webhook needs a token "
                "credential (callers send it as 'Authorization: Bearer …')"]
    return []
