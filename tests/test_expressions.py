"""Tests for the safe expression language (docs/expressions.md)."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nopflow.engine.expressions import (
    MAX_DEPTH,
    MAX_EXPRESSION_LENGTH,
    MAX_TEXT_LENGTH,
    Expr,
    ExpressionError,
    ExpressionSyntaxError,
    Scope,
    Template,
    check_value,
    evaluate,
    evaluate_condition,
    is_template,
    node_refs,
    parse_condition,
    parse_expression,
    parse_template,
    render,
    roots_used,
)


@pytest.fixture
def scope() -> Scope:
    return Scope(
        input={
            "name": "  Ada Lovelace ",
            "age": 36,
            "n": 7,
            "ratio": 0.5,
            "rows": [{"name": "a", "v": 1}, {"name": "b", "v": 2}],
            "tags": ["x", "y"],
            "empty": [],
            "nothing": None,
            "flag": True,
            "num_text": "42",
            "key with space": "spaced",
            "csv": "a,b,,c",
        },
        vars={"threshold": 10, "mode": "fast", "obj": {"k": 1}},
        prev={"ok": True, "error": None, "count": 3},
        nodes={"calc": {"n": 4, "rows": [1, 2, 3]}, "fetch-2": {"status": 200}},
        loop={"item": {"id": 9}, "index": 0, "first": True, "last": False},
        env={"HOME": "/home/ada", "EMPTY": ""},
    )


def ev(src: str, scope: Scope) -> Any:
    return evaluate(src, scope)


def err(src: str, scope: Scope, context: str = "") -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        evaluate(src, scope, context)
    return info.value


# --------------------------------------------------------------------------- templates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ $input.age }}", 36),
        ("{{$input.age}}", 36),
        ("{{ $input.ratio }}", 0.5),
        ("{{ $input.flag }}", True),
        ("{{ $input.nothing }}", None),
        ("{{ $input.tags }}", ["x", "y"]),
        ("{{ $vars.obj }}", {"k": 1}),
        ("{{ 1.0 }}", 1.0),
        ("{{ [1, 'a', null] }}", [1, "a", None]),
        ("{{ $prev }}", {"ok": True, "error": None, "count": 3}),
    ],
)
def test_whole_value_template_keeps_type(text: str, expected: Any, scope: Scope) -> None:
    result = render(text, scope)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n={{ $input.n }}", "n=7"),
        ("  {{ $input.n }}  ", "  7  "),
        ("{{ $input.n }}{{ $input.n }}", "77"),
        ("{{ 1.0 }} {{ 2 }}", "1.0 2"),
        ("{{ true }}/{{ false }}/{{ null }}", "true/false/null"),
        ("list: {{ $input.tags }}", 'list: ["x", "y"]'),
        ("obj: {{ $vars.obj }}", 'obj: {"k": 1}'),
        ("hi {{ $input.name | trim }}!", "hi Ada Lovelace!"),
        ("no expressions", "no expressions"),
        ("a }} b", "a }} b"),
        ('{{ "}}" }}', "}}"),
        ('x{{ "}}" }}y', "x}}y"),
        ("ünï {{ 'ç' }}", "ünï ç"),
    ],
)
def test_interpolation_text(text: str, expected: str, scope: Scope) -> None:
    assert render(text, scope) == expected


def test_parse_template_structure() -> None:
    t = parse_template("{{ $input.x }}")
    assert isinstance(t, Template) and t.is_single
    assert [e.text for e in t.expressions] == ["$input.x"]
    t = parse_template(" {{ $input.x }}")
    assert not t.is_single
    t = parse_template("a {{ $input.x }} b {{ $vars.y | upper }}")
    assert not t.is_single
    assert [e.text for e in t.expressions] == ["$input.x", "$vars.y | upper"]
    assert parse_template("plain").expressions == ()
    assert parse_template("").parts == ()


def test_is_template() -> None:
    assert is_template("a {{ b")
    assert not is_template("a { b }")
    assert not is_template(5)


def test_render_walks_structures_and_leaves_other_values(scope: Scope) -> None:
    value = {
        "x": "{{ $input.n }}",
        "nested": {"list": ["{{ $vars.mode | upper }}", 3, None, "plain"]},
        "num": 1.5,
        "flag": False,
    }
    assert render(value, scope) == {
        "x": 7,
        "nested": {"list": ["FAST", 3, None, "plain"]},
        "num": 1.5,
        "flag": False,
    }
    assert render(5, scope) == 5
    assert render(None, scope) is None


def test_render_error_context_has_key_path(scope: Scope) -> None:
    with pytest.raises(ExpressionError) as info:
        render({"inputs": {"x": ["ok", "{{ $input.nme }}"]}}, scope, "node calc, config")
    e = info.value
    assert e.context == "node calc, config.inputs.x[1]"
    assert str(e).startswith("node calc, config.inputs.x[1]: missing key 'nme' in $input")
    assert e.expression == "{{ $input.nme }}"
    assert e.position == 10
    with pytest.raises(ExpressionError) as info:
        render({"a b": "{{ $x }}"}, scope)
    assert info.value.context == '["a b"]'


def test_template_interpolating_missing_is_error(scope: Scope) -> None:
    with pytest.raises(ExpressionError, match="missing key 'zz'"):
        render("value: {{ $input.zz }}", scope)


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("$input.rows[0].name", "a"),
        ("$input.rows[-1].name", "b"),
        ("$input.rows[1]['v']", 2),
        ('$input["key with space"]', "spaced"),
        ("$input.tags[-2]", "x"),
        ("$input.tags[$input.rows[0].v]", "y"),
        ("$input.name[2]", "A"),
        ("$vars.threshold", 10),
        ("$prev.count", 3),
        ("$node.calc.rows[2]", 3),
        ("$node.fetch-2.status", 200),
        ('$node["fetch-2"].status', 200),
        ("$node.calc.n - 2", 2),
        ("$loop.item.id", 9),
        ("$loop.index", 0),
        ("$loop.first", True),
        ("$loop.last", False),
        ("$env.HOME", "/home/ada"),
        ("[10, 20, 30][-1]", 30),
    ],
)
def test_paths(src: str, expected: Any, scope: Scope) -> None:
    assert ev(src, scope) == expected


def test_keywords_can_be_keys() -> None:
    s = Scope(input={"and": 1, "in": 2, "not": 3, "true": 4})
    assert evaluate("$input.and + $input.in + $input.not + $input.true", s) == 10


def test_bare_roots(scope: Scope) -> None:
    assert ev("$input", scope) is scope.input
    assert ev("$vars", scope)["mode"] == "fast"
    assert ev("$loop", scope)["index"] == 0
    assert ev("$env", scope)["HOME"] == "/home/ada"


def test_scope_without_env_sees_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`$env` reads only what the scope was given (the runner: allow-listed names only)."""
    monkeypatch.setenv("NOPFLOW_TEST_VAR", "hello")
    with pytest.raises(ExpressionError, match="environment variable 'NOPFLOW_TEST_VAR'"):
        evaluate("$env.NOPFLOW_TEST_VAR", Scope())
    assert evaluate("$env.NOPFLOW_TEST_VAR | default('x')", Scope()) == "x"
    assert evaluate("$env.NOPFLOW_TEST_VAR", Scope(env={"NOPFLOW_TEST_VAR": "hi"})) == "hi"


