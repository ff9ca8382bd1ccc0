"""Workflow files with triggers and the `nopflow` CLI as a subprocess, for trigger tests."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def write_flow(folder: Path, triggers: list[dict[str, Any]], *, wf_id: str = "flow",
               name: str = "flow", nodes: list[dict[str, Any]] | None = None,
               settings: dict[str, Any] | None = None, file: str | None = None) -> Path:
    """A workflow whose output node returns `$trigger` (and `$input.who`); ``nodes`` replace
    them, wired one after another."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = {
        "format": "nopflow/workflow", "version": 2, "id": wf_id, "name": name,
        "settings": settings or {},
        "inputs": {"who": "nobody"},
        "nodes": nodes or [
            {"id": "start", "type": "start"},
            {"id": "out", "type": "output",
             "config": {"values": {"trigger": "{{ $trigger }}", "who": "{{ $input.who }}"}}},
        ],
        "edges": [{"id": f"e{i}", "source": a["id"], "target": b["id"]}
                  for i, (a, b) in enumerate(itertools.pairwise(nodes))] if nodes
        else [{"id": "e0", "source": "start", "target": "out"}],
        "triggers": triggers,
    }
    path = folder / (file or f"{wf_id}.nopflow.json")
    path.write_text(json.dumps(doc, indent=1))
    return path


def nopflow(*args: str, timeout: float = 60, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nopflow", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO, encoding="utf-8", env=env)


class Scheduler:
    """A real `nopflow scheduler` process; its stderr lines are collected as they come."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        import threading

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nopflow", "scheduler", *args], cwd=REPO,
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, encoding="utf-8",
            env=env)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, needle: str, timeout: float = 20, count: int = 1) -> str:
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            hits = [ln for ln in self.lines if needle in ln]
            if len(hits) >= count:
                return hits[count - 1]
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no {count}x {needle!r} in scheduler output:\n{self.text()}")

    def stop(self, timeout: float = 30) -> int:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise
        self._reader.join(5)
        return rc

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def history(path: Path) -> list[dict[str, Any]]:
    """The kept runs of a workflow file, newest first (`nopflow history --json`)."""
    proc = nopflow("history", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def wait_history(path: Path, count: int, timeout: float = 20,
                 done: bool = True) -> list[dict[str, Any]]:
    import time

    end = time.monotonic() + timeout
    runs: list[dict[str, Any]] = []
    while time.monotonic() < end:
        runs = [r for r in history(path) if not done or r["status"] != "running"]
        if len(runs) >= count:
            return runs
        time.sleep(0.2)
    raise AssertionError(f"{len(runs)} runs of {path}, expected {count}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
