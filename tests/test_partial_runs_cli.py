"""Partial runs, the cache and pins through `nopflow run` (docs/partial-runs.md), real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent

#: a node whose output changes every time it runs (so reuse is visible in the value)
STAMP = "import json, sys, time, uuid\nprint(json.dumps({'stamp': uuid.uuid4().hex}))"
ECHO = "import json, sys\nd = json.load(sys.stdin)\nprint(json.dumps({'seen': d}))"


def py(nid: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"id": nid, "type": "python", "config": {"code": code}, **extra}


def write(folder: Path, nodes: list[dict[str, Any]], edges: list[tuple[str, str]]) -> Path:
    doc = {
        "format": "nopflow/workflow", "version": 2, "id": "partial-wf", "name": "partial",
        "nodes": [{"id": "start", "type": "start"}, *nodes],
        "edges": [{"id": f"e{i}", "source": s.split(".")[0],
                   "source_port": s.split(".")[1] if "." in s else "out", "target": t}
                  for i, (s, t) in enumerate(edges)],
    }
    path = folder / "flow.nopflow.json"
    path.write_text(json.dumps(doc))
    return path


def nopflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nopflow", *args], capture_output=True,
                          text=True, timeout=120, cwd=REPO, encoding="utf-8")


def run_json(*args: str, code: int = 0) -> dict[str, Any]:
    proc = nopflow("run", *args, "--json")
    assert proc.returncode == code, proc.stderr
    return json.loads(proc.stdout)


def sources(result: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {nid: (n["source"], n["reused_from"]) for nid, n in result["nodes"].items()}


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    return write(tmp_path, [py("a", STAMP), py("b", ECHO), py("c", ECHO)],
                 [("start", "a"), ("a", "b"), ("b", "c")])


def test_from_reuses_upstream_and_runs_downstream(chain: Path) -> None:
    first = run_json(str(chain))
    assert set(sources(first).values()) == {("ran", None)}
    second = run_json(str(chain), "--from", "b")
    rid = first["run_id"]
    assert sources(second) == {"start": ("reused", rid), "a": ("reused", rid),
                               "b": ("ran", None), "c": ("ran", None)}
    # b saw exactly the output a kept in the first run
    assert second["nodes"]["b"]["output"] == {"seen": first["nodes"]["a"]["output"]}
    assert all(n["status"] == "success" for n in second["nodes"].values())
    hist = json.loads(nopflow("history", str(chain), "--json").stdout)
    assert hist[0]["run_id"] == second["run_id"]


def test_from_names_the_missing_output_and_runs_nothing(chain: Path) -> None:
    proc = nopflow("run", str(chain), "--from", "c")
    assert proc.returncode == 2
    assert "node a has no kept output: run the whole workflow first" in proc.stderr
    assert "node b has no kept output: run the whole workflow first" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert json.loads(nopflow("history", str(chain), "--json").stdout) == []


def test_unknown_from_node_is_a_usage_error(chain: Path) -> None:
    proc = nopflow("run", str(chain), "--from", "nope")
    assert proc.returncode == 2
    assert "--from: the workflow has no node 'nope'" in proc.stderr


def test_only_runs_just_those_nodes(chain: Path) -> None:
    first = run_json(str(chain))
    again = run_json(str(chain), "--only", "b")
    rid = first["run_id"]
    assert sources(again) == {"start": ("reused", rid), "a": ("reused", rid),
                              "b": ("ran", None), "c": ("reused", rid)}


def test_retry_failed_reruns_failed_and_downstream(tmp_path: Path) -> None:
    flag = tmp_path / "ok"
    gate = (f"import json, os, sys\nif not os.path.exists({str(flag)!r}): sys.exit('not yet')"
            "\nprint(json.dumps({'gate': 'open'}))")
    path = write(tmp_path, [py("a", STAMP), py("b", gate), py("c", ECHO)],
                 [("start", "a"), ("a", "b"), ("b", "c")])
    failed = run_json(str(path), code=1)
    assert failed["nodes"]["b"]["status"] == "error"
    assert failed["nodes"]["c"]["status"] in ("cancelled", "skipped")
    flag.write_text("")
    retry = run_json(str(path), "--retry-failed")
    rid = failed["run_id"]
    assert retry["status"] == "completed"
    assert sources(retry) == {"start": ("reused", rid), "a": ("reused", rid),
                              "b": ("ran", None), "c": ("ran", None)}
    assert retry["nodes"]["a"]["output"] == failed["nodes"]["a"]["output"]


def test_retry_failed_without_a_run_says_so(chain: Path) -> None:
    proc = nopflow("run", str(chain), "--retry-failed")
    assert proc.returncode == 2
    assert "no kept run" in proc.stderr


def test_reused_output_larger_than_history_keeps(tmp_path: Path) -> None:
    big = "import json\nprint(json.dumps({'text': 'x' * 400000}))"
    size = "import json, sys\nprint(json.dumps({'n': len(json.load(sys.stdin)['text'])}))"
    path = write(tmp_path, [py("a", big), py("b", size)], [("start", "a"), ("a", "b")])
    first = run_json(str(path))
    assert first["nodes"]["a"]["output"]["text"] == "x" * 400000
    hist = json.loads(nopflow("history", str(path), "--json").stdout)
    assert "truncated" in json.dumps(hist)  # history alone could not seed b
    again = run_json(str(path), "--from", "b")
    assert again["nodes"]["a"]["source"] == "reused"
    assert again["nodes"]["b"]["output"] == {"n": 400000}


def test_cache_hits_and_no_cache(tmp_path: Path) -> None:
    path = write(tmp_path, [py("a", STAMP, cache=True), py("b", ECHO)],
                 [("start", "a"), ("a", "b")])
    first = run_json(str(path))
    assert first["nodes"]["a"]["source"] == "ran"
    proc = nopflow("run", str(path), "--json", "--events")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    hit = lines[-1]
    assert hit["nodes"]["a"]["source"] == "cached"
    assert hit["nodes"]["a"]["output"] == first["nodes"]["a"]["output"]
    assert hit["nodes"]["b"]["source"] == "ran"
    a_done = [e for e in lines[:-1] if e.get("event") == "node_state"
              and e["node_id"] == "a" and e["state"] == "success"]
    assert [e["source"] for e in a_done] == ["cached"]
    assert "✓ a success" in proc.stderr and "(cached)" in proc.stderr
    fresh = run_json(str(path), "--no-cache")
    assert fresh["nodes"]["a"]["source"] == "ran"
    assert fresh["nodes"]["a"]["output"] != first["nodes"]["a"]["output"]


def test_cache_key_follows_config_and_input(tmp_path: Path) -> None:
    path = write(tmp_path, [py("a", STAMP), py("b", ECHO, cache=True)],
                 [("start", "a"), ("a", "b")])
    run_json(str(path))
    # a runs again with a new stamp: b's input changed, so b misses
    assert run_json(str(path))["nodes"]["b"]["source"] == "ran"
    # b's input the same (a reused) and config the same: a hit
    assert run_json(str(path), "--from", "b")["nodes"]["b"]["source"] == "cached"
    doc = json.loads(path.read_text())
    doc["nodes"][2]["config"]["code"] = ECHO + "\n# edited"
    path.write_text(json.dumps(doc))
    assert run_json(str(path), "--from", "b")["nodes"]["b"]["source"] == "ran"


def test_script_file_content_is_in_the_key(tmp_path: Path) -> None:
    script = tmp_path / "work.py"
    script.write_text(STAMP)
    path = write(tmp_path, [{"id": "a", "type": "python", "cache": True,
                             "config": {"script": "work.py"}}], [("start", "a")])
    first = run_json(str(path))
    assert run_json(str(path))["nodes"]["a"]["source"] == "cached"
    script.write_text(STAMP + "\n# changed")
    changed = run_json(str(path))
    assert changed["nodes"]["a"]["source"] == "ran"
    assert changed["nodes"]["a"]["output"] != first["nodes"]["a"]["output"]


def test_pins_apply_only_with_the_flag(tmp_path: Path) -> None:
    path = write(tmp_path, [py("a", STAMP, pinned={"stamp": "pinned!"}), py("b", ECHO)],
                 [("start", "a"), ("a", "b")])
    plain = nopflow("run", str(path), "--json")
    assert plain.returncode == 0, plain.stderr
    notes = [x for x in plain.stderr.splitlines() if "pinned" in x]
    assert notes == ["nopflow: note: pinned output ignored on 1 node (a); add --pins to "
                     "apply pins"]
    assert json.loads(plain.stdout)["nodes"]["a"]["source"] == "ran"
    pinned = run_json(str(path), "--pins")
    assert pinned["nodes"]["a"]["source"] == "pinned"
    assert pinned["nodes"]["b"]["output"] == {"seen": {"stamp": "pinned!"}}


def test_condition_branch_is_kept_by_a_reused_node(tmp_path: Path) -> None:
    path = write(tmp_path, [
        {"id": "if", "type": "condition", "config": {"expression": "1 == 1"}},
        py("yes", ECHO), py("no", ECHO)],
        [("start", "if"), ("if.true", "yes"), ("if.false", "no")])
    run_json(str(path))
    again = run_json(str(path), "--from", "yes")
    assert again["nodes"]["if"]["source"] == "reused"
    assert again["nodes"]["yes"]["status"] == "success"
    assert again["nodes"]["no"]["status"] == "skipped"
