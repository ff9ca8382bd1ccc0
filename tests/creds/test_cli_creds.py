"""`nopflow creds set|list|delete` against a real Secret Service and through variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SECRET = "tok-3f9a-very-secret"


def nopflow(*args: str, stdin: str | None = "", env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nopflow", *args], input=stdin, capture_output=True, text=True,
        timeout=timeout, cwd=REPO, env={**os.environ, **(env or {})})


def keyring_get(service: str, user: str) -> str | None:
    """Read an item straight from the Secret Service, as any keyring client would."""
    out = subprocess.run(
        [sys.executable, "-c",
         f"import keyring; print(repr(keyring.get_password({service!r}, {user!r})))"],
        capture_output=True, text=True, timeout=30, check=True)
    return eval(out.stdout.strip())  # a repr of str or None printed by the line above


def no_keyring_env() -> dict[str, str]:
    return {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"}


def files_under(*folders: str) -> list[Path]:
    return [p for f in folders for p in Path(f).rglob("*") if p.is_file()]


def test_set_stores_secret_in_keyring_and_only_names_on_disk(secret_service):
    proc = nopflow("creds", "set", "api", "--type", "token", stdin=f"token={SECRET}\n")
    assert proc.returncode == 0, proc.stderr
    assert "credential api (token) saved" in proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    assert keyring_get("nopflow/credential/api", "token") == SECRET
    stored = files_under(os.environ["NOPFLOW_CONFIG_DIR"], os.environ["NOPFLOW_DATA_DIR"])
    assert stored, "the credential list was not written"
    for path in stored:
        assert SECRET.encode() not in path.read_bytes(), path


def test_list_shows_names_types_fields_never_values(secret_service):
    assert nopflow("creds", "set", "db", "--type", "basic", "--field", "username=alice",
                   stdin="password=hunter2-long\n").returncode == 0
    proc = nopflow("creds", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert listed == [{"name": "db", "type": "basic", "fields": ["username", "password"],
                       "source": "keyring"}]
    text = nopflow("creds", "list")
    assert "db" in text.stdout and "basic" in text.stdout
    assert "hunter2-long" not in text.stdout + proc.stdout and "alice" not in proc.stdout


def test_secret_field_on_argv_is_refused(secret_service):
    proc = nopflow("creds", "set", "api", "--type", "token", "--field", f"token={SECRET}")
    assert proc.returncode == 2
    assert "is secret" in proc.stderr and "command line" in proc.stderr
    assert keyring_get("nopflow/credential/api", "token") is None


def test_short_secret_refused_before_the_keyring_is_asked():
    proc = nopflow("creds", "set", "pin", "--type", "token", stdin="token=123\n",
                   env=no_keyring_env())
    assert proc.returncode == 2
    assert "shorter than 4" in proc.stderr
    assert "keyring" not in proc.stderr.split("shorter")[0]


def test_no_keyring_says_how_to_fix_and_writes_nothing():
    proc = nopflow("creds", "set", "api", "--type", "token", stdin=f"token={SECRET}\n",
                   env=no_keyring_env())
    assert proc.returncode == 2
    assert "no usable keyring" in proc.stderr
    assert "NOPFLOW_CRED_" in proc.stderr and "unlock or install" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not files_under(os.environ["NOPFLOW_CONFIG_DIR"])


def test_environment_credentials_listed_without_a_keyring():
    env = {**no_keyring_env(), "NOPFLOW_CRED_CI_API_TOKEN": SECRET,
           "NOPFLOW_CRED_PG_USERNAME": "bob", "NOPFLOW_CRED_PG_PASSWORD": "pw-long-enough"}
    proc = nopflow("creds", "list", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    listed = {c["name"]: c for c in json.loads(proc.stdout)}
    assert listed["ci_api"]["type"] == "token" and listed["ci_api"]["source"] == "environment"
    assert listed["pg"]["type"] == "basic"
    assert sorted(listed["pg"]["fields"]) == ["password", "username"]
    assert SECRET not in proc.stdout and "pw-long-enough" not in proc.stdout


def test_environment_takes_precedence_over_keyring(secret_service):
    from nopflow.storage.credentials import CredentialStore

    assert nopflow("creds", "set", "api", "--type", "token",
                   stdin=f"token={SECRET}\n").returncode == 0
    env_store = CredentialStore(environ={**os.environ, "NOPFLOW_CRED_API_TOKEN": "from-env-9"})
    assert env_store.get("api") == ("token", {"token": "from-env-9"})


def test_explicit_type_variable_and_generic_fields():
    from nopflow.storage.credentials import CredentialStore

    store = CredentialStore(environ={"NOPFLOW_CRED_SVC_TYPE": "generic",
                                     "NOPFLOW_CRED_SVC_API_KEY": "k-123456"})
    assert store.get("svc") == ("generic", {"api_key": "k-123456"})
    assert store.get("SVC") == ("generic", {"api_key": "k-123456"})


def test_delete_removes_keyring_items_and_the_entry(secret_service):
    assert nopflow("creds", "set", "api", "--type", "token",
                   stdin=f"token={SECRET}\n").returncode == 0
    proc = nopflow("creds", "delete", "api")
    assert proc.returncode == 0, proc.stderr
    assert keyring_get("nopflow/credential/api", "token") is None
    assert json.loads(nopflow("creds", "list", "--json").stdout) == []
    again = nopflow("creds", "delete", "api")
    assert again.returncode == 2 and "does not exist" in again.stderr


def test_private_key_from_file_and_multiline_json_on_stdin(secret_service, tmp_path: Path):
    key = ("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAfake\nBBBBkey\n"
           "-----END OPENSSH PRIVATE KEY-----\n")
    key_file = tmp_path / "id_test"
    key_file.write_text(key)
    proc = nopflow("creds", "set", "box", "--type", "ssh_key", "--field", "username=deploy",
                   "--field-file", f"private_key={key_file}")
    assert proc.returncode == 0, proc.stderr
    assert keyring_get("nopflow/credential/box", "private_key") == key
    proc = nopflow("creds", "set", "box2", "--type", "ssh_key", "--field", "username=deploy",
                   stdin="private_key=" + json.dumps(key) + "\n")
    assert proc.returncode == 0, proc.stderr
    assert keyring_get("nopflow/credential/box2", "private_key") == key


@pytest.mark.parametrize("args, message", [
    (["creds", "set", "bad name", "--type", "token"], "not valid"),
    (["creds", "set", "x", "--type", "nope"], "invalid choice"),
    (["creds", "set", "x", "--type", "token"], "missing field"),
])
def test_bad_input_is_a_clear_usage_error(args, message):
    proc = nopflow(*args, env=no_keyring_env())
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
