"""Reading and writing workflow files: strict decoding, clear errors, migration, atomic save.

Loading never raises anything but `WorkflowFileError` for a bad file: every failure names
the file and, where known, the line/column, the JSON path and the node id, so a person can
fix it without a traceback.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from nopflow.errors import WorkflowFileError
from nopflow.model import strict_json, temps
from nopflow.model.migrate import BlockCatalog, migrate_document, migrate_nodes
from nopflow.model.workflow import FORMAT, TRIGGER_TYPES, Workflow

#: Workflow files beyond this size are refused before parsing (a 5,000-node file is ~2 MB).
MAX_FILE_BYTES = 16 * 2**20

SUFFIX = ".nopflow.json"


def json_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic/JSON location like ('nodes', 2, 'config') as `$.nodes[2].config`."""
    return strict_json.json_path(loc)


def _node_id_at(doc: Any, loc: tuple[int | str, ...]) -> str | None:
    """The id of the node a location points into, if it points into `nodes[i]`."""
    if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
        try:
            node_id = doc["nodes"][loc[1]].get("id")
        except (KeyError, IndexError, TypeError, AttributeError):
            return None
        return node_id if isinstance(node_id, str) and node_id else None
    return None


def _describe_validation_error(exc: ValidationError) -> list[tuple[tuple[int | str, ...], str]]:
    """pydantic errors as (location, human message) pairs, in file order."""
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(err.get("loc", ()))
        # Drop pydantic's union/literal tags like 'function-after[...]' from the path.
        loc = tuple(p for p in loc if not (isinstance(p, str) and "[" in p and p.endswith("]")))
        msg = err.get("msg", "invalid value")
        if err.get("type") == "extra_forbidden":
            msg = f"unknown field '{loc[-1]}'" if loc else "unknown field"
        elif err.get("type") == "missing":
            msg = "required field is missing"
        elif err.get("type") == "union_tag_not_found":
            kinds = f" (one of: {', '.join(TRIGGER_TYPES)})" if loc[:1] == ("triggers",) else ""
            msg = f"'type' is missing{kinds}"
        out.append((loc, msg))
    return out


def stable_id_for(path: str) -> str:
    """The id of a workflow file written without one: stable for that file's location.

    History is keyed by workflow id, so a random id per load would lose every run; the
    editor writes this id into the file on its next save, which makes it permanent.
    """
    return uuid.uuid5(uuid.NAMESPACE_URL, "file://" + os.path.abspath(path)).hex


def parse_workflow(
    data: bytes | str, path: str | None = None, blocks: BlockCatalog | None = None
) -> Workflow:
    """Decode, migrate and validate a workflow document; raise `WorkflowFileError` on any fault.

    With `blocks`, node configs are also brought up to their installed block's version.
    """
    return workflow_from_document(decode_json_file(data, path), path, blocks)


