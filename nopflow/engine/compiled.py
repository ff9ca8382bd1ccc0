"""Expressions compiled once into Python closures, for blocks that evaluate them per item.

A closure takes the fast road for the common cases (a key that is there, numbers, text) and
raises `_Slow` for anything unusual; the caller then evaluates the same value with the tree
evaluator of `expressions`. Evaluation has no side effects, so results and error messages
are exactly the tree evaluator's; only their cost differs. "Missing" flows as `_MISS` (what
the tree evaluator calls `_Missing`) so `default(...)` stays on the fast road.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, NoReturn

from nopflow.engine import expressions as ex
from nopflow.engine.expressions import (
    _FILTER_FUNCS,
    _MAX_INT_BITS,
    MAX_DEPTH,
    MAX_TEXT_LENGTH,
    OUTSIDE_ITEMS,
    ExpressionError,
    Scope,
    _Binary,
    _Evaluator,
    _Filter,
    _Get,
    _ListLit,
    _Literal,
    _Missing,
    _Node,
    _Root,
    _to_text,
    _Unary,
)

__all__ = ["CompiledValue", "Condition", "compile_condition", "compile_expression", "compile_value"]

#: a compiled closure: (scope, $item, $index) -> value, `_MISS`, or raises `_Slow`
Fast = Callable[[Scope, Any, Any], Any]


class _Slow(Exception):
    """The fast road does not handle this case: evaluate with the tree evaluator."""


class _MissType:
    __slots__ = ()


#: a value that is not there (the fast road's `_Missing`, without the message)
_MISS: Any = _MissType()
_BIG = 1 << _MAX_INT_BITS
_NUMBERS = (int, float)
_PLAIN = frozenset({str, int, float})
_TRUTHY_TYPES = frozenset({bool, int, float, str, list, dict, type(None)})


class _FastEvaluator:
    """Stands in for `_Evaluator` when the fast road reuses its checks: any failure
    means "take the slow road", which produces the real error message."""

    def fail(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise _Slow

    def text_of(self, node: _Node) -> str:
        return ""


_FAST_EV: Any = _FastEvaluator()


def _need(f: Fast) -> Fast:
    """A closure that refuses a missing value (where `default` cannot catch it)."""

    def need(s: Scope, x: Any, i: Any) -> Any:
        v = f(s, x, i)
        if v is _MISS:
            raise _Slow
        return v

    return need


# --------------------------------------------------------------------------- node kinds


def _literal(node: _Literal) -> Fast:
    value = node.value
    return lambda s, x, i: value


def _list_lit(node: _ListLit) -> Fast:
    items = tuple(_need(_compile(i)) for i in node.items)
    return lambda s, x, i: [f(s, x, i) for f in items]


def _root(node: _Root) -> Fast:
    name = node.name
    if name == "item":
        def item(s: Scope, x: Any, i: Any) -> Any:
            if x is OUTSIDE_ITEMS:
                raise _Slow
            return x
        return item
    if name == "index":
        def index(s: Scope, x: Any, i: Any) -> Any:
            if x is OUTSIDE_ITEMS:
                raise _Slow
            return i
        return index
    if name == "node":
        nid = node.node_id
        return lambda s, x, i: s.nodes.get(nid, _MISS)
    if name == "loop":
        def loop(s: Scope, x: Any, i: Any) -> Any:
            if s.loop is None:
                raise _Slow
            return s.loop
        return loop
    if name == "env":
        return lambda s, x, i: {} if s.env is None else s.env
    attr = {"input": "input", "vars": "vars", "prev": "prev", "creds": "creds",
            "trigger": "trigger"}.get(name)
    if attr is None:  # a root this module does not know: always evaluate the slow way
        def unknown(s: Scope, x: Any, i: Any) -> Any:
            raise _Slow
        return unknown
    return lambda s, x, i: getattr(s, attr)


def _str_path(node: _Get) -> tuple[_Node, tuple[str, ...]]:
    """A chain of literal text keys (`$item.a.b`) and the node it starts from."""
    keys: list[str] = []
    cur: _Node = node
    while (isinstance(cur, _Get) and isinstance(cur.key, _Literal)
           and type(cur.key.value) is str):
        keys.append(cur.key.value)
        cur = cur.obj
    keys.reverse()
    return cur, tuple(keys)


def _get(node: _Get) -> Fast:
    base, keys = _str_path(node)
    if keys and not (isinstance(base, _Root) and base.name == "env"):
        start = _compile(base)
        if len(keys) == 1 and isinstance(base, _Root) and base.name == "item":
            (key,) = keys

            def item_key(s: Scope, x: Any, i: Any) -> Any:  # $item.KEY, the commonest
                if type(x) is dict:
                    return x.get(key, _MISS)
                if x is None:
                    return _MISS
                raise _Slow
            return item_key
        if len(keys) == 1:
            (key,) = keys

            def get1(s: Scope, x: Any, i: Any) -> Any:
                o = start(s, x, i)
                if type(o) is dict:
                    return o.get(key, _MISS)
                if o is _MISS or o is None:
                    return _MISS
                raise _Slow
            return get1

        def get_path(s: Scope, x: Any, i: Any) -> Any:
            o = start(s, x, i)
            for k in keys:
                if type(o) is dict:
                    o = o.get(k, _MISS)
                elif o is _MISS or o is None:
                    return _MISS
                else:
                    raise _Slow
            return o
        return get_path

    obj = _compile(node.obj)
    key_f = _need(_compile(node.key))

    def get(s: Scope, x: Any, i: Any) -> Any:
        o = obj(s, x, i)
        if o is _MISS:
            return _MISS
        k = key_f(s, x, i)
        if type(o) is dict and type(k) is str:
            return o.get(k, _MISS)
        if o is None:
            return _MISS
        if (type(o) is list or type(o) is str) and type(k) is int:
            return o[k] if -len(o) <= k < len(o) else _MISS
        raise _Slow
    return get


def _filter(node: _Filter) -> Fast:
    name = node.name
    obj = _compile(node.obj)
    if name == "default":
        alt = _compile(node.args[0])

        def default(s: Scope, x: Any, i: Any) -> Any:
            v = obj(s, x, i)
            if v is _MISS or v is None:
                return alt(s, x, i)
            return v
        return default
    if name in ("upper", "lower", "trim"):
        method = {"upper": str.upper, "lower": str.lower, "trim": str.strip}[name]

        def text(s: Scope, x: Any, i: Any) -> Any:
            v = obj(s, x, i)
            if type(v) is str:
                return method(v)
            raise _Slow
        return text
    args = tuple(_need(_compile(a)) for a in node.args)
    func = _FILTER_FUNCS[name]
    keeps_missing = name in ("first", "last")

    def apply(s: Scope, x: Any, i: Any) -> Any:
        v = obj(s, x, i)
        if v is _MISS:
            if keeps_missing:
                return _MISS
            raise _Slow
        out = func(_FAST_EV, node, v, [a(s, x, i) for a in args])
        return _MISS if isinstance(out, _Missing) else out
    return apply


def _truth(f: Fast) -> Callable[[Scope, Any, Any], bool]:
    def truth(s: Scope, x: Any, i: Any) -> bool:
        v = f(s, x, i)
        if type(v) in _TRUTHY_TYPES:
            return bool(v)
        raise _Slow
    return truth


def _unary(node: _Unary) -> Fast:
    if node.op == "not":
        t = _truth(_compile(node.operand))
        return lambda s, x, i: not t(s, x, i)
    f = _compile(node.operand)

    def negate(s: Scope, x: Any, i: Any) -> Any:
        v = f(s, x, i)
        if type(v) is int or type(v) is float:
            return -v
        raise _Slow
    return negate


def _finite(v: Any) -> Any:
    if type(v) is float:
        if v - v != 0.0:  # inf or nan
            raise _Slow
    elif not -_BIG < v < _BIG:
        raise _Slow
    return v


def _operands(node: _Binary) -> tuple[Fast, Fast, Any]:
    """Both sides' closures, and the right side's value when it is a literal (else _MISS)."""
    right = node.right
    const = right.value if isinstance(right, _Literal) else _MISS
    return _compile(node.left), _compile(right), const


def _item_key(node: _Node) -> str | None:
    """KEY when ``node`` is `$item.KEY` (read inline by the closures that use it most)."""
    if (isinstance(node, _Get) and isinstance(node.obj, _Root) and node.obj.name == "item"
            and isinstance(node.key, _Literal) and type(node.key.value) is str):
        return node.key.value
    return None


#: operators whose result is always true or false
_BOOLEAN_OPS = frozenset({"and", "or", "==", "!=", "<", "<=", ">", ">=", "in", "not in"})


def _binary(node: _Binary) -> Fast:
    op = node.op
    if op in ("and", "or"):
        lt, rt = _truth(_compile(node.left)), _truth(_compile(node.right))
        if op == "and":
            return lambda s, x, i: lt(s, x, i) and rt(s, x, i)
        return lambda s, x, i: lt(s, x, i) or rt(s, x, i)
    left, right, const = _operands(node)
    if op in ("==", "!="):
        negate = op == "!="

        def equal(s: Scope, x: Any, i: Any) -> bool:
            a, b = left(s, x, i), right(s, x, i)
            if a is _MISS or b is _MISS:
                raise _Slow
            t = type(a)
            same = (a == b) if t is type(b) and t in _PLAIN else ex._equal(a, b)
            return not same if negate else same
        return equal
    if op in ("<", "<=", ">", ">="):
        compare = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op]
        if type(const) in _PLAIN:  # `$item.price > 10`: one call on the fast road
            kind = type(const)
            numeric = kind is not str
            key = _item_key(node.left)

            def order_const(s: Scope, x: Any, i: Any) -> bool:
                if key is not None and type(x) is dict:
                    a = x.get(key, _MISS)
                else:
                    a = left(s, x, i)
                t = type(a)
                if t is kind or (numeric and (t is int or t is float)):
                    return compare(a, const)
                if a is _MISS:
                    raise _Slow
                return _Evaluator.order(_FAST_EV, node, op, a, const)
            return order_const

        def order(s: Scope, x: Any, i: Any) -> bool:
            a, b = left(s, x, i), right(s, x, i)
            t = type(a)
            if t is type(b) and t in _PLAIN:
                return compare(a, b)
            if a is _MISS or b is _MISS:
                raise _Slow
            return _Evaluator.order(_FAST_EV, node, op, a, b)
        return order
    if op in ("in", "not in"):
        negate = op == "not in"

        def contains(s: Scope, x: Any, i: Any) -> bool:
            a, b = left(s, x, i), right(s, x, i)
            if a is _MISS or b is _MISS:
                raise _Slow
            found = _Evaluator.contains(_FAST_EV, node, a, b)
            return not found if negate else found
        return contains
    if op in ("+", "-", "*"):
        calc = {"+": operator.add, "-": operator.sub, "*": operator.mul}[op]

        def arith(s: Scope, x: Any, i: Any) -> Any:
            a, b = left(s, x, i), right(s, x, i)
            ta, tb = type(a), type(b)
            if (ta is int or ta is float) and (tb is int or tb is float):
                return _finite(calc(a, b))
            if a is _MISS or b is _MISS:
                raise _Slow
            return _Evaluator.arith(_FAST_EV, node, op, a, b)
        return arith

    def divide(s: Scope, x: Any, i: Any) -> Any:
        a, b = left(s, x, i), right(s, x, i)
        if a is _MISS or b is _MISS:
            raise _Slow
        return _Evaluator.arith(_FAST_EV, node, op, a, b)
    return divide


_COMPILERS: dict[type, Callable[[Any], Fast]] = {
    _Literal: _literal,
    _ListLit: _list_lit,
    _Root: _root,
    _Get: _get,
    _Filter: _filter,
    _Unary: _unary,
    _Binary: _binary,
}


def _compile(node: _Node) -> Fast:
    return _COMPILERS[type(node)](node)


# --------------------------------------------------------------------------- values


def _compile_string(text: str) -> Fast | None:
    """A closure for a templated string, or None when it holds no template."""
    if "{{" not in text:
        return None
    template = ex.parse_template(text)
    if template.is_single:
        return _need(_compile(template.expressions[0].node))
    parts = tuple(
        p if isinstance(p, str) else _need(_compile(p.node)) for p in template.parts
    )

    def interpolate(s: Scope, x: Any, i: Any) -> str:
        out = "".join(p if type(p) is str else _to_text(p(s, x, i)) for p in parts)
        if len(out) > MAX_TEXT_LENGTH:
            raise _Slow
        return out
    return interpolate


def _compile_tree(value: Any, depth: int) -> Fast | None:
    """A closure rendering ``value`` (dicts and lists walked), None when nothing in it is
    templated (the value is then used as it is, like `render` does)."""
    if isinstance(value, str):
        return _compile_string(value)
    if isinstance(value, (dict, list)) and depth > MAX_DEPTH:
        raise ExpressionError("value is nested too deeply")
    if isinstance(value, dict):
        parts = {k: _compile_tree(v, depth + 1) for k, v in value.items()}
        if all(p is None for p in parts.values()):
            return None
        fields = tuple((k, p, value[k]) for k, p in parts.items())
        if all(p is not None for _k, p, _v in fields) and len(fields) == 3:
            (k0, p0, _), (k1, p1, _), (k2, p2, _) = fields  # the common small map, unrolled

            def obj3(s: Scope, x: Any, i: Any) -> dict[str, Any]:
                return {k0: p0(s, x, i), k1: p1(s, x, i), k2: p2(s, x, i)}  # type: ignore[misc]
            return obj3

        def obj(s: Scope, x: Any, i: Any) -> dict[str, Any]:
            return {k: v if p is None else p(s, x, i) for k, p, v in fields}
        return obj
    if isinstance(value, list):
        items = [(_compile_tree(v, depth + 1), v) for v in value]
        if all(p is None for p, _v in items):
            return None
        return lambda s, x, i: [v if p is None else p(s, x, i) for p, v in items]
    return None


class CompiledValue:
    """A config value compiled once; calling it renders it for one item.

    ``context`` labels errors ("node t, config.map"); a callable is asked (with the item's
    index) only when an error is reported, so a per-item label costs nothing when all goes
    well. Outside a per-item block pass `OUTSIDE_ITEMS` as the item.
    """

    __slots__ = ("_bare", "_context", "_fast", "_value")

    def __init__(self, value: Any, context: str | Callable[[Any], str] = "", *,
                 bare: bool = False) -> None:
        self._value = value
        self._context = context
        self._bare = bare
        if bare:
            self._fast: Fast | None = _compile(ex.parse_condition(value).node)
        else:
            self._fast = _compile_tree(value, 0)

    def __call__(self, scope: Scope, item: Any = OUTSIDE_ITEMS, index: Any = None) -> Any:
        fast = self._fast
        if fast is None:
            return self._value
        try:
            value = fast(scope, item, index)
            if value is not _MISS:
                return value
        except _Slow:
            pass
        return self.slow(scope, item, index)

    def map(self, scope: Scope, items: list[Any]) -> list[Any]:
        """The value rendered for every item, in order (the first failing item raises)."""
        fast = self._fast
        if fast is None:
            return [self._value for _ in items]
        if not self._bare:  # leaves refuse missing values, so the result is never _MISS
            try:
                return [fast(scope, x, i) for i, x in enumerate(items)]
            except _Slow:
                pass
        return [self(scope, x, i) for i, x in enumerate(items)]

    def slow(self, scope: Scope, item: Any, index: Any) -> Any:
        """The tree evaluator's answer for this item (a value, or its ExpressionError)."""
        scope.item, scope.index = item, index
        context = self._context(index) if callable(self._context) else self._context
        if self._bare:
            return ex.evaluate(self._value, scope, context)
        return ex.render(self._value, scope, context)


