"""Credential types (docs/credentials.md): which fields each type has and which of them are secret.

Pure data shared by the store (storage/), the CLI, the editor and blocks whose `credential`
field accepts some types; no I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: type -> its fields in order (None: `generic`, any fields)
CREDENTIAL_TYPES: dict[str, tuple[str, ...] | None] = {
    "token": ("token",),
    "basic": ("username", "password"),
    "header": ("name", "value"),
    "ssh_key": ("username", "private_key", "passphrase"),
    "generic": None,
}

SECRET_FIELDS = frozenset({"token", "password", "value", "private_key", "passphrase"})

#: fields a credential of the type may leave empty
OPTIONAL_FIELDS: dict[str, frozenset[str]] = {"ssh_key": frozenset({"passphrase"})}

#: secrets shorter than this are refused when set (they could not be redacted safely)
MIN_SECRET_LENGTH = 4

NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_\-]{0,99}$"
_NAME_RE = re.compile(NAME_PATTERN)
_FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")

ENV_PREFIX = "NOPFLOW_CRED_"


def is_valid_name(name: str) -> bool:
    """Names appear in `$creds.NAME.FIELD` and in files: kept like node ids."""
    return bool(_NAME_RE.match(name))


def is_valid_field(field: str) -> bool:
    """Field names are identifiers (they also form environment variable names)."""
    return bool(_FIELD_RE.match(field))


def is_secret(cred_type: str, field: str) -> bool:
    """Whether a field's value is secret (every field of `generic` is)."""
    return cred_type == "generic" or field in SECRET_FIELDS


def fields_of(cred_type: str) -> tuple[str, ...] | None:
    """The fields of a type, None for `generic`; KeyError for an unknown type."""
    return CREDENTIAL_TYPES[cred_type]


def required_fields(cred_type: str) -> tuple[str, ...]:
    """Fields a credential of this type must have a value for."""
    optional = OPTIONAL_FIELDS.get(cred_type, frozenset())
    return tuple(f for f in CREDENTIAL_TYPES[cred_type] or () if f not in optional)


def env_token(text: str) -> str:
    """`text` as it appears in a variable name: upper-cased, other characters as `_`."""
    return re.sub(r"[^A-Z0-9]", "_", text.upper())


def env_var(name: str, field: str) -> str:
    """`NOPFLOW_CRED_<NAME>_<FIELD>`."""
    return f"{ENV_PREFIX}{env_token(name)}_{env_token(field)}"


def implied_type(fields: Iterable[str]) -> str:
    """The type that variables' field names imply (docs/credentials.md)."""
    present = {f.lower() for f in fields}
    if "token" in present:
        return "token"
    if {"username", "password"} <= present:
        return "basic"
    if {"name", "value"} <= present:
        return "header"
    if "private_key" in present:
        return "ssh_key"
    return "generic"


def missing_credential_message(name: str) -> str:
    """How to add a credential that a workflow names but nobody stored (CLI and editor)."""
    return (f"credential '{name}' does not exist: add it with "
            f"'nopflow creds set {name} --type TYPE' (or File ▸ Credentials in the editor), "
            f"or set {ENV_PREFIX}{env_token(name)}_<FIELD> variables")


@dataclass(frozen=True)
class Credential:
    """A resolved credential as a run holds it (in memory only, never written)."""

    name: str
    type: str
    fields: Mapping[str, str]
