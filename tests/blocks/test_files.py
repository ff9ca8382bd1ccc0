"""`read_file` / `write_file` on real files in a project folder."""

from __future__ import annotations

import base64
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nopflow.engine.compiler import validate
from nopflow.engine.runner import Run
from nopflow.model import Workflow

REPO = Path(__file__).resolve().parents[2]


def wf(*nodes: dict[str, Any]) -> Workflow:
    ids = ["start", *(n["id"] for n in nodes)]
    return Workflow.model_validate({
        "nodes": [{"id": "start", "type": "start"}, *nodes],
        "edges": [{"id": f"e{i}", "source": a, "target": b}
                  for i, (a, b) in enumerate(itertools.pairwise(ids))]})


async def run(workflow: Workflow, project: Path) -> Run:
    r = Run(workflow, project_dir=project)
    await r.execute()
    return r


@pytest.mark.parametrize("fmt, text, content", [
    ("text", "héllo\nworld\n", "héllo\nworld\n"),
    ("lines", "a\nb\n", ["a", "b"]),
    ("json", '{"n": [1, 2]}', {"n": [1, 2]}),
    ("csv", "name,n\nann,1\nbob,2\n", [{"name": "ann", "n": "1"}, {"name": "bob", "n": "2"}]),
])
async def test_read_formats(tmp_path: Path, fmt: str, text: str, content: Any):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.txt").write_text(text, encoding="utf-8")
    r = await run(wf({"id": "r", "type": "read_file",
                      "config": {"path": "data/in.txt", "format": fmt}}), tmp_path)
    assert r.state.value == "completed", r.nodes["r"].error
    assert r.nodes["r"].output == {"path": "data/in.txt", "content": content,
                                   "size": len(text.encode())}


async def test_read_base64_keeps_bytes(tmp_path: Path):
    (tmp_path / "b.bin").write_bytes(b"\x00\xff\x10")
    r = await run(wf({"id": "r", "type": "read_file",
                      "config": {"path": "b.bin", "format": "base64"}}), tmp_path)
    assert base64.b64decode(r.nodes["r"].output["content"]) == b"\x00\xff\x10"


async def test_read_errors_are_clear(tmp_path: Path):
    r = await run(wf({"id": "r", "type": "read_file", "config": {"path": "nope.txt"}}), tmp_path)
    assert r.nodes["r"].error == "no such file in the project folder: nope.txt"
    (tmp_path / "bad.json").write_text("{oops")
    r = await run(wf({"id": "r", "type": "read_file",
                      "config": {"path": "bad.json", "format": "json"}}), tmp_path)
    assert r.nodes["r"].error.startswith("bad.json is not valid JSON: ")
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9")
    r = await run(wf({"id": "r", "type": "read_file", "config": {"path": "latin.txt"}}),
                  tmp_path)
    assert "cannot read latin.txt as utf-8" in r.nodes["r"].error
    r = await run(wf({"id": "r", "type": "read_file",
                      "config": {"path": "latin.txt", "encoding": "latin-1"}}), tmp_path)
    assert r.nodes["r"].output["content"] == "café"


async def test_paths_outside_the_project_are_refused(tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "secret.txt").write_text("outside")
    (project / "link.txt").symlink_to(tmp_path / "secret.txt")
    problems = [str(p) for p in validate(
        wf({"id": "r", "type": "read_file", "config": {"path": "../secret.txt"}}), project)]
    assert any("node r: config.path: path outside the project directory" in p
               for p in problems)
    problems = [str(p) for p in validate(
        wf({"id": "r", "type": "read_file", "config": {"path": "link.txt"}}), project)]
    assert any("path outside the project directory: link.txt" in p for p in problems)
    r = Run(wf({"id": "r", "type": "read_file", "config": {"path": "{{ $input.p }}"}}),
            project_dir=project, inputs={"p": "link.txt"})
    await r.execute()
    assert "outside the project directory" in r.nodes["r"].error
    r = Run(wf({"id": "w", "type": "write_file",
                "config": {"path": "{{ $input.p }}", "content": "x"}}),
            project_dir=project, inputs={"p": "../escape.txt"})
    await r.execute()
    assert "outside the project directory" in r.nodes["w"].error
    assert not (tmp_path / "escape.txt").exists()


