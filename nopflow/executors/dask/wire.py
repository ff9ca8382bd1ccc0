"""The messages between the dask client and its workers: plain, versioned dicts.

Kept plain so any worker with the same nopflow can serve any client: the job carries
JSON-friendly values (input as JSON text, inline code as text, a ``script`` file's
source with its project-relative path so tracebacks keep the filename); the result
mirrors the sandbox's ScriptResult with the output as JSON text; live stderr lines and
the "started on worker W" note travel as events ``{"k": token, "e": "line"|"start", …}``
on the client's own event topic. No module here imports ``distributed``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nopflow.engine.context import NodeFailure
from nopflow.engine.executor import ScriptRequest
from nopflow.sandbox import SandboxError, ScriptResult, check_inside

#: bumped when the job/result/event dicts change; a worker with another nopflow says so
PROTOCOL = 1
#: after this many lines per task, lines are no longer streamed (the tail still comes back)
LIVE_LINES_MAX = 5000


def failure(message: str, error_type: str) -> ScriptResult:
    """A script that never produced a result, in the sandbox's own result type."""
    return ScriptResult(False, None, message, error_type, None, "", None, 0.0)


def cancelled() -> ScriptResult:
    return failure("cancelled", "Cancelled")


# ---------------------------------------------------------------------------- the job
def build_job(request: ScriptRequest, *, scratch: bool, executor_id: str) -> dict[str, Any]:
    """The job dict a worker gets; NodeFailure (naming the problem) if it cannot be built."""
    try:
        input_json = json.dumps(request.input, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise NodeFailure(f"inputs are not JSON-serializable: {exc}",
                          error_type="SandboxError") from None
    job: dict[str, Any] = {
        "protocol": PROTOCOL,
        "executor_id": executor_id,
        "project_dir": str(request.project_dir),
        "temp_dir": str(request.temp_dir) if request.temp_dir is not None else None,
        "scratch": scratch,
        "code": request.code,
        "script": None,
        "script_source": None,
        "input_json": input_json,
        "timeout_s": float(request.timeout_s),
        "memory_mb": int(request.memory_mb),
        "python": request.python,
        "env": dict(request.env),
        "label": request.label,
    }
    if request.script is not None:
        job["script"], job["script_source"] = _read_script(request)
    return job


def _read_script(request: ScriptRequest) -> tuple[str, str]:
    """The script's project-relative posix path and its source, read on the client."""
    root = Path(request.project_dir).resolve()
    script = request.script or ""
    try:
        path = check_inside(root, script, what="script path")
    except SandboxError as exc:
        raise NodeFailure(str(exc), error_type="SandboxError") from None
    if not path.is_file():
        raise NodeFailure(f"script not found: {script}", error_type="SandboxError")
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NodeFailure(f"cannot read script {script}: {exc}",
                          error_type="SandboxError") from None
    return path.relative_to(root).as_posix(), source


def protocol_mismatch(job: dict[str, Any]) -> dict[str, Any] | None:
    """The result a worker returns for a job from another nopflow version, else None."""
    if job.get("protocol") == PROTOCOL:
        return None
    return refused(f"this worker's nopflow speaks protocol {PROTOCOL}, the client sent "
                   f"{job.get('protocol')}; install the same nopflow version on the workers",
                   "ExecutorError")


# ------------------------------------------------------------------------- the result
def refused(message: str, error_type: str, worker: str | None = None) -> dict[str, Any]:
    """A result for a job that never started a script."""
    return {"ok": False, "error": message, "error_type": error_type, "stderr_tail": "",
            "lines": 0, "streamed": 0, "worker": worker}


def result_to_wire(result: ScriptResult, *, lines: int, streamed: int, worker: str | None,
                   project_mode: str) -> dict[str, Any]:
    """Worker side: the sandbox's result as plain data, with the stderr line counts."""
    output_json = json.dumps(result.output, ensure_ascii=False) if result.ok else None
    return {
        "ok": bool(result.ok),
        "output_json": output_json,
        "error": result.error,
        "error_type": result.error_type,
        "traceback": result.traceback,
        "stderr_tail": result.stderr_tail,
        "exit_code": result.exit_code,
        "duration_s": result.duration_s,
        "lines": lines,
        "streamed": streamed,
        "worker": worker,
        "project_mode": project_mode,
    }


def result_from_wire(raw: Any) -> ScriptResult:
    """Client side: what came back (a result dict, or a cancel/exception note) as a result."""
    if not isinstance(raw, dict):
        return failure(f"the dask worker returned an unexpected result: {raw!r:.200}",
                       "ExecutorError")
    if raw.get("cancelled"):
        return cancelled()
    if "exception" in raw:
        return failure(f"the dask task failed: {raw['exception']}", "ExecutorError")
    output: Any = None
    if raw.get("ok"):
        try:
            output = json.loads(raw.get("output_json") or "{}")
        except ValueError as exc:  # not from our worker; be explicit anyway
            return failure(f"output is not valid JSON: {exc}", "InvalidOutput")
    return ScriptResult(
        ok=bool(raw.get("ok")),
        output=output,
        error=raw.get("error"),
        error_type=raw.get("error_type"),
        traceback=raw.get("traceback"),
        stderr_tail=raw.get("stderr_tail") or "",
        exit_code=raw.get("exit_code"),
        duration_s=float(raw.get("duration_s") or 0.0),
    )


# ------------------------------------------------------------------------- the events
def start_event(token: str, worker: str | None) -> dict[str, Any]:
    return {"k": token, "e": "start", "w": worker}


def line_event(token: str, index: int, line: str) -> dict[str, Any]:
    return {"k": token, "e": "line", "i": index, "l": line}


def event_token(event: Any) -> str | None:
    """The task token of a ``(timestamp, msg)`` topic event, None for anyone else's."""
    try:
        _ts, msg = event
        token = msg.get("k")
    except (TypeError, ValueError, AttributeError):
        return None
    return token if isinstance(token, str) else None
