"""The safe expression language of workflow configs (docs/expressions.md).

A string config value may contain ``{{ … }}``. A value that is exactly one ``{{ expr }}``
keeps the type of the result; anything else is text with each expression interpolated.
A condition block's ``expression`` is a bare expression (the braces are optional).

Why a hand-written parser: workflow files come from anywhere (shared, downloaded), so an
expression must never reach ``eval``/``exec`` nor Python attribute access. Evaluation only
reads dict keys and list/string indices of JSON-like data in a :class:`Scope`; everything
else is a clear :class:`ExpressionError` a non-programmer can act on.

Grammar, loosest binding first::

    or  <  and  <  not  <  comparisons (== != < <= > >= in, not in; not chainable)
        <  + -  <  * / %  <  | filter  <  unary -  <  .key [index]  <  literals, $roots, ( )

so ``$input.name | length > 3`` is ``($input.name | length) > 3`` and
``$input.a | int + 1`` is ``($input.a | int) + 1``.

Decisions worth knowing:

* ``and``/``or``/``not`` short-circuit and always return a boolean (Python truthiness:
  ``0``, ``""``, ``[]``, ``{}`` and ``null`` are false).
* ``true == 1`` is false: booleans are not numbers here (arithmetic on them is an error).
* ``$env.NAME`` reads one environment variable, and only a name the workflow lists in
  ``settings.env_allow`` (`env_problems` finds the others; the runner's scope holds only the
  listed names). Bare ``$env`` and computed names (``$env[$input.k]``) are refused.
* "Missing" (absent key, index out of range, unset ``$env`` variable, ``$node.ID`` that has
  no output, ``first``/``last`` of an empty list) is a sentinel that flows along the path;
  ``default(v)`` turns it — and ``null`` — into ``v``; any other use is an error that
  names what was missing.
* ``split`` without an argument splits on runs of whitespace; ``join`` without one joins
  with ``""``. ``int`` truncates toward zero and accepts text holding a number ("3.9" → 3).
* ``$node.ID``: ``ID`` is read up to the next character that is not a letter, digit, ``_``
  or ``-``, so ``$node.calc-2.x`` is node ``calc-2``; write ``$node.calc.n - 2`` with spaces
  to subtract. ``$node["any id"]`` works too. Bare ``$node`` is refused so the compiler can
  check that every referenced node is an ancestor.
* Positions are 0-based offsets into the text shown in the error (the whole template for a
  templated value, so an editor can highlight exactly that spot).
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NoReturn

from nopflow.errors import NopflowError

__all__ = [
    "FILTERS",
    "MAX_DEPTH",
    "MAX_EXPRESSION_LENGTH",
    "MAX_TEXT_LENGTH",
    "OUTSIDE_ITEMS",
    "ROOTS",
    "CredentialUse",
    "Expr",
    "ExpressionError",
    "ExpressionSyntaxError",
    "Scope",
    "Template",
    "allowed_env",
    "check_value",
    "credential_uses",
    "env_problems",
    "evaluate",
    "evaluate_condition",
    "is_template",
    "node_refs",
    "parse_condition",
    "parse_expression",
    "parse_template",
    "render",
    "roots_used",
]

MAX_EXPRESSION_LENGTH = 10_000
"""Longest source text accepted (template or bare expression); keeps parsing bounded."""
MAX_DEPTH = 100
"""Deepest nesting accepted (parentheses, operators, paths); keeps us far from RecursionError."""
MAX_TEXT_LENGTH = 10_000_000
"""Largest text (characters) or list (items) an operation may build; stops memory blow-ups."""
_MAX_INT_BITS = 14_000
"""Integers larger than this (~4200 digits) are refused: they could not even be printed."""

ROOTS = ("input", "vars", "prev", "node", "loop", "env", "creds", "trigger", "item",
         "index")
_ROOT_SET = frozenset(ROOTS)

# name -> (min args, max args)
FILTERS: dict[str, tuple[int, int]] = {
    "trim": (0, 0),
    "upper": (0, 0),
    "lower": (0, 0),
    "length": (0, 0),
    "first": (0, 0),
    "last": (0, 0),
    "json": (0, 0),
    "int": (0, 0),
    "float": (0, 0),
    "default": (1, 1),
    "split": (0, 1),
    "join": (0, 1),
}


# --------------------------------------------------------------------------- errors


class ExpressionError(NopflowError):
    """An expression that cannot be parsed or evaluated.

    Attributes are kept separately so the inspector can highlight ``position`` inside
    ``expression``; ``str()`` is the full sentence for logs and the run view.
    """

    def __init__(
        self,
        message: str,
        expression: str = "",
        position: int | None = None,
        context: str = "",
    ) -> None:
        self.message = message
        self.expression = expression
        self.position = position
        self.context = context
        super().__init__(self._format())

    def _format(self) -> str:
        text = f"{self.context}: {self.message}" if self.context else self.message
        if self.position is not None:
            text += f" at position {self.position}"
        if self.expression:
            text += f" in {_preview_source(self.expression)}"
        return text

    def __str__(self) -> str:
        return self._format()

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (dask executor); keep them picklable.
        return (type(self), (self.message, self.expression, self.position, self.context))

    def with_context(self, context: str) -> ExpressionError:
        """A copy of this error labelled with ``context`` (e.g. "node calc, config.x")."""
        return type(self)(self.message, self.expression, self.position, context)


class ExpressionSyntaxError(ExpressionError):
    """The text is not a valid expression; raised at parse time, so before anything runs."""


def _preview_source(src: str, limit: int = 200) -> str:
    if len(src) > limit:
        src = src[:limit] + "…"
    return f"'{src}'"


def _preview(value: Any, limit: int = 40) -> str:
    """A short human description of a value for error messages."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return text


