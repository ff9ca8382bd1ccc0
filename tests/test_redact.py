"""The one redactor (nopflow.model.redact): what it hides, and what it must leave alone."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nopflow.model.redact import REDACTED, Redactor, is_secret_name, run_secrets


def test_short_secret_hides_whole_values_only() -> None:
    r = Redactor(["1"])
    assert r.text("took 100 ms") == "took 100 ms"
    assert r.text("1") == REDACTED
    assert r.value({"pin": "1", "n": 1, "f": 1.0, "msg": "took 100 ms", "1": "k"}) == {
        "pin": REDACTED, "n": REDACTED, "f": REDACTED, "msg": "took 100 ms", REDACTED: "k"}


def test_long_secret_hidden_inside_text_keys_and_nested_values() -> None:
    r = Redactor(["hunter2"])
    data = {"hunter2": [{"auth": "Bearer hunter2"}, ("x", "hunter2hunter2")]}
    assert r.value(data) == {REDACTED: [{"auth": f"Bearer {REDACTED}"}, ["x", REDACTED * 2]]}
    assert r.text("line: hunter2.") == f"line: {REDACTED}."


def test_numbers_match_text_and_numeric_forms() -> None:
    r = Redactor([1234])
    assert r.value([1234, 1234.0, "1234", "id 1234!", 12345, 99]) == [
        REDACTED, REDACTED, REDACTED, f"id {REDACTED}!", REDACTED, 99]
    # a secret given as text is also hidden where it comes back as a number
    assert Redactor(["98765"]).value({"n": 98765, "f": 98765.0}) == {
        "n": REDACTED, "f": REDACTED}
    # booleans are never numbers here
    assert Redactor([1]).value([True, 1]) == [True, REDACTED]


def test_escaped_forms_of_a_secret_are_hidden() -> None:
    secret = 'pa"ss\\wörd'
    r = Redactor([secret])
    printed = json.dumps({"p": secret})  # what a script printing its input writes
    assert secret not in r.text(printed) and "pa\\\"ss" not in r.text(printed)
    assert r.text(repr(secret)) == f"'{REDACTED}'"
    assert r.text(json.dumps(secret, ensure_ascii=True)) == f'"{REDACTED}"'


def test_no_secrets_returns_the_same_objects() -> None:
    r = Redactor([None, "", False])
    value = {"a": [1, 2]}
    assert not r and r.value(value) is value and r.text("x") == "x" and r.text(None) is None


def test_keys_hidden_to_the_same_text_keep_both_entries() -> None:
    out = Redactor(["alpha1", "beta22"]).value({"alpha1": 1, "beta22": 2})
    assert sorted(out.values()) == [1, 2] and REDACTED in out


def test_object_secret_hides_its_leaves_and_later_values_extend() -> None:
    r = Redactor([{"user": "bob-the-user", "pw": ["s3cr3t-pw"]}])
    assert r.text("bob-the-user / s3cr3t-pw") == f"{REDACTED} / {REDACTED}"
    r2 = r.with_values(["cred-value-9"])
    assert r2.text("cred-value-9 s3cr3t-pw") == f"{REDACTED} {REDACTED}"
    assert r.text("cred-value-9") == "cred-value-9"


def test_deep_values_do_not_hit_the_recursion_limit() -> None:
    deep: Any = "hunter2"
    for _ in range(5000):
        deep = [deep]
    out = Redactor(["hunter2"]).value(deep)
    for _ in range(5000):
        out = out[0]
    assert out == REDACTED


def test_secret_names_and_run_secrets() -> None:
    assert all(map(is_secret_name, ["API_KEY", "gh_token", "MY_SECRET", "DB_PASSWORD"]))
    assert not any(map(is_secret_name, ["HOME", "REGION", "USER"]))
    values = run_secrets({"tok"}, {"tok": "t0ken-value", "n": 3},
                         {"API_KEY": "key-value-1", "REGION": "eu-west"})
    assert sorted(map(str, values)) == ["key-value-1", "t0ken-value"]


# ---------------------------------------------------------------------- property

_secret_text = st.text(min_size=4, max_size=12)
_secret_number = st.integers(min_value=1000, max_value=10**12) | st.integers(
    min_value=-(10**12), max_value=-1000)


def _values_with(secrets: list[Any]) -> st.SearchStrategy[Any]:
    """JSON values whose strings, keys and numbers embed the secrets anywhere."""
    pieces = st.sampled_from([str(s) for s in secrets]) | st.text(max_size=6)
    texts = st.lists(pieces, min_size=1, max_size=4).map("".join)
    leaves = (texts | st.sampled_from(secrets) | st.integers() | st.floats(allow_nan=False,
              allow_infinity=False) | st.booleans() | st.none())
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
        max_leaves=20,
    )


def _leaks(value: Any, texts: list[str], numbers: set[int]) -> list[Any]:
    found = []
    stack = [value]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            stack.extend(cur.keys())
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)
        elif isinstance(cur, bool) or cur is None:
            continue
        elif isinstance(cur, (int, float)):
            if cur in numbers or any(t in repr(cur) for t in texts):
                found.append(cur)
        elif any(t in cur for t in texts):
            found.append(cur)
    return found


@settings(max_examples=300, deadline=None)
@given(st.data(), st.lists(_secret_text | _secret_number, min_size=1, max_size=4))
def test_property_no_secret_of_four_or_more_characters_survives(
    data: Any, secrets: list[Any]
) -> None:
    value = data.draw(_values_with(secrets))
    out = Redactor(secrets).value(value)
    texts = [str(s) for s in secrets]
    numbers = {s for s in secrets if isinstance(s, int)}
    assert _leaks(out, texts, numbers) == []
    assert _leaks(Redactor(secrets).text(json.dumps(value, ensure_ascii=False)), texts,
                  set()) == []


_plain = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789-_.!@#$%&*", min_size=4,
                 max_size=10).filter(lambda s: not any(w in s for w in ("true", "false", "null")))


@settings(max_examples=200, deadline=None)
@given(st.data(), st.lists(_plain, min_size=1, max_size=3))
def test_property_printed_result_holds_no_secret(data: Any, secrets: list[str]) -> None:
    """What `--json` prints from a redacted value contains no secret, in either escaping."""
    out = Redactor(secrets).value(data.draw(_values_with(secrets)))
    for ascii_only in (True, False):
        printed = json.dumps(out, ensure_ascii=ascii_only)
        # `\u0000` is how JSON prints a NUL, not the secret "0000": escapes are not text
        printed = re.sub(r"\\u[0-9a-fA-F]{4}", "\x01", printed)
        assert not [s for s in secrets if s in printed]