def compile_value(value: Any, context: str | Callable[[Any], str] = "") -> CompiledValue:
    """Compile a templated config value (any JSON value; `{{ }}` strings inside it).

    Raises `ExpressionSyntaxError` for text that does not parse."""
    return CompiledValue(value, context)


def compile_expression(text: str, context: str | Callable[[Any], str] = "") -> CompiledValue:
    """Compile a bare expression (braces optional), e.g. ``$item.price * 2``."""
    return CompiledValue(text, context, bare=True)


def compile_condition(text: str, context: str | Callable[[Any], str] = "") -> Condition:
    """Compile a condition (bare, or wrapped whole in `{{ }}`), e.g. ``$item.n > 2``."""
    return Condition(text, context)


class Condition:
    """A condition compiled once; its truth per item is Python truthiness, exactly like
    `expressions.evaluate_condition` (errors included)."""

    __slots__ = ("_always_bool", "_context", "_fast", "_text")

    def __init__(self, text: str, context: str | Callable[[Any], str] = "") -> None:
        self._text = text
        self._context = context
        root = ex.parse_condition(text).node
        self._fast = _compile(root)
        self._always_bool = (isinstance(root, _Binary) and root.op in _BOOLEAN_OPS) or (
            isinstance(root, _Unary) and root.op == "not")

    def __call__(self, scope: Scope, item: Any = OUTSIDE_ITEMS, index: Any = None) -> bool:
        try:
            value = self._fast(scope, item, index)
            if type(value) in _TRUTHY_TYPES:
                return bool(value)
        except _Slow:
            pass
        scope.item, scope.index = item, index
        context = self._context(index) if callable(self._context) else self._context
        return ex.evaluate_condition(self._text, scope, context)

    def select(self, scope: Scope, items: list[Any]) -> list[Any]:
        """The items for which the condition holds, in order (the first failing item raises)."""
        fast = self._fast
        if self._always_bool:
            try:
                return [x for i, x in enumerate(items) if fast(scope, x, i)]
            except _Slow:
                pass
        return [x for i, x in enumerate(items) if self(scope, x, i)]
