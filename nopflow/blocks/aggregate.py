"""`aggregate`: count, sum, avg, min, max, first, last, collect over a list, optionally by
group (groups in first-seen order). docs/data-blocks.md says what each metric does with
missing fields, nulls and values of the wrong kind."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator, model_validator

from nopflow.blocks.base import Block, Port
from nopflow.blocks.fields import JSON
from nopflow.blocks.items import ItemsConfig, read_items
from nopflow.engine import expressions as ex
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult

#: metric name -> whether it needs a field
METRICS = {"count": False, "sum": True, "avg": True, "min": True, "max": True,
           "first": True, "last": True, "collect": True}
_SPELLING = "count, count:F, sum:F, avg:F, min:F, max:F, first:F, last:F or collect:F"


def parse_path(path: str) -> tuple[str | int, ...]:
    """The keys of a field path such as ``customer.name`` or ``rows[0]["odd key"]``.

    Read with the expression parser (as `$item.PATH`); anything but literal keys and
    indices is refused with a ValueError saying so."""
    text = path.strip()
    if not text:
        raise ValueError("a field path is empty")
    source = "$item" + (text if text.startswith("[") else "." + text)
    try:
        expr = ex.parse_expression(source)
    except ex.ExpressionError as exc:
        raise ValueError(f"field path {path!r} does not read: {exc.message}") from None
    keys: list[str | int] = []
    node = expr.node
    while isinstance(node, ex._Get):
        key = node.key
        if not (isinstance(key, ex._Literal) and isinstance(key.value, (str, int))
                and not isinstance(key.value, bool)):
            raise ValueError(f"field path {path!r}: use plain keys and numbers, "
                             "like customer.name or rows[0]")
        keys.append(key.value)
        node = node.obj
    if not (isinstance(node, ex._Root) and node.name == "item") or not keys:
        raise ValueError(f"field path {path!r}: use plain keys and numbers, "
                         "like customer.name or rows[0]")
    return tuple(reversed(keys))


@dataclass(frozen=True, slots=True)
class Metric:
    """One output key: its metric and field path."""

    name: str
    kind: str
    path: str | None
    keys: tuple[str | int, ...]


def parse_metric(name: str, spec: str) -> Metric:
    """``sum:price`` -> Metric; ValueError naming what is wrong."""
    kind, _, path = spec.partition(":")
    kind = kind.strip()
    if kind not in METRICS:
        raise ValueError(f"metrics.{name}: unknown metric {kind!r} (use {_SPELLING})")
    path = path.strip()
    if not path:
        if METRICS[kind]:
            raise ValueError(f"metrics.{name}: {kind} needs a field, e.g. {kind}:price")
        return Metric(name, kind, None, ())
    try:
        return Metric(name, kind, path, parse_path(path))
    except ValueError as exc:
        raise ValueError(f"metrics.{name}: {exc}") from None


class AggregateConfig(ItemsConfig):
    """Metrics over the items, for all of them or per group (groups in first-seen order)."""

    group_by: str | list[str] | None = Field(
        default=None,
        description="Field path(s) whose values form the groups, e.g. region or "
        '["region", "year"]; empty: one result over all items',
    )
    metrics: dict[str, str] = Field(
        min_length=1,
        description='Output name -> metric: count, sum:F, avg:F, min:F, max:F, first:F, '
        'last:F, collect:F (F a field path), e.g. {"total": "sum:price"}',
        json_schema_extra=JSON,
    )

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: dict[str, str]) -> dict[str, str]:
        for name, spec in value.items():
            parse_metric(name, spec)
        return value

    @model_validator(mode="after")
    def _group_paths(self) -> AggregateConfig:
        for path in group_paths(self.group_by):
            try:
                parse_path(path)
            except ValueError as exc:
                raise ValueError(f"group_by: {exc}") from None
            if path in self.metrics:
                raise ValueError(f"metrics.{path}: the name is taken by the group field "
                                 f"{path!r}; call the metric something else")
        return self


def group_paths(group_by: str | list[str] | None) -> list[str]:
    """The group field paths as a list (none, one or several)."""
    if group_by is None or group_by == "":
        return []
    return [group_by] if isinstance(group_by, str) else list(group_by)


class _Fail(Exception):
    def __init__(self, index: int, message: str) -> None:
        self.index = index
        self.message = message


def _read(item: Any, keys: tuple[str | int, ...], path: str, index: int) -> Any:
    """The value at ``keys`` inside ``item``; `_Fail` naming the field when it is not there."""
    value = item
    for key in keys:
        if isinstance(value, dict) and isinstance(key, str):
            if key not in value:
                raise _Fail(index, f"field {path!r} is missing")
            value = value[key]
        elif isinstance(value, list) and isinstance(key, int):
            if not -len(value) <= key < len(value):
                raise _Fail(index, f"field {path!r} is missing (index {key} is out of range)")
            value = value[key]
        else:
            what = "null" if value is None else ex._kind(value)
            raise _Fail(index, f"field {path!r} is missing (the item holds {what} "
                        f"where {key!r} should be)")
    return value


def _group_key(value: Any) -> Any:
    """A hashable key that keeps `true`, `1` and `"1"` apart (1 and 1.0 are one number)."""
    if value is None or isinstance(value, (str, bool)):
        return (type(value).__name__, value)
    if isinstance(value, (int, float)):
        return ("number", value)
    return ("json", json.dumps(value, sort_keys=True, default=str))


def _number(value: Any, metric: Metric, index: int) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Fail(index, f"field {metric.path!r} is {ex._kind(value)} "
                    f"{ex._preview(value)}, not a number ({metric.name} = "
                    f"{metric.kind}:{metric.path})")
    return value


def _compute(metric: Metric, members: list[tuple[int, Any]]) -> Any:
    """One metric over a group's (index, item) pairs."""
    kind = metric.kind
    if kind == "count" and metric.path is None:
        return len(members)
    if kind == "count":  # count:F counts the items whose F is there and not null
        n = 0
        for i, item in members:
            try:
                if _read(item, metric.keys, metric.path or "", i) is not None:
                    n += 1
            except _Fail:
                pass
        return n
    path = metric.path or ""
    values = [(i, _read(item, metric.keys, path, i)) for i, item in members]
    if kind == "first":
        return values[0][1] if values else None
    if kind == "last":
        return values[-1][1] if values else None
    if kind == "collect":
        return [v for _i, v in values]
    present = [(i, v) for i, v in values if v is not None]  # nulls are skipped, as in SQL
    if kind in ("sum", "avg"):
        numbers = [_number(v, metric, i) for i, v in present]
        total = math.fsum(numbers) if any(isinstance(n, float) for n in numbers) else sum(numbers)
        if isinstance(total, float) and not math.isfinite(total):
            raise _Fail(present[-1][0], f"{metric.name}: the {kind} is too large")
        if kind == "sum":
            return total
        return total / len(numbers) if numbers else None
    # min / max: numbers with numbers, or text with text
    if not present:
        return None
    text = isinstance(present[0][1], str)
    for i, v in present:
        if text and not isinstance(v, str):
            raise _Fail(i, f"field {path!r} is {ex._kind(v)} {ex._preview(v)} but earlier "
                        f"items held text: {kind} compares numbers with numbers or text "
                        "with text")
        if not text:
            _number(v, metric, i)
    pick = min if kind == "min" else max
    return pick(v for _i, v in present)