async def test_write_formats_and_modes(tmp_path: Path):
    rows = [{"name": "ann", "n": 1}, {"name": "bob", "extra": True}]
    r = await run(wf(
        {"id": "j", "type": "write_file", "config": {"path": "out/a.json", "content": {"x": 1}}},
        {"id": "c", "type": "write_file",
         "config": {"path": "out/rows.csv", "content": rows, "format": "csv"}},
        {"id": "t", "type": "write_file", "config": {"path": "log.txt", "content": "one\n"}},
        {"id": "t2", "type": "write_file",
         "config": {"path": "log.txt", "content": "two\n", "mode": "append"}},
    ), tmp_path)
    assert r.state.value == "completed", {n: x.error for n, x in r.nodes.items()}
    assert json.loads((tmp_path / "out" / "a.json").read_text()) == {"x": 1}
    assert (tmp_path / "out" / "rows.csv").read_text() == (
        "name,n,extra\nann,1,\nbob,,true\n")
    assert (tmp_path / "log.txt").read_text() == "one\ntwo\n"
    assert r.nodes["j"].output == {"path": "out/a.json",
                                   "bytes": (tmp_path / "out" / "a.json").stat().st_size}


async def test_create_mode_never_replaces(tmp_path: Path):
    (tmp_path / "keep.txt").write_text("original")
    r = await run(wf({"id": "w", "type": "write_file",
                      "config": {"path": "keep.txt", "content": "new", "mode": "create"}}),
                  tmp_path)
    assert r.nodes["w"].error == "keep.txt already exists (mode create never replaces a file)"
    assert (tmp_path / "keep.txt").read_text() == "original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]  # no temp left behind


def test_overwrite_is_atomic_under_kill(tmp_path: Path):
    """kill -9 while a big overwrite is in flight: the file is the old one or the new one."""
    target = tmp_path / "big.txt"
    target.write_text("old" * 10)
    code = ("import sys\nfrom pathlib import Path\nfrom nopflow.model.fileio import "
            "atomic_write_bytes\n"
            "p = Path(sys.argv[1])\nprint('go', flush=True)\n"
            "for i in range(200):\n    atomic_write_bytes(p, b'n' * 4_000_000)\n")
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", code, str(target)],
                                stdout=subprocess.PIPE, cwd=REPO)
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"go"
        proc.kill()
        proc.wait(timeout=10)
        data = target.read_bytes()
        assert data in (b"old" * 10, b"n" * 4_000_000)


def test_cli_round_trip(tmp_path: Path):
    (tmp_path / "people.csv").write_text("name,age\nann,31\nbob,42\n")
    doc = {"format": "nopflow/workflow", "version": 1, "name": "files",
           "nodes": [{"id": "start", "type": "start"},
                     {"id": "read", "type": "read_file",
                      "config": {"path": "people.csv", "format": "csv"}},
                     {"id": "write", "type": "write_file",
                      "config": {"path": "people.json", "content": "{{ $prev.content }}"}}],
           "edges": [{"id": "a", "source": "start", "target": "read"},
                     {"id": "b", "source": "read", "target": "write"}]}
    path = tmp_path / "files.nopflow.json"
    path.write_text(json.dumps(doc))
    proc = subprocess.run([sys.executable, "-m", "nopflow", "run", str(path), "--json"],
                          capture_output=True, text=True, timeout=60, cwd=REPO,
                          env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "people.json").read_text()) == [
        {"name": "ann", "age": "31"}, {"name": "bob", "age": "42"}]
