"""Which credentials a workflow uses (docs/credentials.md), found at compile time.

A run resolves exactly these names before any node runs, so they must be literal: from
`$creds.NAME.FIELD` in templates and from blocks' `credential` fields (a config field whose
widget hint is ``"credential"``, with the types it accepts in ``credential_types``). Given a
catalog of what exists, missing credentials, wrong types and unknown fields are problems.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from nopflow.engine import expressions as ex
from nopflow.model.credentials import CREDENTIAL_TYPES, missing_credential_message

#: name -> (type, field names) of an existing credential, or None when there is none
CredentialCatalog = Callable[[str], "tuple[str, tuple[str, ...]] | None"]


@dataclass(frozen=True)
class CredentialRef:
    """A node's use of a credential: through a `credential` field or `$creds.NAME.FIELD`."""

    node_id: str
    name: str
    where: str  # "config.credential" or the template's field path
    field: str | None = None  # the FIELD of $creds.NAME.FIELD
    types: tuple[str, ...] = ()  # accepted types, for `credential` fields


def node_credential_refs(
    node_id: str,
    config: dict[str, Any],
    credential_fields: Iterable[tuple[str, tuple[str, ...]]],
    bare_fields: Iterable[str],
) -> tuple[list[CredentialRef], list[tuple[str, str]]]:
    """A node's credential uses and its problems as (message, kind) pairs."""
    refs: list[CredentialRef] = []
    problems: list[tuple[str, str]] = []
    skip = set()
    for name, types in credential_fields:
        skip.add(name)
        value = config.get(name)
        if value is None or value == "":
            continue
        where = f"config.{name}"
        if not isinstance(value, str) or "{{" in value:
            problems.append((f"{where}: name a stored credential (text, no {{{{ }}}}); "
                             "templates are not resolved here", "credential"))
            continue
        refs.append(CredentialRef(node_id, value, where, types=tuple(types)))
    bare = set(bare_fields)
    for key, value in config.items():
        if key in skip:
            continue
        uses, errors = ex.credential_uses(value, f"config.{key}",
                                          bare=key in bare and isinstance(value, str)
                                          and not ex.is_template(value))
        problems.extend((str(e), "expression") for e in errors)
        refs.extend(CredentialRef(node_id, u.name, u.context, field=u.field) for u in uses)
    return refs, problems


def catalog_problems(refs: Iterable[CredentialRef],
                     catalog: CredentialCatalog) -> list[tuple[str, str, str, str]]:
    """(node_id, message, kind, name) for references the catalog cannot satisfy."""
    out: list[tuple[str, str, str, str]] = []
    known: dict[str, tuple[str, tuple[str, ...]] | None] = {}
    for ref in refs:
        if ref.name not in known:
            known[ref.name] = catalog(ref.name)
        found = known[ref.name]
        if found is None:
            out.append((ref.node_id, f"{ref.where}: {missing_credential_message(ref.name)}",
                        "credential-missing", ref.name))
            continue
        cred_type, fields = found
        if ref.types and cred_type not in ref.types:
            out.append((ref.node_id,
                        f"{ref.where}: credential '{ref.name}' is a {cred_type} credential; "
                        f"this field takes {' or '.join(ref.types)}", "credential", ref.name))
        if ref.field is not None and CREDENTIAL_TYPES.get(cred_type) is not None \
                and ref.field not in fields:
            out.append((ref.node_id,
                        f"{ref.where}: credential '{ref.name}' ({cred_type}) has no field "
                        f"'{ref.field}' (its fields: {', '.join(fields)})", "credential",
                        ref.name))
    return out
