"""Compiled expressions give exactly what the tree evaluator gives: values and errors."""

from __future__ import annotations

import pytest

from nopflow.engine import expressions as ex
from nopflow.engine.compiled import compile_condition, compile_expression, compile_value
from nopflow.engine.expressions import ExpressionError, Scope

ITEMS = [
    {"name": " Ada ", "price": 12.5, "qty": 3, "tags": ["a", "b"], "nested": {"x": 1},
     "flag": True, "none": None, "text": "7"},
    {"name": "bob", "price": 0, "qty": 0, "tags": [], "nested": {}, "flag": False,
     "none": None, "text": "x"},
    {"price": "cheap", "qty": 2.5},
    None,
    [1, 2, 3],
    "plain",
    7,
]

EXPRESSIONS = [
    "$item", "$index", "$item.name", "$item.name | trim | upper", "$item.price * 2",
    "$item.price + $item.qty", "$item.price - 1", "$item.price / $item.qty",
    "$item.qty % 2", "$item.price > 10", "$item.price >= 0 and $item.qty < 3",
    "$item.flag or $item.qty", "not $item.flag", "-$item.qty", "$item.name == 'bob'",
    "$item.name != 'bob'", "$item.qty == 3.0", "$item.flag == 1", "'a' in $item.tags",
    "'z' not in $item.tags", "$item.tags | length", "$item.tags | first",
    "$item.tags | last | default('none')", "$item.missing | default(0)",
    "$item.none | default('n')", "$item.nested.x", "$item.nested.y | default(-1)",
    "$item['name']", "$item.tags[0]", "$item.tags[5] | default('out')", "$item[0]",
    "$item.text | int", "$item.text | float", "$item.name | split('d') | join('-')",
    "$item | json", "[$item.qty, $index]", "$input.k + $index", "$vars.v", "$prev.p",
    "$node.up.n", "$node.gone | default('g')", "$item.missing", "$item.name | upper",
    "$item.qty * 1e308 * 10", "$item.price < 'a'", "$index * 2 + 1",
]


def scope(item: object, index: int) -> Scope:
    return Scope(input={"k": 1}, vars={"v": "V"}, prev={"p": [1]}, nodes={"up": {"n": 5}},
                 item=item, index=index)


def outcome(fn, s: Scope, per_item: bool = False) -> tuple[str, object]:
    try:
        return ("ok", fn(Scope(**{**vars(s), "item": ex.OUTSIDE_ITEMS}), s.item, s.index)
                if per_item else fn(s))
    except ExpressionError as exc:
        return ("error", str(exc))


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_expression_matches_tree_evaluator(text: str) -> None:
    compiled = compile_expression(text, "node t, config.x")
    for i, item in enumerate(ITEMS):
        s = scope(item, i)
        want = outcome(lambda sc: ex.evaluate(text, sc, "node t, config.x"), s)
        assert outcome(compiled, s, True) == want, (text, item)


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_condition_matches_tree_evaluator(text: str) -> None:
    holds = compile_condition(text, "node t, config.where")
    for i, item in enumerate(ITEMS):
        s = scope(item, i)
        want = outcome(lambda sc: ex.evaluate_condition(text, sc, "node t, config.where"), s)
        assert outcome(holds, s, True) == want, (text, item)


def test_templates_keep_types_and_interpolate_like_render() -> None:
    value = {"id": "{{ $index }}", "label": "#{{ $index }}: {{ $item.name | trim }}",
             "const": [1, "two"], "deep": {"p": "{{ $item.price * 2 }}", "k": 3},
             "bad": "{{ $item.nope }}"}
    compiled = compile_value(value, "node t, config.map")
    for i, item in enumerate(ITEMS):
        s = scope(item, i)
        want = outcome(lambda sc: ex.render(value, sc, "node t, config.map"), s)
        assert outcome(compiled, s, True) == want, item


def test_item_outside_a_per_item_block_is_an_error() -> None:
    with pytest.raises(ExpressionError, match=r"\$item is only available"):
        compile_expression("$item.x")(Scope())
    with pytest.raises(ExpressionError, match=r"\$index is only available"):
        ex.evaluate("$index", Scope())


def test_null_is_a_real_item() -> None:
    assert compile_expression("$item | default('none')")(Scope(), None, 0) == "none"
    assert compile_expression("$item")(Scope(), None, 0) is None


def test_error_context_is_asked_only_on_failure() -> None:
    asked: list[int] = []

    def where(index: int) -> str:
        asked.append(index)
        return f"node t, item {index}, config.map.total"

    c = compile_expression("$item.price * 2", where)
    assert c(Scope(), {"price": 2}, 0) == 4
    assert asked == []
    with pytest.raises(ExpressionError) as info:
        c(Scope(), {"cost": 2}, 4)
    assert asked == [4]
    assert str(info.value).startswith("node t, item 4, config.map.total: missing key 'price'")


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_bulk_select_and_map_match_item_by_item(text: str) -> None:
    cond = compile_condition(text, lambda i: f"node t, item {i}, config.where")
    value = compile_value({"v": "{{ " + text + " }}"}, lambda i: f"node t, item {i}, config.map")

    def one_by_one(fn):
        out = []
        for i, item in enumerate(ITEMS):
            s = Scope(item=item, index=i)
            out.append(fn(s, item, i))
        return out

    def bulk(fn):
        return fn(Scope(), ITEMS)

    for single, many, pick in ((cond, cond.select, True), (value, value.map, False)):
        want = outcome(lambda _s, f=single: one_by_one(f), Scope())
        if want[0] == "ok" and pick:
            want = ("ok", [x for x, keep in zip(ITEMS, want[1], strict=True) if keep])
        assert outcome(lambda _s, f=many: bulk(f), Scope()) == want, text