def _kind(value: Any) -> str:
    """The user-facing name of a value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def _describe(value: Any) -> str:
    if value is None:
        return "null"  # not "null null"
    return f"{_kind(value)} {_preview(value)}"


# --------------------------------------------------------------------------- lexer

_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")
_NODE_ID_CHARS = _NAME_CHARS | frozenset("-")
_DIGITS = frozenset("0123456789")
_TWO_CHAR_OPS = ("==", "!=", "<=", ">=")
_ONE_CHAR_OPS = frozenset("<>+-*/%()[],.|")
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r", "/": "/"}
_HINTS = {
    "=": "use == to compare",
    "!": "use 'not' (or != to compare)",
    "&": "use 'and'",
    "{": "'{' is not allowed inside an expression",
    "}": "'}' is not allowed inside an expression",
}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # NUM STR NAME ROOT OP CLOSE EOF
    value: Any
    pos: int
    end: int


def _lex(src: str, start: int, in_template: bool) -> tuple[list[_Tok], int]:
    """Tokenize ``src`` from ``start``.

    In a template, stops after the closing ``}}`` (strings may contain ``}}``) and returns
    the offset after it; otherwise runs to the end of ``src``.
    """
    toks: list[_Tok] = []
    i = start
    n = len(src)
    while True:
        while i < n and src[i] in " \t\r\n":
            i += 1
        if i >= n:
            if in_template:
                raise ExpressionSyntaxError("'{{' is never closed with '}}'", src, start - 2)
            toks.append(_Tok("EOF", None, i, i))
            return toks, i
        c = src[i]
        if in_template and src.startswith("}}", i):
            toks.append(_Tok("EOF", None, i, i + 2))
            return toks, i + 2
        after_node_dot = (
            len(toks) >= 2
            and toks[-1].kind == "OP"
            and toks[-1].value == "."
            and toks[-2].kind == "ROOT"
            and toks[-2].value == "node"
        )
        if after_node_dot and c in _NODE_ID_CHARS:
            j = i
            while j < n and src[j] in _NODE_ID_CHARS:
                j += 1
            toks.append(_Tok("NAME", src[i:j], i, j))
            i = j
        elif c in _NAME_START:
            j = i
            while j < n and src[j] in _NAME_CHARS:
                j += 1
            toks.append(_Tok("NAME", src[i:j], i, j))
            i = j
        elif c == "$":
            j = i + 1
            while j < n and src[j] in _NAME_CHARS:
                j += 1
            name = src[i + 1 : j]
            if not name:
                raise ExpressionSyntaxError(
                    "'$' must be followed by a root name such as $input", src, i
                )
            if name not in _ROOT_SET:
                roots = ", ".join("$" + r for r in ROOTS)
                raise ExpressionSyntaxError(f"unknown root '${name}' (use one of {roots})", src, i)
            toks.append(_Tok("ROOT", name, i, j))
            i = j
        elif c in _DIGITS:
            toks.append(_lex_number(src, i))
            i = toks[-1].end
        elif c in "'\"":
            toks.append(_lex_string(src, i))
            i = toks[-1].end
        elif src.startswith(_TWO_CHAR_OPS, i):
            toks.append(_Tok("OP", src[i : i + 2], i, i + 2))
            i += 2
        elif c in _ONE_CHAR_OPS:
            toks.append(_Tok("OP", c, i, i + 1))
            i += 1
        else:
            hint = _HINTS.get(c)
            msg = f"unexpected character {c!r}" + (f" ({hint})" if hint else "")
            raise ExpressionSyntaxError(msg, src, i)


def _lex_number(src: str, i: int) -> _Tok:
    n = len(src)
    j = i
    while j < n and src[j] in _DIGITS:
        j += 1
    is_float = False
    if j + 1 < n and src[j] == "." and src[j + 1] in _DIGITS:
        is_float = True
        j += 1
        while j < n and src[j] in _DIGITS:
            j += 1
    if j < n and src[j] in "eE":
        k = j + 1
        if k < n and src[k] in "+-":
            k += 1
        if k < n and src[k] in _DIGITS:
            is_float = True
            j = k
            while j < n and src[j] in _DIGITS:
                j += 1
    if j < n and src[j] in _NAME_CHARS:
        raise ExpressionSyntaxError(f"invalid number {src[i : j + 1]!r}", src, i)
    text = src[i:j]
    try:
        value: int | float = float(text) if is_float else int(text)
    except ValueError:
        raise ExpressionSyntaxError("number is too long", src, i) from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ExpressionSyntaxError("number is too large", src, i)
    return _Tok("NUM", value, i, j)


def _lex_string(src: str, i: int) -> _Tok:
    quote = src[i]
    out: list[str] = []
    j = i + 1
    n = len(src)
    while j < n:
        c = src[j]
        if c == quote:
            return _Tok("STR", "".join(out), i, j + 1)
        if c == "\\":
            if j + 1 >= n:
                break
            e = src[j + 1]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                j += 2
                continue
            if e == "u":
                digits = src[j + 2 : j + 6]
                if len(digits) == 4 and all(d in "0123456789abcdefABCDEF" for d in digits):
                    out.append(chr(int(digits, 16)))
                    j += 6
                    continue
                raise ExpressionSyntaxError("\\u must be followed by 4 hex digits", src, j)
            raise ExpressionSyntaxError(
                f"unknown escape '\\{e}' in text (use \\\\ for a backslash)", src, j
            )
        out.append(c)
        j += 1
    raise ExpressionSyntaxError(f"text starting with {quote} is never closed", src, i)


# --------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True, slots=True, eq=False)
class _Node:
    pos: int  # where errors about this node point
    start: int  # source span, for describing sub-expressions in messages
    end: int
    depth: int


@dataclass(frozen=True, slots=True, eq=False)
class _Literal(_Node):
    value: Any


@dataclass(frozen=True, slots=True, eq=False)
class _ListLit(_Node):
    items: tuple[_Node, ...]


@dataclass(frozen=True, slots=True, eq=False)
class _Root(_Node):
    name: str
    node_id: str | None  # for $node.ID


@dataclass(frozen=True, slots=True, eq=False)
class _Get(_Node):
    obj: _Node
    key: _Node  # a _Literal for .name
    dotted: bool


@dataclass(frozen=True, slots=True, eq=False)
class _Filter(_Node):
    obj: _Node
    name: str
    args: tuple[_Node, ...]


@dataclass(frozen=True, slots=True, eq=False)
class _Unary(_Node):
    op: str  # "-" or "not"
    operand: _Node


@dataclass(frozen=True, slots=True, eq=False)
class _Binary(_Node):
    op: str  # arithmetic, comparison, "in", "not in", "and", "or"
    left: _Node
    right: _Node


def _children(node: _Node) -> Iterator[_Node]:
    if isinstance(node, _ListLit):
        yield from node.items
    elif isinstance(node, _Get):
        yield node.obj
        yield node.key
    elif isinstance(node, _Filter):
        yield node.obj
        yield from node.args
    elif isinstance(node, _Unary):
        yield node.operand
    elif isinstance(node, _Binary):
        yield node.left
        yield node.right


def _walk(node: _Node) -> Iterator[_Node]:
    stack = [node]
    while stack:
        cur = stack.pop()
        yield cur
        stack.extend(_children(cur))


# --------------------------------------------------------------------------- parser

_COMPARE = frozenset({"==", "!=", "<", "<=", ">", ">=", "in", "not in"})
_BP = {"or": 1, "and": 2, "in": 4, "not in": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6, "|": 7}
_BP.update(dict.fromkeys(("==", "!=", "<", "<=", ">", ">="), 4))
_NOT_OPERAND_BP = 3
_NEG_OPERAND_BP = 7
_KEYWORDS = frozenset({"true", "false", "null", "and", "or", "not", "in"})


class _Parser:
    """Pratt parser: few stack frames per nesting level, so MAX_DEPTH is safe."""

    def __init__(self, src: str, toks: list[_Tok]) -> None:
        self.src = src
        self.toks = toks
        self.i = 0
        self.level = 0

    # helpers
    def peek(self, k: int = 0) -> _Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        if tok.kind != "EOF":
            self.i += 1
        return tok

    def fail(self, message: str, pos: int) -> NoReturn:
        raise ExpressionSyntaxError(message, self.src, pos)

    def is_op(self, value: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == "OP" and tok.value == value

    def expect_op(self, value: str, what: str) -> _Tok:
        tok = self.peek()
        if not (tok.kind == "OP" and tok.value == value):
            self.fail(f"expected '{value}' {what}, found {self.show(tok)}", tok.pos)
        return self.take()

    def show(self, tok: _Tok) -> str:
        if tok.kind == "EOF":
            return "the end of the expression"
        return repr(self.src[tok.pos : tok.end])

    def make(self, cls: type[_Node], pos: int, start: int, end: int, *rest: Any) -> Any:
        depth = 1
        for part in rest:
            if isinstance(part, _Node):
                depth = max(depth, part.depth + 1)
            elif isinstance(part, tuple):
                for item in part:
                    if isinstance(item, _Node):
                        depth = max(depth, item.depth + 1)
        if depth > MAX_DEPTH:
            self.fail(f"expression is nested too deeply (more than {MAX_DEPTH} levels)", pos)
        return cls(pos, start, end, depth, *rest)

    # grammar
    def parse(self) -> _Node:
        if self.peek().kind == "EOF":
            self.fail("empty expression", self.peek().pos)
        node = self.expr(0)
        tok = self.peek()
        if tok.kind != "EOF":
            self.fail(f"unexpected {self.show(tok)} (missing an operator?)", tok.pos)
        return node

    def infix_op(self) -> tuple[str, _Tok] | None:
        tok = self.peek()
        if tok.kind == "OP" and tok.value in _BP:
            return tok.value, tok
        if tok.kind == "NAME":
            if tok.value in ("and", "or", "in"):
                return tok.value, tok
            if tok.value == "not":
                nxt = self.peek(1)
                if nxt.kind == "NAME" and nxt.value == "in":
                    return "not in", tok
        return None

    def expr(self, min_bp: int) -> _Node:
        self.level += 1
        if self.level > MAX_DEPTH:
            self.fail(
                f"expression is nested too deeply (more than {MAX_DEPTH} levels)",
                self.peek().pos,
            )
        left = self.prefix()
        compared = False
        while True:
            found = self.infix_op()
            if found is None:
                break
            op, tok = found
            bp = _BP[op]
            if bp <= min_bp:
                break
            if op in _COMPARE:
                if compared:
                    self.fail("comparisons cannot be chained; join them with 'and'", tok.pos)
                compared = True
            else:
                compared = False
            self.take()
            if op == "not in":
                self.take()
            if op == "|":
                left = self.filter(left, tok)
                continue
            right = self.expr(bp)
            left = self.make(_Binary, tok.pos, left.start, right.end, op, left, right)
        self.level -= 1
        return left

    def filter(self, left: _Node, bar: _Tok) -> _Node:
        tok = self.peek()
        if tok.kind != "NAME":
            self.fail(f"expected a filter name after '|', found {self.show(tok)}", tok.pos)
        self.take()
        name = tok.value
        if name not in FILTERS:
            close = difflib.get_close_matches(name, FILTERS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "available: " + ", ".join(FILTERS)
            self.fail(f"unknown filter '{name}' ({hint})", tok.pos)
        args: list[_Node] = []
        end = tok.end
        if self.is_op("("):
            self.take()
            if not self.is_op(")"):
                while True:
                    args.append(self.expr(0))
                    if self.is_op(","):
                        self.take()
                        continue
                    break
            end = self.expect_op(")", f"to close the arguments of '{name}'").end
        lo, hi = FILTERS[name]
        if not lo <= len(args) <= hi:
            if lo == hi == 0:
                want = "takes no arguments"
            elif lo == hi:
                want = f"needs exactly {lo} argument{'s' if lo != 1 else ''}"
            else:
                want = f"takes at most {hi} argument{'s' if hi != 1 else ''}"
            self.fail(f"filter '{name}' {want}, got {len(args)}", tok.pos)
        return self.make(_Filter, tok.pos, left.start, end, left, name, tuple(args))

    def prefix(self) -> _Node:
        tok = self.peek()
        if tok.kind == "OP" and tok.value == "-":
            self.take()
            operand = self.expr(_NEG_OPERAND_BP)
            return self.make(_Unary, tok.pos, tok.pos, operand.end, "-", operand)
        if tok.kind == "NAME" and tok.value == "not":
            self.take()
            operand = self.expr(_NOT_OPERAND_BP)
            return self.make(_Unary, tok.pos, tok.pos, operand.end, "not", operand)
        return self.postfix(self.atom())

    def atom(self) -> _Node:
        tok = self.take()
        if tok.kind in ("NUM", "STR"):
            return self.make(_Literal, tok.pos, tok.pos, tok.end, tok.value)
        if tok.kind == "NAME":
            consts = {"true": True, "false": False, "null": None}
            if tok.value in consts:
                return self.make(_Literal, tok.pos, tok.pos, tok.end, consts[tok.value])
            if tok.value in _KEYWORDS:
                self.fail(f"'{tok.value}' needs a value before it", tok.pos)
            self.fail(
                f"unknown name '{tok.value}' (values start with $, e.g. $input.{tok.value};"
                " text goes in quotes)",
                tok.pos,
            )
        if tok.kind == "ROOT":
            return self.root(tok)
        if tok.kind == "OP" and tok.value == "(":
            inner = self.expr(0)
            self.expect_op(")", "to close '('")
            return inner
        if tok.kind == "OP" and tok.value == "[":
            items: list[_Node] = []
            while not self.is_op("]"):
                items.append(self.expr(0))
                if not self.is_op(","):
                    break
                self.take()
            end = self.expect_op("]", "to close the list").end
            return self.make(_ListLit, tok.pos, tok.pos, end, tuple(items))
        if tok.kind == "EOF":
            self.fail("expression ends too early", tok.pos)
        self.fail(f"unexpected {self.show(tok)}", tok.pos)

    def root(self, tok: _Tok) -> _Node:
        if tok.value != "node":
            return self.make(_Root, tok.pos, tok.pos, tok.end, tok.value, None)
        if self.is_op("."):
            self.take()
            ident = self.peek()
            if ident.kind != "NAME":
                self.fail("expected a node id after '$node.'", ident.pos)
            self.take()
            return self.make(_Root, ident.pos, tok.pos, ident.end, "node", ident.value)
        if self.is_op("[") and self.peek(1).kind == "STR" and self.is_op("]", 2):
            self.take()
            ident = self.take()
            end = self.take().end
            return self.make(_Root, ident.pos, tok.pos, end, "node", ident.value)
        self.fail('$node needs a node id: $node.ID or $node["ID"]', tok.end)

    def postfix(self, node: _Node) -> _Node:
        while True:
            if self.is_op("."):
                self.take()
                tok = self.peek()
                if tok.kind != "NAME":
                    self.fail(
                        f"expected a key name after '.', found {self.show(tok)}"
                        ' (use ["…"] for other keys)',
                        tok.pos,
                    )
                self.take()
                key = self.make(_Literal, tok.pos, tok.pos, tok.end, tok.value)
                node = self.make(_Get, tok.pos, node.start, tok.end, node, key, True)
            elif self.is_op("["):
                open_tok = self.take()
                key = self.expr(0)
                end = self.expect_op("]", "to close '['").end
                node = self.make(_Get, open_tok.pos + 1, node.start, end, node, key, False)
            else:
                return node


# --------------------------------------------------------------------------- public parse API


@dataclass(frozen=True, slots=True, eq=False)
class Expr:
    """A parsed expression. ``source`` is the text positions refer to (the whole template
    for an expression inside ``{{ }}``); ``text`` is just this expression's own text."""

    source: str
    text: str
    node: _Node = field(repr=False)

    @property
    def roots(self) -> frozenset[str]:
        """Roots used, e.g. ``{"input", "loop"}``."""
        return frozenset(n.name for n in _walk(self.node) if isinstance(n, _Root))

    @property
    def node_refs(self) -> frozenset[str]:
        """Node ids referenced through ``$node.ID``."""
        return frozenset(
            n.node_id for n in _walk(self.node) if isinstance(n, _Root) and n.node_id is not None
        )