def test_loop_outside_loop_is_error() -> None:
    with pytest.raises(ExpressionError, match=r"\$loop is only available inside a loop"):
        evaluate("$loop.item", Scope())


def test_missing_key_error_names_expression_and_context(scope: Scope) -> None:
    e = err("$input.nme", scope, "node calc, config.inputs.x")
    assert e.message.startswith("missing key 'nme' in $input (available: name, age, n,")
    assert e.context == "node calc, config.inputs.x"
    assert e.expression == "$input.nme"
    assert e.position == 7
    assert str(e) == (f"node calc, config.inputs.x: {e.message} at position 7 in '$input.nme'")
    assert not isinstance(e, ExpressionSyntaxError)


def test_missing_key_lists_at_most_ten_keys() -> None:
    s = Scope(input={f"k{i}": i for i in range(30)})
    e = err("$input.zz", s)
    assert "k9, …" in e.message and "k10" not in e.message
    e = err("$vars.x", Scope())
    assert "it is empty" in e.message


def test_nested_missing_names_the_parent_path(scope: Scope) -> None:
    e = err("$input.rows[0].nam", scope)
    assert "missing key 'nam' in $input.rows[0] (available: name, v)" in e.message


def test_index_errors(scope: Scope) -> None:
    assert (
        "index 5 is out of range for $input.tags (it has 2 items)"
        in err("$input.tags[5]", scope).message
    )
    assert "indexed by number" in err("$input.tags.name", scope).message
    assert "indexed by number" in err("$input.tags['a']", scope).message
    assert "use a text key" in err("$vars.obj[0]", scope).message
    assert "cannot read" in err("$input.age.x", scope).message
    assert "it is null" in err("$input.nothing.x", scope).message
    assert "node 'ghost' has no output" in err("$node.ghost.x", scope).message


