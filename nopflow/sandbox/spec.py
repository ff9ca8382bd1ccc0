"""The data that crosses the sandbox's public API: what to run and what came of it.

Kept apart from the machinery so that the engine, the Dask executor and tests can build
specs and inspect results without reading (or importing much of) the process code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ScriptResult", "ScriptSpec"]


@dataclass(frozen=True)
class ScriptSpec:
    """Everything needed to run one script block once."""

    project_dir: Path
    code: str | None = None
    script: str | None = None
    input: object = None
    timeout_s: float = 30.0
    memory_mb: int = 2048
    cpu_s: int | None = None
    python: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    temp_dir: Path | None = None
    max_stdout_bytes: int = 64 * 2**20
    max_output_values: int = 2_000_000  # JSON values in the output: its parsed size
    stderr_tail_lines: int = 200
    label: str = ""
    check_inputs: bool = True  # run check_input_paths() on `input` before starting


@dataclass
class ScriptResult:
    """Outcome of one run; `error`'s first line says what happened in the user's terms."""

    ok: bool
    output: object
    error: str | None
    error_type: str | None
    traceback: str | None
    stderr_tail: str
    exit_code: int | None
    duration_s: float