class AggregateBlock(Block):
    type = "aggregate"
    title = "Aggregate"
    category = "Data"
    description = "Count, sum, average, min, max, first, last or collect, optionally by group."
    icon = "aggregate"
    inputs = (Port("in"),)
    outputs = (Port("out"),)
    Config = AggregateConfig

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"items": "$prev", "metrics": {"count": "count"}}

    async def run(self, ctx: NodeContext) -> NodeResult:
        """One object of metrics, or with `group_by` a list of them (group fields first)."""
        items = read_items(ctx)
        metrics = [parse_metric(name, spec) for name, spec in ctx.raw("metrics").items()]
        paths = group_paths(ctx.raw("group_by"))
        try:
            if not paths:
                return NodeResult(self._row({}, metrics, list(enumerate(items))))
            groups = self._groups(items, [(p, parse_path(p)) for p in paths])
        except _Fail as exc:
            raise NodeFailure(f"node {ctx.node_id}, item {exc.index}: {exc.message}",
                              error_type="ValueError") from None
        ctx.note("groups", len(groups))
        try:
            return NodeResult([self._row(fields, metrics, members)
                               for fields, members in groups.values()])
        except _Fail as exc:
            raise NodeFailure(f"node {ctx.node_id}, item {exc.index}: {exc.message}",
                              error_type="ValueError") from None

    @staticmethod
    def _groups(items: list[Any], paths: list[tuple[str, tuple[str | int, ...]]]
                ) -> dict[Any, tuple[dict[str, Any], list[tuple[int, Any]]]]:
        groups: dict[Any, tuple[dict[str, Any], list[tuple[int, Any]]]] = {}
        for i, item in enumerate(items):
            fields = {path: _read(item, keys, path, i) for path, keys in paths}
            key = tuple(_group_key(v) for v in fields.values())
            group = groups.get(key)
            if group is None:
                groups[key] = (fields, [(i, item)])
            else:
                group[1].append((i, item))
        return groups

    @staticmethod
    def _row(fields: dict[str, Any], metrics: list[Metric],
             members: list[tuple[int, Any]]) -> dict[str, Any]:
        row = dict(fields)
        for metric in metrics:
            row[metric.name] = _compute(metric, members)
        return row