@dataclass(frozen=True, slots=True, eq=False)
class Template:
    """A string split into literal text and expressions.

    ``is_single`` means the whole string is one ``{{ expr }}`` (no text around it, not even
    spaces), so rendering keeps the result's type.
    """

    source: str
    parts: tuple[str | Expr, ...]

    @property
    def is_single(self) -> bool:
        return len(self.parts) == 1 and isinstance(self.parts[0], Expr)

    @property
    def expressions(self) -> tuple[Expr, ...]:
        return tuple(p for p in self.parts if isinstance(p, Expr))


def _check_length(src: str) -> None:
    if len(src) > MAX_EXPRESSION_LENGTH:
        raise ExpressionSyntaxError(
            f"text is too long to hold expressions ({len(src)} characters, "
            f"limit {MAX_EXPRESSION_LENGTH})",
            src[:200],
            None,
        )


def _parse_span(src: str, toks: list[_Tok], start: int, end: int) -> Expr:
    node = _Parser(src, toks).parse()
    return Expr(src, src[start:end].strip(), node)


def _need_str(value: object, what: str) -> None:
    # Checked before the cache: lru_cache would raise TypeError on unhashable values.
    if not isinstance(value, str):
        raise ExpressionSyntaxError(f"{what} must be text, not {_kind(value)}")


