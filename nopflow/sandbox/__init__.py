"""Sandboxed child processes for Python-script blocks (stdlib only; see SECURITY.md).

The engine's ``python`` block uses exactly this API::

    runner = ScriptRunner()                       # one per app; owns the zygote / pool
    result = await runner.run(ScriptSpec(project_dir=p, code=src, input={"x": 1}))
    handle = await runner.start(spec, on_stderr_line=log)   # pause/resume/cancel/wait
    await runner.aclose()

`runner.tier` says which confinement is active on this machine.
"""

from nopflow.sandbox.paths import SandboxError, check_input_paths, check_inside
from nopflow.sandbox.runner import (
    ScriptHandle,
    ScriptResult,
    ScriptRunner,
    ScriptSpec,
    avalidate_interpreter,
    validate_interpreter,
)

__all__ = [
    "SandboxError",
    "ScriptHandle",
    "ScriptResult",
    "ScriptRunner",
    "ScriptSpec",
    "avalidate_interpreter",
    "check_input_paths",
    "check_inside",
    "validate_interpreter",
]
