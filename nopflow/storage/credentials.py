"""The credential vault (docs/credentials.md): secret fields in the OS keyring, the rest on disk.

Names, types and non-secret fields live in `credentials.json` in the config dir; secret
field values live only in the keyring (Secret Service, Keychain, Credential Locker) through
the `keyring` library. `NOPFLOW_CRED_<NAME>_<FIELD>` environment variables supply
credentials on machines without a keyring and take precedence over it. When no keyring is
usable the store says so with the fix; it never falls back to a plaintext file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nopflow.errors import NopflowError
from nopflow.model.credentials import (
    CREDENTIAL_TYPES,
    ENV_PREFIX,
    MIN_SECRET_LENGTH,
    Credential,
    env_token,
    fields_of,
    implied_type,
    is_secret,
    is_valid_field,
    is_valid_name,
    missing_credential_message,
    required_fields,
)
from nopflow.model.fileio import atomic_write_text
from nopflow.storage.locations import config_dir

FILE_NAME = "credentials.json"
FORMAT = "nopflow/credentials"
VERSION = 1
#: keyring service per credential; the keyring "username" is the field name
SERVICE_PREFIX = "nopflow/credential/"

KEYRING_FIX = (
    "unlock or install a keyring (Secret Service such as gnome-keyring or KeePassXC on "
    "Linux, Keychain on macOS, Credential Locker on Windows), or supply the credential as "
    "environment variables NOPFLOW_CRED_<NAME>_<FIELD>"
)


class CredentialError(NopflowError):
    """A credential that cannot be stored, found or used; the message says what to do."""


class KeyringUnavailable(CredentialError):
    """No usable OS keyring: secret fields cannot be stored or read here."""


@dataclass(frozen=True)
class CredentialInfo:
    """What may be shown about a credential: never its secret values."""

    name: str
    type: str
    fields: tuple[str, ...]
    source: str  # "keyring" or "environment"
    public: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "fields": list(self.fields),
                "source": self.source}


def check_values(name: str, cred_type: str, values: Mapping[str, str]) -> None:
    """Refuse a bad name, type, field or short secret before anything is stored."""
    if not is_valid_name(name):
        raise CredentialError(
            f"credential name {name!r} is not valid: use letters, digits, '_' and '-' "
            "(it is written as $creds.NAME.FIELD)")
    if cred_type not in CREDENTIAL_TYPES:
        raise CredentialError(f"unknown credential type {cred_type!r} "
                              f"(known: {', '.join(CREDENTIAL_TYPES)})")
    allowed = fields_of(cred_type)
    for f in values:
        if not is_valid_field(f):
            raise CredentialError(f"field name {f!r} is not valid: use letters, digits, '_'")
        if allowed is not None and f not in allowed:
            raise CredentialError(f"a {cred_type} credential has no field {f!r} "
                                  f"(its fields: {', '.join(allowed)})")
    missing = [f for f in required_fields(cred_type) if not values.get(f)]
    if missing:
        raise CredentialError(f"credential {name}: missing field(s) {', '.join(missing)}")
    if allowed is None and not values:
        raise CredentialError(f"credential {name}: a generic credential needs a field")
    for f, v in values.items():
        if is_secret(cred_type, f) and v and len(v) < MIN_SECRET_LENGTH:
            raise CredentialError(
                f"credential {name}: secret field {f!r} is shorter than {MIN_SECRET_LENGTH} "
                "characters; such a value cannot be hidden safely in logs, so it is refused")


def _keyring() -> Any:
    """The keyring module with a usable, non-plaintext backend, else KeyringUnavailable."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError as exc:
        raise KeyringUnavailable(f"the keyring library is not installed ({exc}): "
                                 f"{KEYRING_FIX}") from None
    backend = keyring.get_keyring()
    module = type(backend).__module__
    if isinstance(backend, fail.Keyring) or module.startswith("keyrings.alt"):
        raise KeyringUnavailable(f"no usable keyring found: {KEYRING_FIX}")
    chained = getattr(backend, "backends", None)
    if chained is not None and not chained:
        raise KeyringUnavailable(f"no usable keyring found: {KEYRING_FIX}")
    return keyring


