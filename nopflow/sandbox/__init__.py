"""Sandboxed child processes for Python-script blocks (stdlib only; see SECURITY.md).

The engine's ``python`` block uses exactly this API::

    runner = ScriptRunner()                       # one per app and event loop
    result = await runner.run(ScriptSpec(project_dir=p, code=src, input={"x": 1}))
    handle = await runner.start(spec, on_stderr_line=log)   # pause/resume/cancel/wait
    await runner.aclose()

* `runner.tier` says which confinement is active here, e.g.
  ``zygote+landlock(abi 7)+pidns+rlimits+memory(per process)+audit-hook+process-group+subreaper``
  on Linux, ``spawn+job-object+memory(whole tree)+audit-hook`` on Windows.
* `ScriptRunner(prefer="auto"|"zygote"|"pool"|"spawn", landlock=True, pool_size=2)`;
  `await runner.warm_up()` starts the zygote early so the first script is fast too.
* `ScriptSpec.check_inputs` (default True) runs `check_input_paths` on the input.
* Refusals before start raise `SandboxError`; everything after is in the `ScriptResult`.

How it works: a small zygote (``bootstrap.py``, started once per interpreter) keeps
pre-forked, pre-warmed spare children; a job's stdin/stdout/stderr/control fds are handed
to a spare over a unix socket (SCM_RIGHTS), the spare confines itself (session, rlimits,
Landlock, audit hook, env, cwd) and runs the code.  The runner reads the pipes with
``loop.add_reader``, so it works on any selector loop, qasync's included.

Modules (one job each): ``spec`` (ScriptSpec/ScriptResult), ``paths`` (path checks,
SandboxError), ``interpreters`` (which Python, validation), ``procs`` (env allow-list,
group signals, exit status), ``fdio`` (non-blocking pipe I/O), ``zygote`` / ``pool``
(backends), ``handle`` (one running script), ``messages`` (exit -> user-facing error),
``nproc`` / ``tempdirs`` (per-run budgets and temp dirs), ``runner`` (ScriptRunner),
``winspawn`` / ``winjob`` / ``threadio`` (Windows: spawn per script in a Job Object, pipes
served by threads), ``bootstrap`` (the child side: one stdlib-only file, deliberately not
split — it must run as ``python -I path/to/bootstrap.py`` and from a frozen app's shipped
source file, where sibling modules cannot be imported).
"""

from nopflow.sandbox.handle import ScriptHandle
from nopflow.sandbox.interpreters import (
    avalidate_interpreter,
    interpreter_problem,
    validate_interpreter,
)
from nopflow.sandbox.paths import SandboxError, check_input_paths, check_inside
from nopflow.sandbox.runner import ScriptRunner
from nopflow.sandbox.spec import ScriptResult, ScriptSpec

__all__ = [
    "SandboxError",
    "ScriptHandle",
    "ScriptResult",
    "ScriptRunner",
    "ScriptSpec",
    "avalidate_interpreter",
    "check_input_paths",
    "check_inside",
    "interpreter_problem",
    "validate_interpreter",
]