# --------------------------------------------------------------------------- default


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("$input.zz | default('x')", "x"),
        ("$input.zz.deeper[3].more | default(1)", 1),
        ("$input.tags[9] | default('none')", "none"),
        ("$input.nothing | default(0)", 0),
        ("$input.age | default(0)", 36),
        ("$input.flag | default(false)", True),  # only missing / null are replaced
        ("$input.empty | default('e')", []),
        ("$node.ghost.x | default(-1)", -1),
        ("$input.empty | first | default('none')", "none"),
        ("$input.zz | default($input.yy) | default(3)", 3),
        ("$input.zz | default($vars.mode) | upper", "FAST"),
        ("$input.zz | default(1) + 1", 2),
    ],
)
def test_default_catches_missing(src: str, expected: Any, scope: Scope) -> None:
    assert ev(src, scope) == expected


def test_default_argument_evaluated_only_when_needed(scope: Scope) -> None:
    assert ev("$input.age | default($input.zz)", scope) == 36


def test_missing_used_otherwise_is_error(scope: Scope) -> None:
    for src in (
        "$input.zz | upper",
        "$input.zz == 1",
        "$input.zz and true",
        "[$input.zz]",
        "-$input.zz",
        "$input.zz | default($input.yy)",
    ):
        assert "missing key" in err(src, scope).message, src


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("$input.name | trim", "Ada Lovelace"),
        ("$input.name | trim | upper", "ADA LOVELACE"),
        ("$input.name | trim | lower", "ada lovelace"),
        ("$input.tags | length", 2),
        ("$vars.obj | length", 1),
        ("'abc' | length", 3),
        ("$input.tags | first", "x"),
        ("$input.tags | last", "y"),
        ("'abc' | first", "a"),
        ("'abc' | last", "c"),
        ("$vars.obj | json", '{"k": 1}'),
        ("'é' | json", '"é"'),
        ("null | json", "null"),
        ("$input.num_text | int", 42),
        ("' 7 ' | int", 7),
        ("'3.9' | int", 3),
        ("-3.9 | int", -3),
        ("true | int", 1),
        ("$input.num_text | float", 42.0),
        ("3 | float", 3.0),
        ("'1e3' | float", 1000.0),
        ("$input.csv | split(',')", ["a", "b", "", "c"]),
        ("' a  b\tc ' | split", ["a", "b", "c"]),
        ("$input.tags | join(', ')", "x, y"),
        ("$input.tags | join", "xy"),
        ("[1, true, null, 'a', [2]] | join('-')", "1-true-null-a-[2]"),
        ("$input.csv | split(',') | length", 4),
        ("$input.name | trim | split | join('_') | lower", "ada_lovelace"),
    ],
)
def test_filters(src: str, expected: Any, scope: Scope) -> None:
    result = ev(src, scope)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("src", "fragment"),
    [
        ("$input.tags | upper", "filter 'upper' needs text, got list"),
        ("$input.age | lower", "filter 'lower' needs text, got number"),
        ("$input.age | trim", "filter 'trim' needs text"),
        ("$input.age | length", "filter 'length' needs text, a list or an object"),
        ("$vars.obj | first", "filter 'first' needs a list or text"),
        ("$input.empty | first", "'first' of an empty list"),
        ("$input.empty | last", "'last' of an empty list"),
        ("'' | first", "'first' of an empty text"),
        ("'abc' | int", 'cannot convert text "abc" to a whole number'),
        ("null | int", "cannot convert null"),
        ("$input.tags | float", "cannot convert list"),
        ("'nan' | float", "cannot convert"),
        ("'inf' | float", "cannot convert"),
        ("3 | split", "filter 'split' needs text"),
        ("'a' | split('')", "non-empty text"),
        ("'a' | split(1)", "non-empty text"),
        ("'a' | join", "filter 'join' needs a list"),
        ("$input.tags | join(1)", "text to join with"),
    ],
)
def test_filter_errors(src: str, fragment: str, scope: Scope) -> None:
    assert fragment in err(src, scope).message


