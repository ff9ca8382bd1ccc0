"""Shared pieces of block config models: the inspector's widget hints and number checks.

`json_schema_extra=CODE` (or EXPRESSION, JSON) tells the inspector which editor to show;
the compiler reads the same hints (code is never a template; an expression may be bare).
"""

from __future__ import annotations

CODE = {"widget": "code"}
EXPRESSION = {"widget": "expression"}
JSON = {"widget": "json"}
#: several lines of text (a prompt, a query): templates allowed, shown in a text editor
TEXT = {"widget": "text"}


def number_or_template(value: object, field: str, minimum: float = 0) -> None:
    """A number field that also takes a `{{ }}` template: plain text must be a number."""
    if isinstance(value, str):
        if "{{" in value:
            return
        try:
            number = float(value)
        except ValueError:
            raise ValueError(
                f"'{field}' must be a number or a {{{{ }}}} template, not {value!r}"
            ) from None
        value = number
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < minimum:
        raise ValueError(f"'{field}' must be {minimum:g} or more")


def credential(*types: str) -> dict[str, object]:
    """Hint for a field that names a stored credential of one of ``types`` (docs/credentials.md):
    the inspector shows a picker, the compiler checks the name and type."""
    return {"widget": "credential", "credential_types": list(types)}