def parse_expression(src: str) -> Expr:
    """Parse a bare expression (no ``{{ }}``). Raises :class:`ExpressionSyntaxError`.

    Cached on the source text: the engine renders the same configs for thousands of nodes.
    """
    _need_str(src, "an expression")
    return _parse_expression(src)


@lru_cache(maxsize=4096)
def _parse_expression(src: str) -> Expr:
    _check_length(src)
    toks, _ = _lex(src, 0, in_template=False)
    return _parse_span(src, toks, 0, len(src))


def parse_template(text: str) -> Template:
    """Split ``text`` into literal parts and ``{{ }}`` expressions (cached).

    Raises :class:`ExpressionSyntaxError` for the first bad expression, with its position
    in ``text``. Text without ``{{`` is a template with one literal part.
    """
    _need_str(text, "a template")
    return _parse_template(text)


@lru_cache(maxsize=4096)
def _parse_template(text: str) -> Template:
    _check_length(text)
    parts: list[str | Expr] = []
    i = 0
    while True:
        j = text.find("{{", i)
        if j < 0:
            if i < len(text):
                parts.append(text[i:])
            break
        if j > i:
            parts.append(text[i:j])
        toks, after = _lex(text, j + 2, in_template=True)
        if toks[0].kind == "EOF":
            raise ExpressionSyntaxError("empty expression inside '{{ }}'", text, j)
        parts.append(_parse_span(text, toks, j + 2, after - 2))
        i = after
    return Template(text, tuple(parts))