def test_filter_error_position(scope: Scope) -> None:
    e = err("$input.tags | upper", scope)
    assert e.position == 14


@pytest.mark.parametrize(
    ("src", "fragment", "position"),
    [
        ("$input.name | uper", "unknown filter 'uper' (did you mean 'upper'?)", 14),
        ("$input.name | zzz", "unknown filter 'zzz' (available: trim, upper", 14),
        ("$input.name | upper(1)", "filter 'upper' takes no arguments, got 1", 14),
        ("$input.name | default", "filter 'default' needs exactly 1 argument, got 0", 14),
        ("$input.name | split(1, 2)", "filter 'split' takes at most 1 argument, got 2", 14),
        ("$input.name |", "expected a filter name after '|'", 13),
        ("$input.name | split(','", "expected ')'", 23),
    ],
)
def test_filter_syntax_errors(src: str, fragment: str, position: int) -> None:
    with pytest.raises(ExpressionSyntaxError) as info:
        parse_expression(src)
    assert fragment in info.value.message
    assert info.value.position == position
    assert info.value.expression == src


def test_unknown_filter_in_template_position_is_in_template_text() -> None:
    with pytest.raises(ExpressionSyntaxError) as info:
        parse_template("{{ $input.name | uper }}")
    e = info.value
    assert e.position == 17
    assert "{{ $input.name | uper }}"[e.position :].startswith("uper")
    assert str(e) == (
        "unknown filter 'uper' (did you mean 'upper'?) at position 17 in '{{ $input.name | uper }}'"
    )


