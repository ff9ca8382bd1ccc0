"""PEP 723 headers as a python block's code declares them (parsing, keys, editing)."""

from __future__ import annotations

import pytest

from nopflow.model.script_meta import ScriptMetaError, parse_script_meta, with_dependency

HEADER = (
    "# /// script\n"
    '# requires-python = ">=3.9"\n'
    "# dependencies = [\n"
    '#   "Requests>=2",\n'
    '#   "rich",\n'
    "# ]\n"
    "# ///\n"
    "import json\n"
)


def test_a_header_gives_the_dependencies_and_python() -> None:
    meta = parse_script_meta(HEADER)
    assert meta is not None
    assert meta.dependencies == ("Requests>=2", "rich")
    assert meta.requires_python == ">=3.9"
    assert meta.names() == ("requests", "rich")


def test_no_header_is_none_and_other_blocks_are_ignored() -> None:
    assert parse_script_meta("import json\n") is None
    assert parse_script_meta("# /// pyproject\n# x = 1\n# ///\n") is None


def test_the_same_set_in_another_order_shares_a_key() -> None:
    other = '# /// script\n# dependencies = ["rich", "Requests>=2"]\n' \
            '# requires-python = ">=3.9"\n# ///\nprint(1)\n'
    a, b = parse_script_meta(HEADER), parse_script_meta(other)
    assert a is not None and b is not None
    assert a.key == b.key
    c = parse_script_meta('# /// script\n# dependencies = ["rich"]\n# ///\n')
    assert c is not None and c.key != a.key


@pytest.mark.parametrize(("source", "says"), [
    ('# /// script\n# dependencies = ["requests>>2"]\n# ///\n',
     "line 1: dependency 'requests>>2' is not a valid requirement"),
    ("# /// script\n# dependencies = [\n# ///\n", "line 1: the script header is not valid TOML"),
    ('# /// script\n# dependencies = "requests"\n# ///\n', "must be a list of strings"),
    ('x = 1\n# /// script\n# requires-python = "three"\n# ///\n',
     "line 2: requires-python 'three' is not a version specifier"),
    ('# /// script\n# dependencies = []\n# ///\n# /// script\n# dependencies = []\n# ///\n',
     "line 1: the script header is not valid TOML"),  # PEP 723: two blocks are an error
])
def test_a_bad_header_says_which_line_and_what_to_fix(source: str, says: str) -> None:
    with pytest.raises(ScriptMetaError) as info:
        parse_script_meta(source)
    assert says in str(info.value)


def test_adding_a_package_edits_or_creates_the_header() -> None:
    added = with_dependency(HEADER, "tinycalc==1.0")
    meta = parse_script_meta(added)
    assert meta is not None and "tinycalc==1.0" in meta.dependencies
    assert meta.requires_python == ">=3.9"
    assert added.endswith("# ///\nimport json\n")
    assert with_dependency(added, "TinyCalc") == added  # already declared
    fresh = with_dependency("import json\n", "tinycalc")
    assert parse_script_meta(fresh).dependencies == ("tinycalc",)  # type: ignore[union-attr]
    assert fresh.endswith("\nimport json\n")
    with pytest.raises(ScriptMetaError, match="not a valid requirement"):
        with_dependency(HEADER, "bad name!")
