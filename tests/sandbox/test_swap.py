"""The file that runs is the file that was checked (issue 11 item 5): a script path
flipped between a file and a symlink to an outside file never runs the outside file."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from nopflow.sandbox import SandboxError, ScriptRunner, ScriptSpec
from nopflow.sandbox.paths import read_beneath

INSIDE = "import json; print(json.dumps('inside'))\n"
OUTSIDE = "import json; print(json.dumps('OUTSIDE'))\n"


def _flipper(path: Path, outside: Path, stop: threading.Event) -> threading.Thread:
    """Swap `path` between a regular file and a symlink to `outside` until `stop`
    (atomically, through rename, as fast as it goes)."""

    def flip() -> None:
        tmp_file, tmp_link = path.with_name(".f.py"), path.with_name(".l.py")
        n = 0
        while not stop.is_set() and n < 200_000:  # bounded whatever happens
            n += 1
            tmp_file.write_text(INSIDE)
            os.rename(tmp_file, path)
            os.symlink(outside, tmp_link)
            os.rename(tmp_link, path)

    t = threading.Thread(target=flip, daemon=True)
    t.start()
    return t


@pytest.mark.skipif(os.name != "posix", reason="symlink swaps")
@pytest.mark.parametrize("prefer", ["zygote", "pool"])
async def test_flipped_script_never_runs_the_outside_file(
    project: Path, tmp_path: Path, prefer: str
) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text(OUTSIDE)
    script = project / "b.py"
    script.write_text(INSIDE)
    stop = threading.Event()
    runner = ScriptRunner(prefer=prefer)
    outputs: list[object] = []
    refused = 0
    flipper = _flipper(script, outside, stop)
    try:
        for _ in range(60):
            try:
                r = await asyncio.wait_for(
                    runner.run(ScriptSpec(project_dir=project, script="b.py")), 30
                )
            except SandboxError as exc:  # refused before start: fine
                assert "b.py" in str(exc)
                refused += 1
                continue
            if r.ok:
                outputs.append(r.output)
    finally:
        stop.set()
        flipper.join(10)
        await asyncio.wait_for(runner.aclose(), 10)
    assert "OUTSIDE" not in outputs
    assert outputs.count("inside") > 0  # the race was really run, not always refused
    assert refused + len(outputs) <= 60


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_read_beneath_refuses_symlinks_and_non_files(project: Path, tmp_path: Path) -> None:
    (project / "sub").mkdir()
    (project / "sub" / "a.py").write_text("x = 1\n")
    assert read_beneath(project, project / "sub" / "a.py") == b"x = 1\n"
    (tmp_path / "out.py").write_text("y = 2\n")
    (project / "link.py").symlink_to(tmp_path / "out.py")
    with pytest.raises(SandboxError, match=r"\(a symlink appeared\): link\.py"):
        read_beneath(project, project / "link.py")
    (project / "d").symlink_to(tmp_path)  # a directory on the way that became a symlink
    with pytest.raises(SandboxError, match="symlink appeared"):
        read_beneath(project, project / "d" / "out.py")
    os.mkfifo(project / "fifo.py")
    with pytest.raises(SandboxError, match="not a regular file"):
        read_beneath(project, project / "fifo.py")


async def test_a_script_file_runs_with_its_traceback_lines(
    runner: ScriptRunner, project: Path
) -> None:
    """Run from the bytes read once: errors still quote the script's own line."""
    (project / "s.py").write_text("# -*- coding: latin-1 -*-\nx = 'caf\xe9'\n1 / 0\n",
                                  encoding="latin-1")  # fmt: skip
    r = await asyncio.wait_for(runner.run(ScriptSpec(project_dir=project, script="s.py")), 30)
    assert r.error == "ZeroDivisionError: division by zero (line 3)"
    assert r.traceback is not None and "1 / 0" in r.traceback