def test_join_and_concat_size_caps() -> None:
    big = "x" * (MAX_TEXT_LENGTH // 2 + 1)
    s = Scope(input={"big": big, "parts": [big, big]})
    with pytest.raises(ExpressionError, match="longer than"):
        evaluate("$input.big + $input.big", s)
    with pytest.raises(ExpressionError, match="longer than"):
        evaluate("$input.parts | join", s)
    with pytest.raises(ExpressionError, match="longer than"):
        render("{{ $input.big }}{{ $input.big }}", s)


# --------------------------------------------------------------------------- operators


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),
        ("2 * 3 % 4", 2),
        ("7 / 2", 3.5),
        ("7 % 3", 1),
        ("-3 + 5", 2),
        ("- -3", 3),
        ("-(2 + 3)", -5),
        ("1.5 * 2", 3.0),
        ("'ab' + 'cd'", "abcd"),
        ("[1] + [2, 3]", [1, 2, 3]),
        ("$input.n * 2 > $vars.threshold", True),
        ("$input.name | trim | length > 3", True),
        ("$input.tags | length == 2", True),
        ("$input.num_text | int + 1", 43),
        ("$input.num_text | int + $input.num_text | int", 84),
        ("$input.tags | length * 2", 4),
        ("-$input.n | json", "-7"),
        ("1 == 1.0", True),
        ("true == 1", False),
        ("0 != false", True),
        ("'a' < 'b'", True),
        ("2 <= 2", True),
        ("3 >= 4", False),
        ("null == null", True),
        ("[1, 2] == [1, 2]", True),
        ("$vars.obj == $vars.obj", True),
        ("1 < 2 and 2 < 3", True),
        ("1 > 2 or 2 < 3", True),
        ("not 1 > 2", True),
        ("not true or true", True),
        ("not (true or true)", False),
        ("true or false and false", True),
        ("(true or false) and false", False),
        ('$input.n > 5 and $vars.mode == "fast"', True),
        ("1 and 'x'", True),
        ("0 or ''", False),
        ("$input.empty or $input.nothing", False),
        ("not $input.empty", True),
        ("false and $input.missing_key", False),  # short-circuit: never evaluated
        ("true or $input.missing_key", True),
        ("(1 < 2) == true", True),
    ],
)
def test_operators(src: str, expected: Any, scope: Scope) -> None:
    result = ev(src, scope)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("'Ada' in $input.name", True),
        ("'Bob' in $input.name", False),
        ("'x' in $input.tags", True),
        ("'z' not in $input.tags", True),
        ("'k' in $vars.obj", True),
        ("'q' in $vars.obj", False),
        ("1 in $vars.obj", False),
        ("1 in [1, 2]", True),
        ("true in [1, 2]", False),
        ("[1] in [[1], 2]", True),
        ("not 'x' in $input.tags", False),
    ],
)
def test_in(src: str, expected: bool, scope: Scope) -> None:
    assert ev(src, scope) is expected


@pytest.mark.parametrize(
    ("src", "fragment"),
    [
        ("'a' < 1", 'cannot compare text "a" < number 1'),
        ("[1] < [2]", "cannot compare list"),
        ("true < 2", "cannot compare boolean"),
        ("'a' + 1", 'cannot use + on text "a" and number 1 (to join text'),
        ("'a' * 3", "cannot use * on text"),
        ("[1] * 3", "cannot use * on list"),
        ("true + 1", "cannot use + on boolean"),
        ("null - 1", "cannot use - on null"),
        ("1 / 0", "division by zero"),
        ("1 % 0", "division by zero"),
        ("-'a'", "cannot negate text"),
        ("1 in 5", "'in' needs text, a list or an object on the right"),
        ("1 in 'abc'", "'in' on text needs text on the left"),
    ],
)
def test_type_errors(src: str, fragment: str, scope: Scope) -> None:
    e = err(src, scope)
    assert fragment in e.message
    assert e.position is not None


def test_operator_error_points_at_operator(scope: Scope) -> None:
    assert err("'a' < 1", scope).position == 4
    assert err("1 + 2 + 'x'", scope).position == 6


def test_huge_numbers_are_refused_not_hung() -> None:
    s = Scope(input={"big": 10**4000})
    with pytest.raises(ExpressionError, match="too large"):
        evaluate("$input.big * $input.big", s)
    with pytest.raises(ExpressionError, match="too large"):
        evaluate("$input.big / 3", s)
    with pytest.raises(ExpressionSyntaxError, match="too long"):
        parse_expression("1" * 5000)
    with pytest.raises(ExpressionSyntaxError, match="too large"):
        parse_expression("1e999")


