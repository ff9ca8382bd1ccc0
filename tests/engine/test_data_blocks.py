"""transform, filter and aggregate through the engine: results, per-item errors, validation."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from wfhelpers import make_wf, run_wf

from nopflow.engine.compiler import CompileError, validate

ROWS = [
    {"name": "ada", "region": "EU", "price": 10, "qty": 2},
    {"name": "bob", "region": "US", "price": 5.5, "qty": 1},
    {"name": "cy", "region": "EU", "price": 4, "qty": None},
]


def flow(*blocks: tuple[str, str, dict[str, Any]], rows: Any = ROWS, **settings: Any):
    """start (input rows) -> delay 0 -> blocks... -> output {result: $prev}."""
    nodes = [("s", "start", {}), ("data", "delay", {"seconds": 0})]
    nodes += list(blocks)
    nodes.append(("o", "output", {"values": {"result": "{{ $prev }}"}}))
    ids = ["s", "data", *(b[0] for b in blocks), "o"]
    edges = [f"{a}->{b}" for a, b in itertools.pairwise(ids)]
    return make_wf(nodes, edges, inputs={"rows": {"default": rows}}, **settings)


async def result(wf) -> Any:
    run = await run_wf(wf)
    assert run.status == "completed", {n: r.error for n, r in run.nodes.items() if r.error}
    return run.outputs["result"]


async def test_transform_maps_each_item_with_item_and_index() -> None:
    wf = flow(("t", "transform", {"items": "$input.rows", "map": {
        "n": "{{ $index }}", "who": "{{ $item.name | upper }}",
        "total": "{{ $item.price * $item.qty | default(0) }}",
        "label": "#{{ $index + 1 }} {{ $item.name }} ({{ $input.rows | length }})",
        "fixed": [1, "x"]}}))
    assert await result(wf) == [
        {"n": 0, "who": "ADA", "total": 20, "label": "#1 ada (3)", "fixed": [1, "x"]},
        {"n": 1, "who": "BOB", "total": 5.5, "label": "#2 bob (3)", "fixed": [1, "x"]},
        {"n": 2, "who": "CY", "total": 0, "label": "#3 cy (3)", "fixed": [1, "x"]},
    ]


async def test_transform_items_default_to_prev_and_a_template_maps_to_plain_values() -> None:
    wf = flow(("ids", "transform", {"items": "$prev.rows", "map": "{{ $item.name }}"}),
              ("again", "transform", {"map": {"v": "{{ $item }}"}}))
    assert await result(wf) == [{"v": "ada"}, {"v": "bob"}, {"v": "cy"}]


async def test_transform_of_something_not_a_list_says_what_it_got() -> None:
    wf = flow(("t", "transform", {"map": {"x": "{{ $item }}"}}))
    run = await run_wf(wf)
    assert run.status == "failed"
    err = run.nodes["t"].error
    assert err.startswith("node t, config.items: expected a list, got object")
    assert "e.g. $prev.rows" in err


async def test_a_failing_item_names_node_item_index_and_field() -> None:
    wf = flow(("t", "transform", {"items": "$prev.rows",
                                  "map": {"cost": "{{ $item.price * $item.qty }}"}}))
    run = await run_wf(wf)
    err = run.nodes["t"].error
    assert err.startswith("node t, item 2, config.map.cost: cannot use * on number 4 and null")
    assert run.nodes["t"].error_type == "ExpressionError"


async def test_filter_keeps_items_where_the_condition_holds() -> None:
    wf = flow(("f", "filter", {"items": "{{ $prev.rows }}",
                               "where": '$item.region == "EU" and $item.price > 4'}))
    assert await result(wf) == [ROWS[0]]
    wf = flow(("f", "filter", {"items": "$prev.rows", "where": "{{ $index >= 1 }}"}))
    assert await result(wf) == ROWS[1:]
    wf = flow(("f", "filter", {"items": "$prev.rows", "where": "$item.qty"}))  # truthiness
    assert await result(wf) == ROWS[:2]


async def test_filter_error_names_the_item() -> None:
    wf = flow(("f", "filter", {"items": "$prev.rows", "where": "$item.qty > 1"}))
    run = await run_wf(wf)
    assert run.nodes["f"].error.startswith(
        "node f, item 2, config.where: cannot compare null > number 1")


async def test_aggregate_without_group_by_gives_one_object() -> None:
    wf = flow(("a", "aggregate", {"items": "$prev.rows", "metrics": {
        "n": "count", "with_qty": "count:qty", "total": "sum:price", "mean": "avg:price",
        "cheapest": "min:price", "priciest": "max:price", "top": "max:name",
        "first": "first:name", "last": "last:name", "qtys": "collect:qty",
        "mean_qty": "avg:qty"}}))
    assert await result(wf) == {
        "n": 3, "with_qty": 2, "total": 19.5, "mean": 6.5, "cheapest": 4, "priciest": 10,
        "top": "cy", "first": "ada", "last": "cy", "qtys": [2, 1, None], "mean_qty": 1.5}


async def test_aggregate_groups_in_first_seen_order() -> None:
    rows = [{"r": "US", "y": 1, "v": 1}, {"r": "EU", "y": 1, "v": 2},
            {"r": "US", "y": 2, "v": 3}, {"r": "US", "y": 1, "v": 4}]
    wf = flow(("a", "aggregate", {"items": "$prev.rows", "group_by": "r",
                                  "metrics": {"n": "count", "sum": "sum:v"}}), rows=rows)
    assert await result(wf) == [{"r": "US", "n": 3, "sum": 8}, {"r": "EU", "n": 1, "sum": 2}]
    wf = flow(("a", "aggregate", {"items": "$prev.rows", "group_by": ["r", "y"],
                                  "metrics": {"vs": "collect:v"}}), rows=rows)
    assert await result(wf) == [{"r": "US", "y": 1, "vs": [1, 4]},
                                {"r": "EU", "y": 1, "vs": [2]}, {"r": "US", "y": 2, "vs": [3]}]


async def test_aggregate_keeps_true_one_and_text_one_apart_and_reads_nested_paths() -> None:
    rows = [{"k": True, "o": {"v": [5]}}, {"k": 1, "o": {"v": [6]}}, {"k": "1", "o": {"v": [7]}},
            {"k": 1.0, "o": {"v": [8]}}]
    wf = flow(("a", "aggregate", {"items": "$prev.rows", "group_by": "k",
                                  "metrics": {"s": "sum:o.v[0]"}}), rows=rows)
    assert await result(wf) == [{"k": True, "s": 5}, {"k": 1, "s": 14}, {"k": "1", "s": 7}]


async def test_aggregate_of_no_items() -> None:
    wf = flow(("a", "aggregate", {"items": "$prev.rows", "metrics": {
        "n": "count", "s": "sum:v", "m": "avg:v", "lo": "min:v", "f": "first:v",
        "c": "collect:v"}}), rows=[])
    assert await result(wf) == {"n": 0, "s": 0, "m": None, "lo": None, "f": None, "c": []}


@pytest.mark.parametrize(("metric", "rows", "message"), [
    ("sum:price", [{"price": 1}, {"cost": 2}], "node a, item 1: field 'price' is missing"),
    ("avg:price", [{"price": 1}, {"price": "2"}],
     "node a, item 1: field 'price' is text \"2\", not a number (m = avg:price)"),
    ("max:price", [{"price": True}], "node a, item 0: field 'price' is boolean true, not a"),
    ("min:price", [{"price": "a"}, {"price": 3}], "node a, item 1: field 'price' is number 3 "
     "but earlier items held text"),
    ("collect:o.x", [{"o": {"x": 1}}, {"o": 5}], "node a, item 1: field 'o.x' is missing "
     "(the item holds number where 'x' should be)"),
])
async def test_aggregate_errors_name_item_and_field(metric: str, rows: list[Any],
                                                    message: str) -> None:
    wf = flow(("a", "aggregate", {"items": "$prev.rows", "metrics": {"m": metric}}), rows=rows)
    run = await run_wf(wf)
    assert run.status == "failed"
    assert run.nodes["a"].error.startswith(message), run.nodes["a"].error


async def test_group_by_a_missing_field_names_the_item() -> None:
    wf = flow(("a", "aggregate", {"items": "$prev.rows", "group_by": "region",
                                  "metrics": {"n": "count"}}), rows=[{"region": "x"}, {}])
    run = await run_wf(wf)
    assert run.nodes["a"].error == "node a, item 1: field 'region' is missing"


def problems(*blocks: tuple[str, str, dict[str, Any]]) -> list[str]:
    return [str(p) for p in validate(flow(*blocks))]


def test_validate_names_node_and_field_for_bad_expressions_and_metrics() -> None:
    found = problems(
        ("t", "transform", {"map": {"x": "{{ $item. }}"}}),
        ("f", "filter", {"where": "$item.price >"}),
        ("a", "aggregate", {"metrics": {"m": "median:price", "s": "sum", "p": "sum:a..b"},
                            "group_by": ["r", "$x"]}),
        ("a2", "aggregate", {"metrics": {"r": "count"}, "group_by": "r"}),
        ("c", "condition", {"expression": "$item.ok"}),
        ("t2", "transform", {"items": "$item.rows", "map": {"i": "{{ $index }}"}}),
    )
    text = "\n".join(found)
    assert "node t: config.map.x: expected a key name after '.'" in text
    assert "node f: config.where: expression ends too early" in text
    assert "node a: config.metrics: metrics.m: unknown metric 'median'" in text
    assert "node a2: config: metrics.r: the name is taken by the group field 'r'" in text
    assert "node c: config.expression: $item is only available in a field evaluated once " \
           "per item (filter's where, transform's map)" in text
    assert "node t2: config.items: $item is only available" in text
    assert not any(p.startswith("node t2: config.map") for p in found)


def test_every_metric_spelling_problem_is_reported_at_once() -> None:
    with pytest.raises(CompileError) as info:
        from nopflow.engine.compiler import compile_workflow
        compile_workflow(flow(("a", "aggregate", {"metrics": {"s": "sum"}}),
                              ("b", "aggregate", {"metrics": {}})))
    text = str(info.value)
    assert "node a: config.metrics: metrics.s: sum needs a field, e.g. sum:price" in text
    assert "node b: config.metrics:" in text


async def test_data_blocks_inside_a_loop_body_compile_once_and_see_loop_values() -> None:
    wf = make_wf(
        [("s", "start", {}), ("l", "loop", {"items": [[1, 2, 3], [4, 5]]}),
         ("t", "transform", {"map": "{{ $item * 10 + $loop.index }}"}),
         ("f", "filter", {"where": "$item > 20"}),
         ("o", "output", {"values": {"r": "{{ $prev.results }}"}})],
        ["s->l", "l.body->t", "t->f", "l.done->o"])
    run = await run_wf(wf)
    assert run.outputs["r"] == [[30], [41, 51]]
