"""Bring older workflow documents up to the current format, and node configs up to their block.

Two kinds of step (docs/file-format.md): format migrations rewrite the raw JSON of an older
file version before validation; block migrations hand each node's config to its block's
`migrate` when the node was written for an older block version. The model does not know
blocks: a loader passes a `BlockCatalog` (in practice `nopflow.blocks.get_block`). Neither
step mutates the caller's document or workflow.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Protocol

from nopflow.errors import WorkflowFileError
from nopflow.model.workflow import FORMAT_VERSION, Workflow

#: The oldest format version this nopflow can migrate from.
OLDEST_VERSION = 1


class MigrationProblem(Exception):
    """A document an upgrade step cannot take: what is wrong, and where (a JSON path)."""

    def __init__(self, message: str, json_path: str, node_index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.json_path = json_path
        self.node_index = node_index


#: One format step: the document of version N in, a new document of version N+1 out.
FormatMigration = Callable[[dict[str, Any]], dict[str, Any]]

#: Keys that first exist in format version 2: a version-1 file that has them is a mistake.
_V2_NODE_KEYS = ("version", "disabled", "cache", "pinned")
_V2_TOP_KEYS = ("triggers", "groups")
_V2_SETTINGS_KEYS = ("env_allow", "overlap")


def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 1 → 2: every node was written for version 1 of its block; nothing else moves.

    Version 2 only adds fields, so the one rewrite is each node's `version`; fields a
    version-1 file cannot have are refused rather than silently given version-2 meaning.
    """
    for key in _V2_TOP_KEYS:
        if key in doc:
            raise MigrationProblem(_new_in_v2(key), f"$.{key}")
    settings = doc.get("settings")
    if isinstance(settings, dict):
        for key in _V2_SETTINGS_KEYS:
            if key in settings:
                raise MigrationProblem(_new_in_v2(key), f"$.settings.{key}")
    out = dict(doc)
    nodes = doc.get("nodes")
    if isinstance(nodes, list):  # anything else is left for validation to report
        new_nodes: list[Any] = []
        for i, node in enumerate(nodes):
            if isinstance(node, dict):
                for key in _V2_NODE_KEYS:
                    if key in node:
                        raise MigrationProblem(_new_in_v2(key), f"$.nodes[{i}].{key}", i)
                node = {**node, "version": 1}
            new_nodes.append(node)
        out["nodes"] = new_nodes
    return out


def _new_in_v2(key: str) -> str:
    return f"'{key}' is new in format version 2; this file says \"version\": 1 (set it to 2)"


#: Format migrations from version N to N+1, applied in order to older documents.
FORMAT_MIGRATIONS: dict[int, FormatMigration] = {1: _v1_to_v2}


def migrate_document(doc: dict[str, Any], path: str | None = None) -> dict[str, Any]:
    """The document brought up to `FORMAT_VERSION` (a new dict; `doc` is left as it was).

    Refuses a version this nopflow does not know (newer, or older than any migration) and
    names the file and JSON path of anything a step cannot take.
    """
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise WorkflowFileError(
            path, f"'version' must be a whole number, found {version!r}", json_path="$.version"
        )
    if version > FORMAT_VERSION:
        raise WorkflowFileError(
            path,
            f"written by a newer nopflow (format version {version}); this nopflow reads "
            f"versions up to {FORMAT_VERSION}. Update nopflow to open it.",
            json_path="$.version",
        )
    if version < OLDEST_VERSION:
        raise WorkflowFileError(
            path, f"unknown format version {version}", json_path="$.version"
        )
    while version < FORMAT_VERSION:
        try:
            doc = FORMAT_MIGRATIONS[version](doc)
        except MigrationProblem as exc:
            raise WorkflowFileError(
                path, exc.message, json_path=exc.json_path, node_id=_node_id(doc, exc.node_index)
            ) from None
        version += 1
        doc["version"] = version
    return doc


def _node_id(doc: dict[str, Any], index: int | None) -> str | None:
    if index is None:
        return None
    node = doc["nodes"][index]
    node_id = node.get("id")
    return node_id if isinstance(node_id, str) and node_id else None


class VersionedBlock(Protocol):
    """What the block step needs of a block class (`nopflow.blocks.base.Block` has both)."""

    version: int

    def migrate(self, config: dict[str, Any], from_version: int) -> dict[str, Any]:
        """`config`, written for `from_version`, rewritten for the block's `version`."""
        ...


#: Looks a node `type` up; None for a type nobody installed (the compiler reports those).
BlockCatalog = Callable[[str], VersionedBlock | None]


def migrate_nodes(wf: Workflow, blocks: BlockCatalog, path: str | None = None) -> Workflow:
    """The workflow with every node's config at its installed block's version.

    A node without a version takes the block's; an older node's config goes through the
    block's `migrate` (given a copy); a node newer than its block is refused, naming it.
    Every problem is reported at once (one line each).
    """
    problems: list[WorkflowFileError] = []
    nodes = list(wf.nodes)
    changed = False
    for i, node in enumerate(wf.nodes):
        block = blocks(node.type)
        if block is None:
            continue
        current = block.version
        have = node.version
        if have == current:
            continue
        if have is None:
            nodes[i] = node.model_copy(update={"version": current})
        elif have > current:
            problems.append(WorkflowFileError(
                path,
                f"written for version {have} of block '{node.type}', but the installed block "
                f"is version {current}: update nopflow (or the plugin that provides "
                f"'{node.type}') to open it",
                json_path=f"$.nodes[{i}].version", node_id=node.id,
            ))
            continue
        else:
            try:
                config = block.migrate(copy.deepcopy(node.config), have)
            except Exception as exc:  # a block's own bug must not crash loading
                problems.append(WorkflowFileError(
                    path,
                    f"block '{node.type}' cannot migrate this config from version {have} "
                    f"to {current}: {exc or type(exc).__name__}",
                    json_path=f"$.nodes[{i}].config", node_id=node.id,
                ))
                continue
            if not isinstance(config, dict):
                problems.append(WorkflowFileError(
                    path,
                    f"block '{node.type}' migrated this config to a "
                    f"{type(config).__name__}, not an object",
                    json_path=f"$.nodes[{i}].config", node_id=node.id,
                ))
                continue
            nodes[i] = node.model_copy(update={"config": config, "version": current})
        changed = True
    if problems:
        first = problems[0]
        raise WorkflowFileError(
            path, first.detail, json_path=first.json_path, node_id=first.node_id,
            more=problems[1:],
        )
    return wf.model_copy(update={"nodes": nodes}) if changed else wf


def resolve_versions(wf: Workflow, blocks: BlockCatalog) -> Workflow:
    """The workflow with every node that has no `version` given its installed block's.

    For workflows built in code (an editor's new document, tests): their configs are
    already in today's shape, and a save should say which shape that is.
    """
    nodes = list(wf.nodes)
    changed = False
    for i, node in enumerate(wf.nodes):
        block = blocks(node.type) if node.version is None else None
        if block is not None:
            nodes[i] = node.model_copy(update={"version": block.version})
            changed = True
    return wf.model_copy(update={"nodes": nodes}) if changed else wf