# --------------------------------------------------------------------------- literals


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("42", 42),
        ("3.25", 3.25),
        ("1e3", 1000.0),
        ("2.5E-1", 0.25),
        ("'single'", "single"),
        ('"double"', "double"),
        (r"'it\'s'", "it's"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'a\nb\tc\\d'", "a\nb\tc\\d"),
        (r"'\u00e9'", "é"),
        ("true", True),
        ("false", False),
        ("null", None),
        ("[]", []),
        ("[1, [2, 'x'], ]", [1, [2, "x"]]),
    ],
)
def test_literals(src: str, expected: Any, scope: Scope) -> None:
    assert ev(src, scope) == expected


# --------------------------------------------------------------------------- syntax errors


@pytest.mark.parametrize(
    ("src", "fragment", "position"),
    [
        ("", "empty expression", 0),
        ("   ", "empty expression", 3),
        ("$foo.x", "unknown root '$foo'", 0),
        ("1 + $bar", "unknown root '$bar'", 4),
        ("$", "'$' must be followed by a root name", 0),
        ("1 +", "expression ends too early", 3),
        ("(1 + 2", "expected ')' to close '('", 6),
        ("$input.rows[0", "expected ']'", 13),
        ("[1, 2", "expected ']' to close the list", 5),
        ("1 2", "unexpected '2'", 2),
        ("$input.x = 1", "use == to compare", 9),
        ("$input.x && 1", "use 'and'", 9),
        ("!true", "use 'not'", 0),
        ("'abc", "text starting with ' is never closed", 0),
        (r"'a\qb'", "unknown escape", 2),
        (r"'\u12'", "4 hex digits", 1),
        ("$input.", "expected a key name after '.'", 7),
        ("$input.0", "expected a key name after '.'", 7),
        ("1 < 2 < 3", "comparisons cannot be chained", 6),
        ("1 == 1 != 2", "comparisons cannot be chained", 7),
        ("$node", "$node needs a node id", 5),
        ("$node[$input.x]", "$node needs a node id", 5),
        ("foo", "unknown name 'foo'", 0),
        ("and", "'and' needs a value before it", 0),
        ("12abc", "invalid number", 0),
        ("{1: 2}", "'{' is not allowed", 0),
        ("$input.x |> upper", "expected a filter name after '|'", 10),
    ],
)
def test_syntax_errors(src: str, fragment: str, position: int) -> None:
    with pytest.raises(ExpressionSyntaxError) as info:
        parse_expression(src)
    assert fragment in info.value.message, info.value.message
    assert info.value.position == position, str(info.value)
    assert info.value.expression == src


@pytest.mark.parametrize(
    ("text", "fragment", "position"),
    [
        ("{{ }}", "empty expression", 0),
        ("a {{ $input.x", "'{{' is never closed with '}}'", 2),
        ("{{ 'abc }}", "never closed", 3),
        ("ok {{ $input.x }} then {{ $nope }}", "unknown root '$nope'", 26),
    ],
)
def test_template_syntax_errors(text: str, fragment: str, position: int) -> None:
    with pytest.raises(ExpressionSyntaxError) as info:
        parse_template(text)
    assert fragment in info.value.message
    assert info.value.position == position
    assert info.value.expression == text


def test_error_is_picklable_and_relabelable() -> None:
    with pytest.raises(ExpressionSyntaxError) as info:
        parse_expression("1 +")
    e = info.value
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is ExpressionSyntaxError and str(again) == str(e)
    labelled = e.with_context("node a, config.x")
    assert isinstance(labelled, ExpressionSyntaxError)
    assert str(labelled).startswith("node a, config.x: expression ends too early")


# --------------------------------------------------------------------------- safety


