"""JSON in and out stays strict and text that is not Unicode never loses a run (real CLI
subprocesses, real files): no NaN/Infinity anywhere, clear errors for deep nesting and
NUL bytes, bounded loops."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nopflow.errors import WorkflowFileError
from nopflow.model import load_workflow, save_workflow

REPO = Path(__file__).resolve().parent.parent


def strict(text: str) -> Any:
    """What any other JSON reader accepts: no NaN/Infinity, valid UTF-8 text."""
    def refuse(name: str) -> Any:
        raise AssertionError(f"bare {name} in output")

    text.encode("utf-8")  # raises on a lone surrogate
    return json.loads(text, parse_constant=refuse)


def write(folder: Path, nodes: list[dict[str, Any]], **extra: Any) -> Path:
    edges = [{"id": f"e{i}", "source": "start", "target": n["id"]} for i, n in enumerate(nodes)]
    doc = {"format": "nopflow/workflow", "version": 1, "id": extra.pop("id", "strict"),
           "name": extra.pop("name", "Strict"), "settings": {"error_mode": "continue"},
           "nodes": [{"id": "start", "type": "start"}, *nodes], "edges": edges, **extra}
    path = folder / "flow.nopflow.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def nopflow(*args: str | bytes, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "nopflow", *args], capture_output=True,
                          timeout=120, cwd=REPO, **kw)


def py(nid: str, code: str) -> dict[str, Any]:
    return {"id": nid, "type": "python", "config": {"code": code}}


def test_text_that_is_not_unicode_keeps_the_run(tmp_path: Path) -> None:
    path = write(tmp_path, [py("sur", "print('{\"\\\\ud800\": \"x\\\\udfff\"}')"),
                            {"id": "o", "type": "output",
                             "config": {"values": {"x": "{{ $input.x }}"}}}],
                 name="bad \udc80 name", inputs={"x": {"default": ""}})
    proc = nopflow("run", str(path), "--json", b"--input", b"x=\xff")
    assert proc.returncode == 0, proc.stderr.decode()
    result = strict(proc.stdout.decode("utf-8"))
    assert result["outputs"] == {"x": "\\xff"}
    assert result["nodes"]["sur"]["output"] == {"\\ud800": "x\\udfff"}
    hist = nopflow("history", str(path), "--json")
    runs = strict(hist.stdout.decode("utf-8"))
    assert [r["run_id"] for r in runs] == [result["run_id"]]
    assert runs[0]["workflow_name"] == "bad \\udc80 name"
    assert runs[0]["inputs"] == {"x": "\\xff"}
    text = nopflow("history", str(path))
    assert text.returncode == 0 and b"no runs kept yet" not in text.stderr
    assert b"Traceback" not in proc.stderr + hist.stderr + text.stderr


def test_numbers_json_cannot_hold_are_refused_or_errors(tmp_path: Path) -> None:
    path = write(tmp_path, [
        py("inf", "print('{\"a\": 1e999}')"),
        py("nan", "print('{\"a\": NaN}')"),
        {"id": "o", "type": "output",
         "config": {"values": {"x": "{{ $input.x }}", "y": "{{ 1e308 * 10 }}"}}},
        {"id": "o2", "type": "output", "config": {"values": {"x": "{{ $input.x }}"}}},
    ], inputs={"x": {"default": 0}})
    proc = nopflow("run", str(path), "--json", "--events", "--input", "x=NaN")
    assert proc.returncode == 1
    lines = [strict(line) for line in proc.stdout.decode().splitlines()]
    result = lines[-1]
    nodes = result["nodes"]
    assert "1e999 is out of range" in nodes["inf"]["error"]
    assert "NaN is not allowed" in nodes["nan"]["error"]
    assert "number is too large" in nodes["o"]["error"]
    assert result["outputs"] == {"x": "NaN"}  # NaN given on the command line is text
    runs = strict(nopflow("history", str(path), "--json").stdout.decode())
    assert runs[0]["run_id"] == result["run_id"]
    for file in (Path(tmp_path / "data").glob("history/*.json")):
        strict(file.read_text(encoding="utf-8"))


def test_infinity_in_a_workflow_is_a_load_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "inf.nopflow.json"
    path.write_text('{"format": "nopflow/workflow", "version": 1, "name": "x", '
                    '"variables": {"big": 1e999}, "nodes": [], "edges": []}')
    for command in ("validate", "run"):
        proc = nopflow(command, str(path))
        assert proc.returncode == 2
        err = proc.stderr.decode()
        assert "$.variables.big" in err and "1e999" in err and "Traceback" not in err


def test_saving_a_non_finite_number_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    path = write(tmp_path, [])
    before = path.read_bytes()
    wf = load_workflow(path)
    wf.variables["ratio"] = float("inf")
    with pytest.raises(WorkflowFileError) as info:
        save_workflow(wf, path)
    assert "$.variables.ratio" in str(info.value) and str(path) in str(info.value)
    assert path.read_bytes() == before


def test_deep_nesting_and_nul_bytes_are_clear_errors(tmp_path: Path) -> None:
    path = write(tmp_path, [py("deep", "print('[' * 900 + ']' * 900)"),
                            py("deeper", "print('[' * 100000 + ']' * 100000)")])
    deep_input = "x=" + "[" * 1000 + "]" * 1000
    proc = nopflow("run", str(path), "--input", deep_input)
    assert proc.returncode == 2
    assert b"nested too deeply" in proc.stderr and b"Traceback" not in proc.stderr
    proc = nopflow("run", str(path), "--json")
    nodes = strict(proc.stdout.decode())["nodes"]
    for nid in ("deep", "deeper"):
        assert nodes[nid]["error"].startswith("output is not valid JSON: nested too deeply")
    assert b"Traceback" not in proc.stderr and b"RecursionError" not in proc.stderr
    nul = write(tmp_path, [{"id": "n", "type": "python", "config": {"script": "a\0.py"}}])
    for command in ("validate", "run"):
        proc = nopflow(command, str(nul))
        assert proc.returncode == 2, proc.stderr
        out = (proc.stdout + proc.stderr).decode()
        assert "node n: config.script" in out and "NUL byte" in out and "Traceback" not in out


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_AS")
def test_a_huge_loop_count_is_a_node_error_not_a_memory_blow_up(tmp_path: Path) -> None:
    path = write(tmp_path, [{"id": "loop", "type": "loop", "config": {"count": 100_000_000}}])
    proc = nopflow("run", str(path), "--json", preexec_fn=_limit_memory)
    assert proc.returncode == 1, proc.stderr[-2000:]
    node = strict(proc.stdout.decode())["nodes"]["loop"]
    assert node["status"] == "error" and "config.count" in node["error"]
    assert b"MemoryError" not in proc.stderr and b"Traceback" not in proc.stderr
