"""`read_file` / `write_file` (docs/blocks.md): files inside the project folder only.

Paths resolve against the project folder with symlinks followed; one that ends up outside is
refused (at compile time when the path is literal). Writes in `overwrite` and `create` mode
are atomic: a crash leaves the old file or the new one, never half of it.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from nopflow.blocks.base import Block, BlockConfig, CheckContext
from nopflow.blocks.fields import JSON
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult
from nopflow.model.fileio import atomic_write_bytes

Format = Literal["text", "json", "csv", "lines", "base64"]
FORMATS = ("text", "json", "csv", "lines", "base64")
#: a file larger than this is not read into the run (a clear error instead)
MAX_READ_BYTES = 64 * 1024 * 1024


def _inside(project_dir: Path, path: str, field: str = "config.path") -> Path:
    """The resolved path, or a NodeFailure naming the field when it leaves the project."""
    from nopflow.sandbox.paths import SandboxError, check_inside

    if not str(path).strip():
        raise NodeFailure(f"{field}: the path is empty", error_type="ValueError")
    try:
        return check_inside(project_dir, path)
    except SandboxError as exc:
        raise NodeFailure(f"{field}: {exc}", error_type="PathError") from None


def _literal_path_problem(path: str, ctx: CheckContext) -> list[str]:
    if ctx.project_dir is None or "{{" in path:
        return []
    from nopflow.sandbox.paths import SandboxError, check_inside

    try:
        check_inside(ctx.project_dir, path)
    except SandboxError as exc:
        return [f"config.path: {exc}"]
    return []


def _relative(project_dir: Path, path: Path) -> str:
    return path.relative_to(project_dir.resolve()).as_posix()


class ReadFileConfig(BlockConfig):
    """A file of the project read as text, JSON, CSV rows, lines or base64."""

    path: str = Field(min_length=1, description="A file inside the project folder "
                      "({{ }} allowed)")
    format: Format = Field(default="text", description="text, json, csv (rows as objects), "
                           "lines or base64")
    encoding: str = Field(default="utf-8", description="Text encoding")


class ReadFileBlock(Block):
    type = "read_file"
    title = "Read file"
    category = "Files"
    description = "Read a file of the project: text, JSON, CSV rows, lines or base64."
    icon = "read_file"
    Config = ReadFileConfig

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"path": "data.csv", "format": "csv"}

    @classmethod
    def check(cls, config: BlockConfig, ctx: CheckContext) -> list[str]:
        assert isinstance(config, ReadFileConfig)
        return _literal_path_problem(config.path, ctx)

    async def run(self, ctx: NodeContext) -> NodeResult:
        config = ctx.config
        assert isinstance(config, ReadFileConfig)
        raw_path = str(ctx.render("path"))
        path = _inside(ctx.project_dir, raw_path)
        rel = _relative(ctx.project_dir, path)
        try:
            size = path.stat().st_size
            if size > MAX_READ_BYTES:
                raise NodeFailure(f"{rel} is larger than {MAX_READ_BYTES // 2**20} MiB; "
                                  "read it in a python block instead", error_type="FileTooLarge")
            data = path.read_bytes()
        except FileNotFoundError:
            raise NodeFailure(f"no such file in the project folder: {raw_path}",
                              error_type="FileNotFoundError") from None
        except IsADirectoryError:
            raise NodeFailure(f"{rel} is a folder, not a file",
                              error_type="IsADirectoryError") from None
        except OSError as exc:
            raise NodeFailure(f"cannot read {rel}: {exc.strerror or exc}",
                              error_type=type(exc).__name__) from None
        return NodeResult({"path": rel, "content": _decode(data, config, rel),
                           "size": len(data)})


def _decode(data: bytes, config: ReadFileConfig, rel: str) -> Any:
    if config.format == "base64":
        return base64.b64encode(data).decode("ascii")
    try:
        text = data.decode(config.encoding)
    except LookupError:
        raise NodeFailure(f"config.encoding: unknown encoding {config.encoding!r}",
                          error_type="ValueError") from None
    except UnicodeDecodeError as exc:
        raise NodeFailure(f"cannot read {rel} as {config.encoding}: {exc.reason} at byte "
                          f"{exc.start} (set config.encoding, or format base64)",
                          error_type="UnicodeDecodeError") from None
    if config.format == "text":
        return text
    if config.format == "lines":
        return text.splitlines()
    if config.format == "csv":
        try:
            return [dict(row) for row in csv.DictReader(io.StringIO(text, newline=""))]
        except csv.Error as exc:
            raise NodeFailure(f"{rel} is not valid CSV: {exc}", error_type="CSVError") from None
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise NodeFailure(f"{rel} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                          f"column {exc.colno}", error_type="JSONDecodeError") from None
    except (ValueError, RecursionError) as exc:
        raise NodeFailure(f"{rel} is not valid JSON: {exc}", error_type="JSONDecodeError") \
            from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (JSON has no NaN or Infinity)")


class WriteFileConfig(BlockConfig):
    """A value written to a file of the project."""

    path: str = Field(min_length=1, description="A file inside the project folder "
                      "({{ }} allowed)")
    content: Any = Field(default="{{ $prev }}", json_schema_extra=JSON,
                         description="What to write ({{ }} allowed)")
    format: Format | None = Field(default=None, description="text, json, csv, lines or "
                                  "base64; empty: json for non-text values, else text")
    mode: Literal["overwrite", "append", "create"] = Field(
        default="overwrite", description="overwrite, append, or create (fails if it exists)")
    encoding: str = Field(default="utf-8", description="Text encoding")


class WriteFileBlock(Block):
    type = "write_file"
    title = "Write file"
    category = "Files"
    description = "Write a value to a file of the project (atomically): text, JSON, CSV…"
    icon = "write_file"
    Config = WriteFileConfig
    side_effects = True

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"path": "out.json", "content": "{{ $prev }}"}

    @classmethod
    def check(cls, config: BlockConfig, ctx: CheckContext) -> list[str]:
        assert isinstance(config, WriteFileConfig)
        return _literal_path_problem(config.path, ctx)

    async def run(self, ctx: NodeContext) -> NodeResult:
        config = ctx.config
        assert isinstance(config, WriteFileConfig)
        path = _inside(ctx.project_dir, str(ctx.render("path")))
        rel = _relative(ctx.project_dir, path)
        content = ctx.render("content")
        fmt = config.format or ("text" if isinstance(content, str) else "json")
        data = _encode(content, fmt, config.encoding, rel)
        try:
            if path.is_dir():
                raise NodeFailure(f"{rel} is a folder, not a file",
                                  error_type="IsADirectoryError")
            path.parent.mkdir(parents=True, exist_ok=True)
            if config.mode == "append":
                with path.open("ab") as fh:
                    fh.write(data)
            else:
                atomic_write_bytes(path, data, exclusive=config.mode == "create")
        except FileExistsError:
            raise NodeFailure(f"{rel} already exists (mode create never replaces a file)",
                              error_type="FileExistsError") from None
        except OSError as exc:
            raise NodeFailure(f"cannot write {rel}: {exc.strerror or exc}",
                              error_type=type(exc).__name__) from None
        return NodeResult({"path": rel, "bytes": len(data)})


def _encode(content: Any, fmt: str, encoding: str, rel: str) -> bytes:
    if fmt == "base64":
        if not isinstance(content, str):
            raise NodeFailure("config.content: base64 format needs text", error_type="TypeError")
        try:
            return base64.b64decode(content, validate=True)
        except binascii.Error as exc:
            raise NodeFailure(f"config.content: not valid base64 ({exc})",
                              error_type="ValueError") from None
    if fmt == "json":
        try:
            text = json.dumps(content, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        except (TypeError, ValueError) as exc:
            raise NodeFailure(f"config.content: cannot write as JSON: {exc}",
                              error_type="ValueError") from None
    elif fmt == "lines":
        items = content if isinstance(content, list) else [content]
        text = "".join(f"{_line(i)}\n" for i in items)
    elif fmt == "csv":
        text = _csv_text(content)
    else:
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    try:
        return text.encode(encoding)
    except LookupError:
        raise NodeFailure(f"config.encoding: unknown encoding {encoding!r}",
                          error_type="ValueError") from None
    except UnicodeEncodeError as exc:
        raise NodeFailure(f"cannot write {rel} as {encoding}: {exc.reason}",
                          error_type="UnicodeEncodeError") from None


def _line(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _csv_text(rows: Any) -> str:
    """A list of objects (header = keys in first-seen order) or of lists, as CSV."""
    if not isinstance(rows, list):
        raise NodeFailure("config.content: csv format needs a list of rows",
                          error_type="TypeError")
    out = io.StringIO(newline="")
    if rows and all(isinstance(r, dict) for r in rows):
        header: dict[str, None] = {}
        for r in rows:
            header.update(dict.fromkeys(str(k) for k in r))
        writer = csv.DictWriter(out, fieldnames=list(header), lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({str(k): _cell(v) for k, v in r.items()})
    elif all(isinstance(r, list) for r in rows):
        writer2 = csv.writer(out, lineterminator="\n")
        for r in rows:
            writer2.writerow([_cell(v) for v in r])
    else:
        raise NodeFailure("config.content: csv rows must all be objects or all be lists",
                          error_type="TypeError")
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, bool)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
