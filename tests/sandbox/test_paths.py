"""check_inside / check_input_paths: exact containment and the input-path heuristic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nopflow.errors import NopflowError
from nopflow.sandbox import SandboxError, check_input_paths, check_inside


@pytest.fixture
def project(tmp_path: Path) -> Path:
    p = tmp_path / "proj"
    (p / "data").mkdir(parents=True)
    (p / "data" / "a.csv").write_text("x")
    (tmp_path / "secret.txt").write_text("s")
    (p / "out_link").symlink_to(tmp_path / "secret.txt")
    (p / "in_link").symlink_to(p / "data" / "a.csv")
    return p


def test_sandbox_error_is_a_nopflow_error() -> None:
    assert issubclass(SandboxError, NopflowError)


def test_check_inside_accepts_inside(project: Path) -> None:
    assert check_inside(project, "data/a.csv") == (project / "data" / "a.csv").resolve()
    assert check_inside(project, "data/../data/a.csv") == (project / "data/a.csv").resolve()
    assert check_inside(project, "in_link") == (project / "data" / "a.csv").resolve()
    assert check_inside(project, project / "data") == (project / "data").resolve()
    assert check_inside(project, ".") == project.resolve()


@pytest.mark.parametrize("bad", ["..", "../secret.txt", "data/../../x", "/etc/passwd", "out_link"])
def test_check_inside_refuses_escapes(project: Path, bad: str) -> None:
    with pytest.raises(SandboxError, match="path outside the project directory: "):
        check_inside(project, bad)


def test_check_inside_what_prefix(project: Path) -> None:
    with pytest.raises(SandboxError, match=r"^script path outside the project directory: \.\./x$"):
        check_inside(project, "../x", what="script path")


def test_project_dir_given_through_a_symlink(project: Path, tmp_path: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(project)
    assert check_inside(alias, "data/a.csv") == (project / "data" / "a.csv").resolve()


@pytest.mark.parametrize(
    "value",
    [
        {"name": "world", "n": 3, "ok": True, "none": None},
        {"file": "data/a.csv", "also": "./data", "nested": {"l": ["data/a.csv"]}},
        {"url": "https://example.com/../../etc/passwd", "api": "/api/v1/users"},
        {"sep": "/", "slash_word": "a/b", "text": "see ../ notes\nmore"},
        {"in_link": "in_link", "abs_inside": "__PROJECT__/data/a.csv"},
        {"tmp": "__TMP__/scratch.txt"},
        "not a path",
        [1, 2.5, "x"],
    ],
)
def test_input_paths_accepted(project: Path, tmp_path: Path, value: object) -> None:
    tmp = tmp_path / "runtmp"
    tmp.mkdir()

    def subst(v: object) -> object:
        if isinstance(v, str):
            return v.replace("__PROJECT__", str(project)).replace("__TMP__", str(tmp))
        if isinstance(v, dict):
            return {k: subst(x) for k, x in v.items()}
        if isinstance(v, list):
            return [subst(x) for x in v]
        return v

    check_input_paths(project, subst(value), allowed_extra=[tmp])


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"f": "../secret.txt"}, "$.f"),
        ({"f": "data/../../secret.txt"}, "$.f"),
        ({"f": "../does-not-exist/either"}, "$.f"),  # `..` escaping counts even if missing
        ({"rows": [{"p": "/etc/passwd"}]}, "$.rows[0].p"),
        ({"f": "/etc/not-a-real-file-but-etc-exists"}, "$.f"),
        ({"f": "out_link"}, "$.f"),
        (["ok", "~/.ssh/id_rsa"], "$[1]"),
    ],
)
def test_input_paths_refused(project: Path, value: object, where: str) -> None:
    if "~" in str(value) and os.path.expanduser("~") == "~":
        pytest.skip("no home directory")
    with pytest.raises(SandboxError) as info:
        check_input_paths(project, value)
    msg = str(info.value)
    assert msg.startswith("input path outside the project directory: ")
    assert f"{where} = " in msg


def test_input_paths_deep_nesting_does_not_recurse_forever(project: Path) -> None:
    v: object = "x"
    for _ in range(500):
        v = [v]
    check_input_paths(project, v)