def is_template(text: object) -> bool:
    """Whether ``text`` is a string holding ``{{`` (cheap pre-check before parsing)."""
    return isinstance(text, str) and "{{" in text


def parse_condition(text: str) -> Expr:
    """Parse a condition: a bare expression, optionally wrapped whole in ``{{ }}`` (cached)."""
    _need_str(text, "a condition")
    return _parse_condition(text)


@lru_cache(maxsize=4096)
def _parse_condition(text: str) -> Expr:
    if "{{" in text:
        stripped = text.strip()
        if stripped.startswith("{{") and stripped.endswith("}}"):
            template = parse_template(stripped)
            if template.is_single:
                return template.expressions[0]
        _check_length(text)
        raise ExpressionSyntaxError(
            "a condition is one expression: write it without '{{ }}' "
            "or wrap the whole condition in a single '{{ }}'",
            text,
            text.find("{{"),
        )
    return parse_expression(text)


# --------------------------------------------------------------------------- evaluation


class _Outside:
    """The type of `OUTSIDE_ITEMS`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "OUTSIDE_ITEMS"


#: `Scope.item` outside a per-item block (`$item` is then an error; null is a real item)
OUTSIDE_ITEMS: Any = _Outside()


@dataclass
class Scope:
    """Everything an expression can read. Values are JSON-like data; nothing else is reachable."""

    input: Mapping[str, Any] = field(default_factory=dict)
    vars: Mapping[str, Any] = field(default_factory=dict)
    prev: Any = field(default_factory=dict)
    nodes: Mapping[str, Any] = field(default_factory=dict)  # node id -> output
    loop: Mapping[str, Any] | None = None  # None outside a loop body
    env: Mapping[str, str] | None = None  # $env: only allow-listed names (None = none)
    #: credentials the run resolved: name -> {field: value} (only the names it references)
    creds: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: what started the run (docs/triggers.md): `{"type": "manual"}` unless a trigger fired
    trigger: Mapping[str, Any] = field(default_factory=lambda: {"type": "manual"})
    #: `$item` / `$index`: the current item of a transform, filter or aggregate node
    item: Any = field(default=OUTSIDE_ITEMS, repr=False)
    index: int | None = None


class _Missing:
    """A value that is not there; carries why, so a later error can say so."""

    __slots__ = ("message", "position")

    def __init__(self, message: str, position: int) -> None:
        self.message = message
        self.position = position


class _Evaluator:
    def __init__(self, scope: Scope, source: str, context: str) -> None:
        self.scope = scope
        self.source = source
        self.context = context

    def fail(self, message: str, node: _Node | None = None, pos: int | None = None) -> NoReturn:
        if pos is None and node is not None:
            pos = node.pos
        raise ExpressionError(message, self.source, pos, self.context)

    def text_of(self, node: _Node) -> str:
        text = self.source[node.start : node.end].strip()
        return text if len(text) <= 60 else text[:60] + "…"

    def need(self, value: Any) -> Any:
        """Refuse a missing value anywhere ``default`` cannot catch it."""
        if isinstance(value, _Missing):
            self.fail(value.message, pos=value.position)
        return value

    def value(self, node: _Node) -> Any:
        """Evaluate to a real value (missing is an error)."""
        return self.need(self.eval(node))

    def eval(self, node: _Node) -> Any:
        handler = _HANDLERS[type(node)]
        return handler(self, node)

    # node kinds
    def literal(self, node: _Literal) -> Any:
        return node.value

    def list_lit(self, node: _ListLit) -> Any:
        return [self.value(item) for item in node.items]

    def root(self, node: _Root) -> Any:
        scope = self.scope
        name = node.name
        if name == "input":
            return scope.input
        if name == "vars":
            return scope.vars
        if name == "prev":
            return scope.prev
        if name == "env":
            return {} if scope.env is None else scope.env
        if name == "creds":
            return scope.creds
        if name == "trigger":
            return scope.trigger
        if name == "item" or name == "index":
            if scope.item is OUTSIDE_ITEMS:
                self.fail(f"${name} is only available inside transform, filter and "
                          "aggregate items", node)
            return scope.item if name == "item" else scope.index
        if name == "loop":
            if scope.loop is None:
                self.fail("$loop is only available inside a loop body", node)
            return scope.loop
        # $node.ID
        assert node.node_id is not None
        if node.node_id in scope.nodes:
            return scope.nodes[node.node_id]
        return _Missing(
            f"node '{node.node_id}' has no output (it has not run, was skipped, "
            "or is not upstream of this node)",
            node.pos,
        )

    def get(self, node: _Get) -> Any:
        obj = self.eval(node.obj)
        if isinstance(obj, _Missing):
            return obj
        key = self.value(node.key)
        if isinstance(obj, Mapping) and isinstance(key, str) and key in obj:
            return obj[key]  # the common case; the error text below is built only if needed
        where = self.text_of(node.obj)
        if isinstance(obj, Mapping):
            if not isinstance(key, str):
                self.fail(f"{where} is an object; use a text key, not {_describe(key)}", node)
            if isinstance(node.obj, _Root) and node.obj.name == "env":
                return _Missing(f"environment variable '{key}' is not set", node.pos)
            keys = [str(k) for k in obj]
            if not keys:
                avail = "it is empty"
            else:
                avail = "available: " + ", ".join(keys[:10]) + (", …" if len(keys) > 10 else "")
            return _Missing(f"missing key '{key}' in {where} ({avail})", node.pos)
        if obj is None:
            return _Missing(f"cannot read {_preview(key)} of {where}: it is null", node.pos)
        if isinstance(obj, (list, tuple, str)):
            if isinstance(key, bool) or not isinstance(key, int):
                what = "text" if isinstance(obj, str) else "a list"
                hint = "" if not node.dotted else " (use [0], [1], … or a filter like first)"
                self.fail(
                    f"{where} is {what}; it is indexed by number, not {_describe(key)}{hint}",
                    node,
                )
            if -len(obj) <= key < len(obj):
                return obj[key]
            return _Missing(
                f"index {key} is out of range for {where} (it has {len(obj)} item"
                f"{'s' if len(obj) != 1 else ''})",
                node.pos,
            )
        self.fail(f"cannot read {_preview(key)} of {where}: it is {_describe(obj)}", node)

    def filter(self, node: _Filter) -> Any:
        value = self.eval(node.obj)
        name = node.name
        if name == "default":
            if isinstance(value, _Missing) or value is None:
                return self.eval(node.args[0])  # may stay missing: a later default can catch it
            return value
        if name in ("first", "last") and isinstance(value, _Missing):
            return value
        value = self.need(value)
        args = [self.value(a) for a in node.args]
        return _FILTER_FUNCS[name](self, node, value, args)

    def unary(self, node: _Unary) -> Any:
        if node.op == "not":
            return not self.truth(node.operand)
        value = self.value(node.operand)
        if not _is_number(value):
            self.fail(f"cannot negate {_describe(value)}: it is not a number", node)
        return -value

    def truth(self, node: _Node) -> bool:
        value = self.value(node)
        try:
            return bool(value)
        except Exception:  # a foreign object with a broken __bool__
            self.fail(f"cannot use {_describe(value)} as true/false", node)

    def binary(self, node: _Binary) -> Any:
        op = node.op
        if op == "and":
            return self.truth(node.left) and self.truth(node.right)
        if op == "or":
            return self.truth(node.left) or self.truth(node.right)
        left = self.value(node.left)
        right = self.value(node.right)
        if op == "==":
            return _equal(left, right)
        if op == "!=":
            return not _equal(left, right)
        if op in ("in", "not in"):
            found = self.contains(node, left, right)
            return found if op == "in" else not found
        if op in ("<", "<=", ">", ">="):
            return self.order(node, op, left, right)
        return self.arith(node, op, left, right)

    def contains(self, node: _Binary, item: Any, container: Any) -> bool:
        if isinstance(container, str):
            if not isinstance(item, str):
                self.fail(f"'in' on text needs text on the left, not {_describe(item)}", node)
            return item in container
        if isinstance(container, Mapping):
            return isinstance(item, str) and item in container
        if isinstance(container, (list, tuple)):
            return any(_equal(item, x) for x in container)
        self.fail(
            f"'in' needs text, a list or an object on the right, not {_describe(container)}",
            node,
        )

    def order(self, node: _Binary, op: str, left: Any, right: Any) -> bool:
        ok = (_is_number(left) and _is_number(right)) or (
            isinstance(left, str) and isinstance(right, str)
        )
        if not ok:
            self.fail(
                f"cannot compare {_describe(left)} {op} {_describe(right)} "
                "(only numbers with numbers or text with text; convert with | int or | float)",
                node,
            )
        if op == "<":
            return left < right
        if op == "<=":
            return left <= right
        if op == ">":
            return left > right
        return left >= right

    def arith(self, node: _Binary, op: str, left: Any, right: Any) -> Any:
        if op == "+" and isinstance(left, str) and isinstance(right, str):
            if len(left) + len(right) > MAX_TEXT_LENGTH:
                self.fail(f"text would be longer than {MAX_TEXT_LENGTH} characters", node)
            return left + right
        if op == "+" and isinstance(left, list) and isinstance(right, list):
            if len(left) + len(right) > MAX_TEXT_LENGTH:
                self.fail(f"list would have more than {MAX_TEXT_LENGTH} items", node)
            return left + right
        if not (_is_number(left) and _is_number(right)):
            hint = ""
            if op == "+" and (isinstance(left, str) or isinstance(right, str)):
                hint = " (to join text with a number, convert it first, e.g. x | json)"
            self.fail(f"cannot use {op} on {_describe(left)} and {_describe(right)}{hint}", node)
        try:
            if op == "+":
                result = left + right
            elif op == "-":
                result = left - right
            elif op == "*":
                result = left * right
            elif op == "/":
                result = left / right
            else:
                result = left % right
        except ZeroDivisionError:
            self.fail("division by zero", node)
        except OverflowError:
            self.fail("number is too large", node)
        if isinstance(result, int) and result.bit_length() > _MAX_INT_BITS:
            self.fail("number is too large", node)
        if isinstance(result, float) and not math.isfinite(result):
            self.fail("number is too large (JSON numbers must be finite)", node)
        return result


_HANDLERS: dict[type, Callable[[_Evaluator, Any], Any]] = {
    _Literal: _Evaluator.literal,
    _ListLit: _Evaluator.list_lit,
    _Root: _Evaluator.root,
    _Get: _Evaluator.get,
    _Filter: _Evaluator.filter,
    _Unary: _Evaluator.unary,
    _Binary: _Evaluator.binary,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(a: Any, b: Any) -> bool:
    """Python equality, except that booleans never equal numbers (``true == 1`` is false)."""
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    try:
        return bool(a == b)
    except Exception:
        return False


def _to_text(value: Any) -> str:
    """How a value reads when interpolated into text: JSON spelling for non-strings."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


