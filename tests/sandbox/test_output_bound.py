"""A node's output is bounded in parsed size as well as in bytes (issue 11 item 6):
16 MiB of ``[],`` is a clear node error, not half a gigabyte in the app."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import pytest
from sbhelpers import run

from nopflow.sandbox import ScriptRunner
from nopflow.sandbox.messages import _count_values, _parse_output


def _max_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


@pytest.mark.skipif(sys.platform == "win32", reason="ru_maxrss")
async def test_many_tiny_values_are_refused_without_building_them(
    runner: ScriptRunner, project: Path
) -> None:
    code = "import sys\nsys.stdout.write('[' + '[],' * (16 * 2**20 // 3) + '[]]')\n"
    before = _max_rss_mb()
    r = await run(runner, project, code)
    assert not r.ok
    assert r.error_type == "OutputTooLarge"
    assert r.error == ("output has more than 2,000,000 JSON values (the bound on a node's output)")
    # the app held the 16 MiB of text (and a copy), never ~500 MiB of lists
    assert _max_rss_mb() - before < 150


async def test_big_strings_with_commas_are_not_counted_as_values(
    runner: ScriptRunner, project: Path
) -> None:
    """A CSV inside one JSON string is one value, however many commas it has."""
    code = (
        "import json\n"
        "csv = '\\n'.join('a,b,c,d,e,f,g,h' for _ in range(400_000))\n"
        "print(json.dumps({'csv': csv, 'rows': list(range(1000))}))\n"
    )
    r = await run(runner, project, code)
    assert r.ok, r.error
    assert isinstance(r.output, dict) and len(r.output["csv"]) > 6_000_000


async def test_a_lower_bound_per_spec_and_deep_nesting(runner: ScriptRunner, project: Path) -> None:
    r = await run(runner, project, "import json; print(json.dumps(list(range(11))))",
                  max_output_values=10)  # fmt: skip
    assert r.error == "output has more than 10 JSON values (the bound on a node's output)"
    r = await run(runner, project, "print('[' * 100000 + ']' * 100000)")
    assert r.error_type == "InvalidOutput"
    assert r.error is not None and r.error.startswith("output is not valid JSON: nested too deeply")


def test_counting_is_exact_enough() -> None:
    assert _count_values(b'{"a": [1, 2, {"b": "x,y,[z"}]}', 1) == 6
    assert _count_values(b'"a,b,\\",c"', 0) == 1
    assert _parse_output(b'  {"k": [1, 2]} \n', 10) == {"k": [1, 2]}
    assert _parse_output(b"", 0) == {}
