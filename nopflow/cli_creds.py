"""`nopflow creds set|list|delete` (docs/credentials.md): manage the credential vault headless.

Secret fields never come from argv (any local process can read a command line): they are
read from the terminal without echo, or as `FIELD=VALUE` lines on stdin when it is not a
terminal. A value that starts with `"` on stdin is a JSON string, so a multi-line private
key fits on one line; `--field-file FIELD=PATH` reads a value from a file instead.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from nopflow.cli import EXIT_INVALID, EXIT_OK
from nopflow.model.credentials import CREDENTIAL_TYPES, fields_of, is_secret


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `creds` and its sub-commands on the top-level parser."""
    creds = sub.add_parser("creds", help="manage stored credentials (secrets in the OS keyring)")
    csub = creds.add_subparsers(dest="creds_command", parser_class=type(creds))
    cset = csub.add_parser(
        "set", help="add or replace a credential",
        description="Non-secret fields may be given with --field; secret fields are read "
        "from the terminal without echo, or as FIELD=VALUE lines on stdin.")
    cset.add_argument("name", help="the name workflows use: $creds.NAME.FIELD")
    cset.add_argument("--type", "-t", required=True, choices=list(CREDENTIAL_TYPES),
                      dest="cred_type", help="the credential type")
    cset.add_argument("--field", "-f", action="append", default=[], metavar="FIELD=VALUE",
                      help="a non-secret field (e.g. username=alice); repeatable")
    cset.add_argument("--field-file", action="append", default=[], metavar="FIELD=PATH",
                      help="read a field's value from a file (e.g. private_key=~/.ssh/id_ed25519)")
    clist = csub.add_parser("list", help="show credentials (names, types, fields; never values)")
    clist.add_argument("--json", action="store_true", help="print them as JSON")
    cdel = csub.add_parser("delete", help="remove a stored credential and its secrets")
    cdel.add_argument("name")


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{what} expects FIELD=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def _stdin_pairs() -> dict[str, str]:
    """`FIELD=VALUE` lines from a non-terminal stdin; blank lines and `#` comments skipped."""
    out: dict[str, str] = {}
    for n, raw in enumerate(sys.stdin.read().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"stdin line {n}: expected FIELD=VALUE")
        value = value.strip()
        if value.startswith('"'):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError(f"stdin line {n}: a value starting with '\"' must be a JSON "
                                 "string") from None
            if not isinstance(value, str):
                raise ValueError(f"stdin line {n}: expected a JSON string")
        out[key.strip()] = value
    return out


def _ask(cred_type: str, have: dict[str, str]) -> dict[str, str]:
    """Prompt on the terminal for the fields still missing (secrets without echo)."""
    values: dict[str, str] = {}
    wanted = fields_of(cred_type)
    if wanted is None:  # generic: any fields, all secret
        while True:
            name = input("field name (empty to finish): ").strip()
            if not name:
                return values
            values[name] = getpass.getpass(f"{name}: ")
    for f in wanted:
        if f in have:
            continue
        values[f] = getpass.getpass(f"{f}: ") if is_secret(cred_type, f) else input(f"{f}: ")
    return values


def _cmd_set(args: argparse.Namespace) -> int:
    from nopflow.storage.credentials import CredentialError, CredentialStore

    cred_type = args.cred_type
    try:
        given = _pairs(args.field, "--field")
        for f in given:
            if is_secret(cred_type, f):
                print(f"nopflow: error: field {f!r} of a {cred_type} credential is secret: it "
                      "is never taken from the command line (other processes can read it); "
                      "type it when asked, or send FIELD=VALUE lines on stdin", file=sys.stderr)
                return EXIT_INVALID
        for f, path in _pairs(args.field_file, "--field-file").items():
            try:
                given[f] = Path(path).expanduser().read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                print(f"nopflow: error: --field-file {f}: cannot read {path}: {exc}",
                      file=sys.stderr)
                return EXIT_INVALID
        if sys.stdin is not None and sys.stdin.isatty():
            given.update(_ask(cred_type, given))
        elif sys.stdin is not None:
            given.update(_stdin_pairs())
    except ValueError as exc:
        print(f"nopflow: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except (EOFError, KeyboardInterrupt):
        print("\nnopflow: cancelled, nothing stored", file=sys.stderr)
        return EXIT_INVALID
    store = CredentialStore()
    try:
        store.set(args.name, cred_type, given)
    except CredentialError as exc:
        print(f"nopflow: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    fields = ", ".join(sorted(given))
    print(f"credential {args.name} ({cred_type}) saved: {fields}", file=sys.stderr)
    return EXIT_OK


def _cmd_list(args: argparse.Namespace) -> int:
    from nopflow.storage.credentials import CredentialError, CredentialStore

    try:
        infos = CredentialStore().list()
    except CredentialError as exc:
        print(f"nopflow: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if args.json:
        print(json.dumps([i.to_dict() for i in infos], indent=2))
        return EXIT_OK
    if not infos:
        print("no credentials yet: add one with 'nopflow creds set NAME --type TYPE'",
              file=sys.stderr)
        return EXIT_OK
    width = max(len(i.name) for i in infos)
    for i in infos:
        where = " (from the environment)" if i.source == "environment" else ""
        print(f"{i.name:<{width}}  {i.type:<8} {', '.join(i.fields)}{where}")
    return EXIT_OK


def _cmd_delete(args: argparse.Namespace) -> int:
    from nopflow.storage.credentials import CredentialError, CredentialStore

    try:
        CredentialStore().delete(args.name)
    except CredentialError as exc:
        print(f"nopflow: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"credential {args.name} deleted", file=sys.stderr)
    return EXIT_OK


def cmd_creds(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Dispatch `nopflow creds …`."""
    command = getattr(args, "creds_command", None)
    if command == "set":
        return _cmd_set(args)
    if command == "list":
        return _cmd_list(args)
    if command == "delete":
        return _cmd_delete(args)
    parser.parse_args(["creds", "--help"])
    return EXIT_INVALID
