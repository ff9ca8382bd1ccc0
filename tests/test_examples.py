"""The shipped examples (resources/examples/) run offline from the command line, one per
palette group, and show what their README promises.

Each runs on a copy of the folder (as a user who copied it would), with a PATH that holds no
programs at all, as the bundled app's packaging test runs them: an example must not depend on
the caller's PATH.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nopflow.blocks import get_block
from nopflow.model.fileio import load_workflow

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "resources" / "examples"
GROUPS = ("Web", "System", "Files", "Data", "AI")


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "examples"
    shutil.copytree(EXAMPLES, folder)
    return folder


def run_example(work: Path, name: str, *args: str) -> dict[str, Any]:
    empty = work.parent / "empty-bin"
    empty.mkdir(exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "nopflow", "run", name, "--json", "-q", *args],
        cwd=work, capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": str(empty), "HOME": str(work.parent), "LANG": "C.UTF-8",
             "NOPFLOW_DATA_DIR": str(work.parent / "data"),
             "NOPFLOW_CONFIG_DIR": str(work.parent / "config")})
    assert proc.returncode == 0, (name, proc.stderr, proc.stdout[-2000:])
    result = json.loads(proc.stdout)
    assert result["status"] == "completed", name
    return result


def test_every_palette_group_has_an_example() -> None:
    groups: dict[str, list[str]] = {}
    for path in sorted(EXAMPLES.rglob("*.nopflow.json")):
        for node in load_workflow(path).nodes:
            block = get_block(node.type)
            assert block is not None, (path.name, node.type)
            category = block.category
            groups.setdefault(category, []).append(path.relative_to(EXAMPLES).as_posix())
    missing = [g for g in GROUPS if g not in groups]
    assert not missing, f"no example uses a block of {missing}"
    top_level = {p for g in ("Web", "System", "Files", "Data") for p in groups[g]
                 if "/" not in p}
    assert {"web-api.nopflow.json", "shell-commands.nopflow.json", "files.nopflow.json",
            "sql.nopflow.json"} <= top_level


def test_examples_that_need_a_server_are_not_top_level_and_say_why() -> None:
    readme = (EXAMPLES / "needs-server" / "README.md").read_text(encoding="utf-8")
    for path in sorted((EXAMPLES / "needs-server").glob("*.nopflow.json")):
        assert f"`{path.name}`" in readme, path.name
    listing = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for path in sorted(EXAMPLES.glob("*.nopflow.json")):
        assert f"`{path.name}`" in listing, path.name


def test_web_example_starts_its_own_api_and_calls_it(work: Path) -> None:
    result = run_example(work, "web-api.nopflow.json", "--input", "min_temp=15")
    out = result["outputs"]
    assert [s["city"] for s in out["stations"]] == ["Lisbon", "Cairo", "Singapore"]
    assert out["report_id"] == 1
    assert out["requests_served"] == ["GET /stations", "POST /reports", "POST /shutdown"]
    stations = result["nodes"]["stations"]["output"]
    assert stations["status"] == 200 and stations["url"].endswith("/stations?min_temp=15")
    assert not (work / ".demo-api-port").exists()  # the demo server cleaned up after itself


def test_system_example_runs_commands_without_the_callers_path(work: Path) -> None:
    out = run_example(work, "shell-commands.nopflow.json", "--input", "text=abc")["outputs"]
    assert out["top_words"] == "the: 6, river: 3, a: 1"
    assert out["shouted"] == "ABC"
    assert out["counts"] == {"lines": 4, "words": 24}
    assert out["zebras"] == 0  # grep's exit code 1 (no match) is in the node's ok_codes
    assert out["system"]


def test_files_example_reads_csv_and_writes_csv_json_and_a_log(work: Path) -> None:
    out = run_example(work, "files.nopflow.json", "--input", "top=3")["outputs"]
    assert [c["city"] for c in out["largest"]] == ["Tokyo", "Delhi", "Shanghai"]
    assert (work / "out" / "largest.csv").read_text().splitlines() == [
        "city,country,population", "Tokyo,Japan,37194000", "Delhi,India,32941000",
        "Shanghai,China,29210000"]
    assert json.loads((work / "out" / "largest.json").read_text())[0]["population"] == 37194000
    again = run_example(work, "files.nopflow.json")["outputs"]
    assert again["log_lines"] == 2  # append mode: one line per run
    assert len(json.loads((work / "out" / "largest.json").read_text())) == 5  # overwritten


def test_sql_example_builds_its_database_and_queries_it(work: Path) -> None:
    out = run_example(work, "sql.nopflow.json")["outputs"]
    assert out["loaded"] == 8
    assert out["best"] == [{"customer": "Grace", "orders": 2, "total": 283.5},
                           {"customer": "Ada", "orders": 3, "total": 203.0},
                           {"customer": "Barbara", "orders": 1, "total": 149.0}]
    assert (work / "data" / "shop.sqlite").is_file()
    # Re-running is safe (the orders are upserted by id) and the parameter is bound.
    again = run_example(work, "sql.nopflow.json", "--input", "min_total=250")["outputs"]
    assert again["best"] == [{"customer": "Grace", "orders": 2, "total": 283.5}]