# --------------------------------------------------------------------------- filters

_FilterFunc = Callable[[_Evaluator, _Filter, Any, list[Any]], Any]


def _want_text(ev: _Evaluator, node: _Filter, value: Any) -> str:
    if not isinstance(value, str):
        ev.fail(f"filter '{node.name}' needs text, got {_describe(value)}", node)
    return value


def _f_trim(ev: _Evaluator, node: _Filter, value: Any, args: list[Any]) -> Any:
    return _want_text(ev, node, value).strip()


def _f_upper(ev: _Evaluator, node: _Filter, value: Any, args: list[Any]) -> Any:
    return _want_text(ev, node, value).upper()


def _f_lower(ev: _Evaluator, node: _Filter, value: Any, args: list[Any]) -> Any:
    return _want_text(ev, node, value).lower()


def _f_length(ev: _Evaluator, node: _Filter, value: Any, args: list[Any]) -> Any:
    if isinstance(value, (str, list, tuple, Mapping)):
        return len(value)
    ev.fail(f"filter 'length' needs text, a list or an object, got {_describe(value)}", node)


def _f_first_last(ev: _Evaluator, node: _Filter, value: Any, args: list[Any]) -> Any:
    if not isinstance(value, (str, list, tuple)):
        ev.fail(f"filter '{node.name}' needs a list or text, got {_describe(value)}", node)
    if not value:
        what = "text" if isinstance(value, str) else "list"
        return _Missing(
            f"'{node.name}' of an empty {what}: {ev.text_of(node.obj)} has nothing in it",
            node.pos,
        )
    return value[0] if node.name == "first" else value[-1]


