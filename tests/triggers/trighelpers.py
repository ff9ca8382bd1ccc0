"""Workflow files with triggers and the `nopflow` CLI as a subprocess, for trigger tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def write_flow(folder: Path, triggers: list[dict[str, Any]], *, wf_id: str = "flow",
               name: str = "flow", nodes: list[dict[str, Any]] | None = None,
               settings: dict[str, Any] | None = None, file: str | None = None) -> Path:
    """A workflow whose output node returns `$trigger` (and `$input.who`)."""
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
        "edges": [] if nodes else [{"id": "e0", "source": "start", "target": "out"}],
        "triggers": triggers,
    }
    path = folder / (file or f"{wf_id}.nopflow.json")
    path.write_text(json.dumps(doc, indent=1))
    return path


def nopflow(*args: str, timeout: float = 60, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nopflow", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO, encoding="utf-8", env=env)