def decode_json_file(data: bytes | str, path: str | None = None) -> Any:
    """Strict JSON of a file's bytes (UTF-8, no NaN, bounded size and nesting); raise
    `WorkflowFileError` naming what is wrong. Also reads the editor's autosave copies."""
    if isinstance(data, bytes):
        if len(data) > MAX_FILE_BYTES:
            raise WorkflowFileError(
                path,
                f"file is {len(data) / 2**20:.1f} MB; workflow files are limited to "
                f"{MAX_FILE_BYTES // 2**20} MB",
            )
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise WorkflowFileError(
                path, f"not UTF-8 text (invalid byte at offset {exc.start})"
            ) from None
    else:
        text = data
    if not text.strip():
        raise WorkflowFileError(path, "file is empty")
    try:
        doc = strict_json.loads(text)
    except strict_json.StrictJSONError as exc:
        raise WorkflowFileError(path, f"invalid JSON: {exc.detail}",
                                json_path=exc.json_path) from None
    except json.JSONDecodeError as exc:
        raise WorkflowFileError(
            path, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise WorkflowFileError(path, "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. int() digit limits
        raise WorkflowFileError(path, f"invalid JSON: {exc}") from None
    return doc


def workflow_from_document(
    doc: Any, path: str | None = None, blocks: BlockCatalog | None = None
) -> Workflow:
    """Validate an already-decoded JSON document as a workflow (migrating older versions).

    `doc` is never modified. With `blocks`, node configs are migrated to their block's version.
    """
    if not isinstance(doc, dict):
        raise WorkflowFileError(
            path, f"expected a JSON object at the top level, found {type(doc).__name__}"
        )
    fmt = doc.get("format")
    if fmt != FORMAT:
        found = "no 'format' field" if fmt is None else f"format {fmt!r}"
        raise WorkflowFileError(
            path, f"not a nopflow workflow ({found}; expected \"format\": \"{FORMAT}\")",
            json_path="$.format",
        )
    doc = migrate_document(doc, path)
    if "id" not in doc and path is not None:
        doc = {**doc, "id": stable_id_for(path)}
    try:
        wf = Workflow.model_validate(doc)
    except ValidationError as exc:
        found = [
            WorkflowFileError(path, msg, json_path=json_path(loc), node_id=_node_id_at(doc, loc))
            for loc, msg in _describe_validation_error(exc)
        ]
        first = found[0]
        raise WorkflowFileError(
            path, first.detail, json_path=first.json_path, node_id=first.node_id,
            more=found[1:],
        ) from None
    except RecursionError:
        raise WorkflowFileError(path, "document is nested too deeply") from None
    return wf if blocks is None else migrate_nodes(wf, blocks, path)


def load_workflow(
    path: str | os.PathLike[str], blocks: BlockCatalog | None = None
) -> Workflow:
    """Read a workflow file. Raises only `WorkflowFileError`, naming the file.

    Front ends pass `blocks=nopflow.blocks.get_block` so node configs reach their block's
    version; without it only the file format is migrated.
    """
    p = Path(path)
    name = str(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise WorkflowFileError(
                name,
                f"file is {size / 2**20:.1f} MB; workflow files are limited to "
                f"{MAX_FILE_BYTES // 2**20} MB",
            )
        if not p.is_file():
            if p.is_dir():
                raise IsADirectoryError(name)
            raise WorkflowFileError(name, "not a regular file")
        with p.open("rb") as fh:  # bounded: special files report a size of 0
            data = fh.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise WorkflowFileError(
                name, f"file is larger than {MAX_FILE_BYTES // 2**20} MB; workflow files are "
                "limited to that size")
    except FileNotFoundError:
        raise WorkflowFileError(name, "no such file") from None
    except IsADirectoryError:
        raise WorkflowFileError(name, "is a folder, not a workflow file") from None
    except PermissionError:
        raise WorkflowFileError(name, "permission denied") from None
    except OSError as exc:
        raise WorkflowFileError(name, f"cannot read: {exc.strerror or exc}") from None
    return parse_workflow(data, name, blocks)


def dump_workflow(wf: Workflow) -> str:
    """The file text of a workflow: stable key order, 2-space indent, trailing newline.

    Empty canvas extras (`notes`, `groups`) and an empty `triggers` list are left out.
    """
    doc = _without_empty_extras(wf.model_dump())  # python mode: JSON mode writes inf as null
    try:
        return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    except TypeError:  # a value only pydantic knows how to write as JSON
        text_doc = _without_empty_extras(wf.model_dump(mode="json"))
        _refuse_non_finite(doc)
        return json.dumps(text_doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    except ValueError:
        _refuse_non_finite(doc)
        raise


def _without_empty_extras(doc: dict[str, Any]) -> dict[str, Any]:
    for key in ("notes", "groups", "triggers"):
        if not doc.get(key):
            doc.pop(key, None)
    return doc


def _refuse_non_finite(doc: Any) -> None:
    """A file with `Infinity` in it would never open again: refuse, naming where it is."""
    try:
        strict_json.check(doc)
    except strict_json.StrictJSONError as exc:
        raise WorkflowFileError(None, f"cannot save: {exc.detail}",
                                json_path=exc.json_path) from None


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` so that a crash leaves either the old file or the new one, never half.

    Temp file in the same folder, fsync, `os.replace`, then fsync the folder so the rename
    itself is durable. Keeps the old file's permission bits.
    """
    p = Path(path)
    (p.parent if str(p.parent) else Path(".")).mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(p, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *,
                       exclusive: bool = False) -> None:
    """`data` into `path` all or nothing (temp file, fsync, rename, fsync of the folder).

    ``exclusive``: fail with FileExistsError when `path` exists, atomically (the temp file
    is hard-linked into place, which never replaces an existing file). Afterwards the
    temps earlier writers of `path` left behind when killed are removed (`model.temps`).
    """
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    fd, tmp = temps.create_temp(p)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            os.chmod(tmp, 0o644)
            os.link(tmp, p)
            os.unlink(tmp)
        else:
            try:
                os.chmod(tmp, p.stat().st_mode & 0o7777)
            except FileNotFoundError:
                os.chmod(tmp, 0o644)
            os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)
    temps.remove_stale_temps(p)


def _fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (where the OS can open folders)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def save_workflow(wf: Workflow, path: str | os.PathLike[str]) -> None:
    """Save atomically; raises `WorkflowFileError` (naming the file) if the disk refuses."""
    try:
        atomic_write_text(path, dump_workflow(wf))
    except WorkflowFileError as exc:
        raise WorkflowFileError(str(path), exc.detail, json_path=exc.json_path) from None
    except OSError as exc:
        raise WorkflowFileError(str(path), f"cannot save: {exc.strerror or exc}") from None