def _f_json(ev: _Evaluator, node: _Filter, value: Any, args: list[Any]) -> Any:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        ev.fail(f"filter 'json' cannot write this value as JSON ({exc})", node)
    if len(text) > MAX_TEXT_LENGTH:
        ev.fail(f"JSON text would be longer than {MAX_TEXT_LENGTH} characters", node)
    return text


def _f_int(ev: _Evaluator, node: _Filter, value: Any, args: list[Any]) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        if isinstance(value, float):
            return int(value)
        if isinstance(value, str):
            text = value.strip()
            try:
                return int(text, 10)
            except ValueError:
                return int(float(text))
    except (ValueError, OverflowError):
        pass
    ev.fail(f"cannot convert {_describe(value)} to a whole number (int)", node)


def _f_float(ev: _Evaluator, node: _Filter, value: Any, args: list[Any]) -> Any:
    result: float | None = None
    try:
        if isinstance(value, (int, float)):
            result = float(value)
        elif isinstance(value, str):
            result = float(value.strip())
    except (ValueError, OverflowError):
        result = None
    if result is None or not math.isfinite(result):
        ev.fail(f"cannot convert {_describe(value)} to a number (float)", node)
    return result


def _f_split(ev: _Evaluator, node: _Filter, value: Any, args: list[Any]) -> Any:
    text = _want_text(ev, node, value)
    if not args or args[0] is None:
        return text.split()
    sep = args[0]
    if not isinstance(sep, str) or not sep:
        ev.fail(f"filter 'split' needs non-empty text to split on, got {_describe(sep)}", node)
    return text.split(sep)


def _f_join(ev: _Evaluator, node: _Filter, value: Any, args: list[Any]) -> Any:
    if not isinstance(value, (list, tuple)):
        ev.fail(f"filter 'join' needs a list, got {_describe(value)}", node)
    sep = args[0] if args else ""
    if not isinstance(sep, str):
        ev.fail(f"filter 'join' needs text to join with, got {_describe(sep)}", node)
    pieces = [_to_text(item) for item in value]
    total = sum(len(p) for p in pieces) + len(sep) * max(len(pieces) - 1, 0)
    if total > MAX_TEXT_LENGTH:
        ev.fail(f"joined text would be longer than {MAX_TEXT_LENGTH} characters", node)
    return sep.join(pieces)


_FILTER_FUNCS: dict[str, _FilterFunc] = {
    "trim": _f_trim,
    "upper": _f_upper,
    "lower": _f_lower,
    "length": _f_length,
    "first": _f_first_last,
    "last": _f_first_last,
    "json": _f_json,
    "int": _f_int,
    "float": _f_float,
    "split": _f_split,
    "join": _f_join,
}
assert set(_FILTER_FUNCS) | {"default"} == set(FILTERS)


# --------------------------------------------------------------------------- public eval API


def _run(expr: Expr, scope: Scope, context: str) -> Any:
    ev = _Evaluator(scope, expr.source, context)
    return ev.value(expr.node)


def evaluate(expr: Expr | str, scope: Scope, context: str = "") -> Any:
    """Evaluate one expression. A string may be bare or wrapped whole in ``{{ }}``.

    Raises :class:`ExpressionError` (labelled with ``context``) for anything wrong,
    including a value that is missing and not caught by ``default``.
    """
    if isinstance(expr, str):
        try:
            expr = parse_condition(expr)
        except ExpressionError as exc:
            raise exc.with_context(context) from None
    return _run(expr, scope, context)


def evaluate_condition(text: str, scope: Scope, context: str = "") -> bool:
    """Evaluate a condition block's expression to True/False (Python truthiness)."""
    value = evaluate(text, scope, context)
    try:
        return bool(value)
    except Exception:
        raise ExpressionError(
            f"cannot use {_describe(value)} as true/false", text, None, context
        ) from None