@pytest.mark.parametrize(
    "src",
    [
        "__import__('os')",
        "__import__('os').system('echo hi')",
        "().__class__",
        "$input.__class__",
        "$input.__class__.__mro__",
        "$input['__class__']",
        "''.__class__",
        "'a'.upper",
        "$input.name.upper",
        "$input.tags.append",
        "$input.items",
        "open('/etc/passwd')",
        "eval('1')",
        "lambda: 1",
        "[x for x in $input.tags]",
        "$input.age ** 2",
        "1 if true else 2",
        "$input.tags[0:1]",
        "$input; 1",
        "$input.name | upper()()",
    ],
)
def test_no_python_escape(src: str, scope: Scope) -> None:
    with pytest.raises(ExpressionError):
        evaluate(src, scope)


def test_objects_in_scope_expose_no_attributes() -> None:
    class Secret:
        password = "hunter2"

    s = Scope(input={"obj": Secret()})
    with pytest.raises(ExpressionError, match="cannot read"):
        evaluate("$input.obj.password", s)


def test_length_limit() -> None:
    with pytest.raises(ExpressionSyntaxError, match="too long"):
        parse_expression("1" + " + 1" * MAX_EXPRESSION_LENGTH)
    with pytest.raises(ExpressionSyntaxError, match="too long"):
        parse_template("{{ 1 }}" + "x" * MAX_EXPRESSION_LENGTH)


@pytest.mark.parametrize(
    "src",
    [
        "(" * 5000 + "1" + ")" * 5000,
        "(" * 150 + "1" + ")" * 150,
        "[" * 500 + "]" * 500,
        "-" * 3000 + "1",
        "not " * 3000 + "true",
        "1" + " + 1" * 2000,
        "$input" + ".a" * 2000,
        "$input" + "[0]" * 1500,
        "1" + " | json" * 1200,
        "$input.x | default(" * 600 + "1" + ")" * 600,
    ],
)
def test_deep_nesting_is_a_syntax_error_not_a_crash(src: str) -> None:
    src = src[:MAX_EXPRESSION_LENGTH]
    with pytest.raises(ExpressionSyntaxError):
        parse_expression(src)
    with pytest.raises(ExpressionSyntaxError):
        parse_template("{{ " + src + " }}")


def test_moderate_nesting_is_fine(scope: Scope) -> None:
    depth = MAX_DEPTH // 2
    assert ev("(" * depth + "1" + ")" * depth, scope) == 1
    assert ev("1" + " + 1" * (depth - 2), scope) == depth - 1
    assert ev("[" * (depth - 2) + "]" * (depth - 2), scope) is not None


def test_deeply_nested_value_render_does_not_crash(scope: Scope) -> None:
    value: Any = "{{ 1 }}"
    for _ in range(2000):
        value = [value]
    with pytest.raises(ExpressionError, match="nested too deeply"):
        render(value, scope)
    assert check_value(value) == []


_PIECES = ["{{", "}}", "$input", "$node", "$loop", " and ", " or ", " not ", " in ", "true"]
_ALPHABET = st.sampled_from([*"$.[](){}|'\"\\ ,-+*/%<>=!_aeinorstu0123456789", *_PIECES])
_FUZZ = st.one_of(st.text(max_size=60), st.lists(_ALPHABET, max_size=40).map("".join))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_FUZZ)
def test_fuzz_parsers_only_raise_expression_errors(text: str) -> None:
    s = Scope(
        input={"a": [1, "x", None], "x": "text"},
        nodes={"a": {}},
        loop={"item": 1},
        env={"A": "b"},
    )
    for parse in (parse_expression, parse_template, parse_condition):
        try:
            parsed = parse(text)
        except ExpressionError:
            continue
        try:
            if isinstance(parsed, Expr):
                evaluate(parsed, s)
            else:
                render(text, s)
        except ExpressionError:
            pass
    check_value({"k": [text]})
    node_refs(text)
    roots_used(text)