def _keyring_call(what: str, fn: Any, *args: Any) -> Any:
    """Run a keyring call, turning backend failures (locked, no bus) into the clear error."""
    import keyring.errors

    try:
        return fn(*args)
    except keyring.errors.PasswordDeleteError:
        return None
    except (keyring.errors.KeyringError, OSError, RuntimeError) as exc:
        detail = str(exc) or type(exc).__name__
        raise KeyringUnavailable(f"the keyring refused to {what} ({detail}): {KEYRING_FIX}") \
            from None


class CredentialStore:
    """Credentials of this user: `get` resolves one, `list` shows them, `set`/`delete` edit."""

    def __init__(self, folder: Path | None = None, environ: Mapping[str, str] | None = None):
        self._folder = folder
        self._environ = os.environ if environ is None else environ

    # -- metadata file ---------------------------------------------------------------

    @property
    def path(self) -> Path:
        return (self._folder or config_dir()) / FILE_NAME

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise CredentialError(f"{self.path}: cannot read the credential list: {exc}; "
                                  "move the file away to start a new list") from None
        creds = doc.get("credentials") if isinstance(doc, dict) else None
        if not isinstance(creds, dict):
            raise CredentialError(f"{self.path}: not a nopflow credential list; "
                                  "move the file away to start a new list")
        return {k: v for k, v in creds.items()
                if isinstance(v, dict) and isinstance(v.get("type"), str)}

    def _write(self, creds: dict[str, dict[str, Any]]) -> None:
        doc = {"format": FORMAT, "version": VERSION, "credentials": creds}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps(doc, indent=2, sort_keys=True) + "\n")

    # -- environment -----------------------------------------------------------------

    def _env_fields(self, name: str) -> dict[str, str]:
        prefix = f"{ENV_PREFIX}{env_token(name)}_"
        return {k[len(prefix):].lower(): v for k, v in self._environ.items()
                if k.startswith(prefix) and len(k) > len(prefix)}

    def _from_env(self, name: str) -> tuple[str, dict[str, str]] | None:
        found = self._env_fields(name)
        if not found:
            return None
        cred_type = found.pop("type", None) or implied_type(found)
        if cred_type not in CREDENTIAL_TYPES:
            raise CredentialError(
                f"{ENV_PREFIX}{env_token(name)}_TYPE={cred_type!r} is not a credential type "
                f"(known: {', '.join(CREDENTIAL_TYPES)})")
        allowed = fields_of(cred_type)
        if allowed is not None:
            found = {k: v for k, v in found.items() if k in allowed}
        return cred_type, found

    def _env_names(self) -> list[str]:
        """Names supplied by variables: `_TYPE` names them exactly, else a known field does."""
        names: dict[str, None] = {}
        known = sorted({f for fs in CREDENTIAL_TYPES.values() if fs for f in fs} | {"type"},
                       key=len, reverse=True)
        for var in sorted(self._environ):
            if not var.startswith(ENV_PREFIX):
                continue
            rest = var[len(ENV_PREFIX):]
            for f in known:
                suffix = "_" + f.upper()
                if rest.endswith(suffix) and len(rest) > len(suffix):
                    names.setdefault(rest[: -len(suffix)].lower(), None)
                    break
        return list(names)

    # -- public API ------------------------------------------------------------------

    def list(self) -> list[CredentialInfo]:
        """Every credential, stored or from the environment (never values; no keyring use)."""
        out: dict[str, CredentialInfo] = {}
        for name, meta in sorted(self._read().items()):
            out[env_token(name)] = CredentialInfo(
                name, meta["type"], tuple(meta.get("fields") or ()), "keyring",
                {k: str(v) for k, v in (meta.get("public") or {}).items()})
        for name in self._env_names():
            stored = next((i for i in out.values() if env_token(i.name) == env_token(name)),
                          None)
            resolved = self._from_env(stored.name if stored else name)
            if resolved is None:
                continue
            cred_type, values = resolved
            out[env_token(name)] = CredentialInfo(stored.name if stored else name, cred_type,
                                                  tuple(values), "environment")
        return sorted(out.values(), key=lambda i: i.name.lower())

    def info(self, name: str) -> CredentialInfo | None:
        """One credential's description, or None when it does not exist anywhere."""
        token = env_token(name)
        return next((i for i in self.list() if env_token(i.name) == token), None)

    def get(self, name: str) -> tuple[str, dict[str, str]]:
        """(type, {field: value}) of a credential; CredentialError when it is missing."""
        from_env = self._from_env(name)
        if from_env is not None:
            return from_env
        meta = self._read().get(name)
        if meta is None:
            raise CredentialError(self.missing_message(name))
        kr = _keyring()
        service = SERVICE_PREFIX + name
        values = {k: str(v) for k, v in (meta.get("public") or {}).items()}
        for f in meta.get("secret_fields") or ():
            secret = _keyring_call("read a secret", kr.get_password, service, f)
            if secret is None:
                raise CredentialError(
                    f"credential {name}: its secret field {f!r} is not in the keyring any "
                    f"more; set it again with: nopflow creds set {name} --type {meta['type']}")
            values[f] = secret
        return meta["type"], values

    @staticmethod
    def missing_message(name: str) -> str:
        """How to add a credential that a workflow names but nobody stored."""
        return missing_credential_message(name)

    def set(self, name: str, cred_type: str, values: Mapping[str, str]) -> None:
        """Store a credential: secrets into the keyring, the rest into the list file."""
        values = {k: v for k, v in values.items() if v != "" or not is_secret(cred_type, k)}
        check_values(name, cred_type, values)
        secrets = {k: v for k, v in values.items() if is_secret(cred_type, k)}
        public = {k: v for k, v in values.items() if not is_secret(cred_type, k)}
        creds = self._read()
        kr = _keyring() if secrets or name in creds else None
        service = SERVICE_PREFIX + name
        old = creds.get(name)
        for f, v in secrets.items():
            _keyring_call("store a secret", kr.set_password, service, f, v)
        if old is not None and kr is not None:
            for f in set(old.get("secret_fields") or ()) - set(secrets):
                _keyring_call("delete a secret", kr.delete_password, service, f)
        creds[name] = {"type": cred_type, "fields": list(values), "public": public,
                       "secret_fields": sorted(secrets)}
        self._write(creds)

    def delete(self, name: str) -> None:
        """Remove a stored credential and its keyring items."""
        creds = self._read()
        meta = creds.get(name)
        if meta is None:
            if self._from_env(name) is not None:
                raise CredentialError(
                    f"credential {name!r} comes from the environment "
                    f"({ENV_PREFIX}{env_token(name)}_…); unset those variables to remove it")
            raise CredentialError(f"credential {name!r} does not exist")
        if meta.get("secret_fields"):
            kr = _keyring()
            for f in meta["secret_fields"]:
                _keyring_call("delete a secret", kr.delete_password, SERVICE_PREFIX + name, f)
        del creds[name]
        self._write(creds)


def keyring_backend_name() -> str:
    """The keyring in use, for messages ('SecretService Keyring'); raises when none."""
    backend = _keyring().get_keyring()
    return getattr(backend, "name", type(backend).__name__)


def catalog(store: CredentialStore | None = None):  # type: ignore[no-untyped-def]
    """What the compiler may ask: a name's (type, fields), or None (no keyring access)."""
    store = store or CredentialStore()
    infos = {i.name: i for i in store.list()}

    def lookup(name: str) -> tuple[str, tuple[str, ...]] | None:
        info = infos.get(name) or store.info(name)
        return None if info is None else (info.type, info.fields)

    return lookup


def resolve(names: list[str], store: CredentialStore | None = None) -> dict[str, Credential]:
    """Each named credential with its values (keyring reads happen here, once per run)."""
    store = store or CredentialStore()
    out = {}
    for name in names:
        cred_type, values = store.get(name)
        out[name] = Credential(name, cred_type, values)
    return out