def _join_path(context: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{context}[{key}]"
    key = str(key)
    if key.isidentifier():
        return f"{context}.{key}" if context else key
    return f"{context}[{json.dumps(key, ensure_ascii=False)}]"


def _render_string(text: str, scope: Scope, context: str) -> Any:
    if "{{" not in text:
        return text
    try:
        template = parse_template(text)
    except ExpressionError as exc:
        raise exc.with_context(context) from None
    if template.is_single:
        return _run(template.parts[0], scope, context)  # type: ignore[arg-type]
    pieces: list[str] = []
    total = 0
    for part in template.parts:
        piece = part if isinstance(part, str) else _to_text(_run(part, scope, context))
        total += len(piece)
        if total > MAX_TEXT_LENGTH:
            raise ExpressionError(
                f"text would be longer than {MAX_TEXT_LENGTH} characters", text, None, context
            )
        pieces.append(piece)
    return "".join(pieces)


def render(value: Any, scope: Scope, context: str = "") -> Any:
    """Render every string inside ``value`` (dicts and lists are walked; keys are not).

    Whole-value templates keep their result's type; other templates become text; other
    values are returned untouched (not copied; containers nested deeper than ``MAX_DEPTH``
    are refused). Errors are labelled with ``context`` plus
    the key path, so pass e.g. ``"node calc, config"`` to get ``"node calc, config.inputs.x"``.
    """
    return _render(value, scope, context, 0)


def _render(value: Any, scope: Scope, context: str, depth: int) -> Any:
    if isinstance(value, str):
        return _render_string(value, scope, context)
    if isinstance(value, (dict, list, tuple)) and depth > MAX_DEPTH:
        raise ExpressionError("value is nested too deeply", "", None, context)
    if isinstance(value, dict):
        return {k: _render(v, scope, _join_path(context, k), depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, scope, _join_path(context, i), depth + 1) for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return tuple(
            _render(v, scope, _join_path(context, i), depth + 1) for i, v in enumerate(value)
        )
    return value


# --------------------------------------------------------------------------- static checks


def _strings(value: Any, context: str) -> Iterator[tuple[str, str]]:
    """Every string inside ``value`` with its context path (iterative: no depth limit)."""
    stack: list[tuple[Any, str]] = [(value, context)]
    while stack:
        cur, ctx = stack.pop()
        if isinstance(cur, str):
            yield cur, ctx
        elif isinstance(cur, Mapping):
            items = [(v, _join_path(ctx, k)) for k, v in cur.items()]
            stack.extend(reversed(items))
        elif isinstance(cur, (list, tuple)):
            stack.extend(reversed([(v, _join_path(ctx, i)) for i, v in enumerate(cur)]))


def _expressions(value: Any, bare: bool) -> Iterator[Expr]:
    for text, _ctx in _strings(value, ""):
        try:
            if bare:
                yield parse_condition(text)
            elif "{{" in text:
                yield from parse_template(text).expressions
        except ExpressionError:
            continue  # reported by check_value


def check_value(value: object, context: str = "", *, bare: bool = False) -> list[ExpressionError]:
    """All syntax errors in the strings inside ``value`` (for the compiler and inspector).

    With ``bare=True`` every string is a condition (bare expression, braces optional).
    """
    errors: list[ExpressionError] = []
    for text, ctx in _strings(value, context):
        try:
            if bare:
                parse_condition(text)
            elif "{{" in text:
                parse_template(text)
        except ExpressionError as exc:
            errors.append(exc.with_context(ctx))
    return errors


def node_refs(value: object, *, bare: bool = False) -> set[str]:
    """Node ids referenced through ``$node.ID`` anywhere in ``value``; bad text is skipped."""
    refs: set[str] = set()
    for expr in _expressions(value, bare):
        refs |= expr.node_refs
    return refs


def roots_used(value: object, *, bare: bool = False) -> set[str]:
    """Roots (``"input"``, ``"loop"``, …) used anywhere in ``value``; bad text is skipped."""
    roots: set[str] = set()
    for expr in _expressions(value, bare):
        roots |= expr.roots
    return roots


@dataclass(frozen=True, slots=True)
class CredentialUse:
    """One `$creds.NAME.FIELD` in a config value (``context`` names the field path)."""

    name: str
    field: str
    context: str


def _credential_uses(expr: Expr) -> Iterator[tuple[str | None, str | None, str | None, int]]:
    """(name, field, problem, position) for every `$creds` use in ``expr``."""
    full: set[int] = set()
    for node in _walk(expr.node):
        if not (isinstance(node, _Get) and isinstance(node.obj, _Get)):
            continue
        inner = node.obj
        if not (isinstance(inner.obj, _Root) and inner.obj.name == "creds"):
            continue
        full.add(id(inner.obj))
        name, key = inner.key, node.key
        if not (isinstance(name, _Literal) and isinstance(name.value, str)
                and isinstance(key, _Literal) and isinstance(key.value, str)):
            yield (None, None, "$creds needs a credential and a field written out "
                   "($creds.NAME.FIELD), not computed ones", node.pos)
            continue
        yield (name.value, key.value, None, node.pos)
    for node in _walk(expr.node):
        if isinstance(node, _Root) and node.name == "creds" and id(node) not in full:
            yield (None, None, "use $creds.NAME.FIELD: a whole credential (or all of them) "
                   "cannot be read at once", node.pos)


def credential_uses(
    value: object, context: str = "", *, bare: bool = False
) -> tuple[list[CredentialUse], list[ExpressionError]]:
    """Every `$creds.NAME.FIELD` inside ``value``, and the uses that are not of that form.

    The run resolves exactly these names before it starts, so names must be literal.
    """
    uses: list[CredentialUse] = []
    errors: list[ExpressionError] = []
    for text, ctx in _strings(value, context):
        if "$creds" not in text:
            continue
        try:
            exprs = (parse_condition(text),) if bare else parse_template(text).expressions
        except ExpressionError:
            continue  # reported by check_value
        for expr in exprs:
            for name, fld, problem, pos in _credential_uses(expr):
                if problem is not None:
                    errors.append(ExpressionError(problem, expr.source, pos, ctx))
                elif name is not None and fld is not None:
                    uses.append(CredentialUse(name, fld, ctx))
    return uses, errors


# --------------------------------------------------------------------------- $env


def allowed_env(allow: Collection[str], source: Mapping[str, str]) -> dict[str, str]:
    """The environment a run's `$env` sees: only the allow-listed names that are set."""
    return {name: source[name] for name in allow if name in source}


def _env_uses(expr: Expr, allowed: Collection[str]) -> Iterator[tuple[str, int]]:
    """(problem, position) for every `$env` use in ``expr`` the allow-list does not permit."""
    named: set[int] = set()
    roots: list[_Root] = []
    for node in _walk(expr.node):
        if isinstance(node, _Root) and node.name == "env":
            roots.append(node)
        elif isinstance(node, _Get) and isinstance(node.obj, _Root) and node.obj.name == "env":
            named.add(id(node.obj))
            key = node.key
            if not (isinstance(key, _Literal) and isinstance(key.value, str)):
                yield ("$env needs a variable name written out ($env.NAME or $env[\"NAME\"]), "
                       "not a computed one", node.pos)
            elif key.value not in allowed:
                yield (f"$env.{key.value} is not allowed: add {key.value} to the workflow's "
                       "settings.env_allow to let it read that environment variable", node.pos)
    for root in roots:
        if id(root) not in named:
            yield ("$env alone is never allowed (it would hand over the whole environment); "
                   "read one variable with $env.NAME, listed in settings.env_allow", root.pos)


def env_problems(
    value: object, allowed: Collection[str], context: str = "", *, bare: bool = False
) -> list[ExpressionError]:
    """Every `$env` use inside ``value`` that ``settings.env_allow`` does not permit (§11).

    Bare `$env` and computed names are never allowed; syntax errors are `check_value`'s.
    """
    errors: list[ExpressionError] = []
    for text, ctx in _strings(value, context):
        if "$env" not in text:
            continue
        try:
            exprs = (parse_condition(text),) if bare else parse_template(text).expressions
        except ExpressionError:
            continue
        for expr in exprs:
            for message, pos in _env_uses(expr, allowed):
                errors.append(ExpressionError(message, expr.source, pos, ctx))
    return errors