@settings(max_examples=50, deadline=None)
@given(
    st.integers(min_value=1, max_value=4000), st.sampled_from(["(", "[", "-", "not ", "$input."])
)
def test_fuzz_deep_prefixes_never_crash(n: int, piece: str) -> None:
    src = piece * n
    try:
        parse_expression(src[:MAX_EXPRESSION_LENGTH])
    except ExpressionError:
        pass


# --------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$prev.ok == true", True),
        ("{{ $prev.ok == true }}", True),
        ("  {{ $input.n > 100 }}  ", False),
        ("$input.tags", True),
        ("$input.empty", False),
        ("$prev.error", False),
        ("$input.n > 5 and $vars.mode == 'fast'", True),
    ],
)
def test_evaluate_condition(text: str, expected: bool, scope: Scope) -> None:
    assert evaluate_condition(text, scope, "node cond") is expected


def test_condition_with_partial_braces_is_syntax_error(scope: Scope) -> None:
    with pytest.raises(ExpressionSyntaxError, match="a condition is one expression") as info:
        evaluate_condition("{{ $input.n }} > 5", scope, "node cond, config.expression")
    assert info.value.context == "node cond, config.expression"
    assert info.value.position == 0


def test_evaluate_accepts_parsed_and_wrapped(scope: Scope) -> None:
    assert evaluate(parse_expression("$input.n + 1"), scope) == 8
    assert evaluate("{{ $input.n + 1 }}", scope) == 8
    expr = parse_template("a {{ $input.n }}").expressions[0]
    assert evaluate(expr, scope) == 7


# --------------------------------------------------------------------------- static checks


def test_check_value_collects_all_errors_with_paths() -> None:
    config = {
        "inputs": {"a": "{{ $input.ok }}", "b": "{{ $nope }}", "c": ["x", "{{ 1 + }}"]},
        "timeout_s": 30,
        "code": "print('{not a template}')",
    }
    errors = check_value(config, "node calc, config")
    assert [e.context for e in errors] == [
        "node calc, config.inputs.b",
        "node calc, config.inputs.c[1]",
    ]
    assert all(isinstance(e, ExpressionSyntaxError) for e in errors)
    assert "unknown root '$nope'" in str(errors[0])
    assert check_value({"fine": "{{ $vars.x | default(1) }}"}) == []
    assert check_value(5) == []


def test_check_value_bare_conditions() -> None:
    assert check_value("$prev.ok == true", bare=True) == []
    assert check_value("{{ $prev.ok }}", bare=True) == []
    errors = check_value("$prev.ok = true", "node c, config.expression", bare=True)
    assert len(errors) == 1 and errors[0].position == 9


def test_node_refs_and_roots_used() -> None:
    config = {
        "inputs": {
            "a": "{{ $node.calc.rows[0] }} and {{ $node.fetch-2.status }}",
            "b": ['{{ $node["odd id"].x | default($vars.y) }}', "{{ $loop.item }}"],
            "bad": "{{ $node.broken. }}",
        },
        "plain": "$node.not_a_template",
    }
    assert node_refs(config) == {"calc", "fetch-2", "odd id"}
    assert roots_used(config) == {"node", "vars", "loop"}
    assert node_refs("$node.x.y > 1", bare=True) == {"x"}
    assert roots_used("$prev.ok and $env.X", bare=True) == {"prev", "env"}
    assert node_refs(42) == set()
    assert roots_used("{{ 1 + 2 }}") == set()


def test_non_text_input_is_an_expression_error() -> None:
    for parse in (parse_expression, parse_template, parse_condition):
        with pytest.raises(ExpressionSyntaxError, match="must be text"):
            parse(["not", "text"])  # type: ignore[arg-type]


def test_parse_is_cached() -> None:
    assert parse_expression("$input.cached + 1") is parse_expression("$input.cached + 1")
    assert parse_template("x {{ $input.c }}") is parse_template("x {{ $input.c }}")
