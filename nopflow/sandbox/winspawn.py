"""The Windows backend: a fresh ``python -I bootstrap.py --worker`` per script, in its own
Job Object (winjob.py), with its pipes served by threads (threadio.py).

Windows has no fork (so no zygote) and no fd passing (so no pre-spawned pool whose pipes
could be swapped per job); a plain spawn per script is the honest choice.  The child is
created with ``CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW`` and inherits exactly five
handles (``STARTUPINFO.lpAttributeList["handle_list"]``): its stdin/stdout/stderr and two
one-way control pipes, named on its command line as ``--worker REPORT:CONFIG``.  It is put
into its Job Object right after CreateProcess; only then is its config written, and the
bootstrap runs no user code before it has read the config — so nothing the script does
happens outside the job.

The same code runs on POSIX with ``pass_fds`` instead of the handle list (and a test's
stand-in for the Job Object), which is how the I/O and protocol half is tested on Linux.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nopflow.sandbox.handle import ScriptHandle, _Job
from nopflow.sandbox.interpreters import _mode_flag
from nopflow.sandbox.paths import SandboxError
from nopflow.sandbox.procs import _popen
from nopflow.sandbox.spec import ScriptSpec
from nopflow.sandbox.threadio import _ThreadReader, _ThreadWriter, _wait_in_thread
from nopflow.sandbox.winjob import JobObject, creation_flags

if TYPE_CHECKING:
    from nopflow.sandbox.runner import ScriptRunner


def _inherit_only(child_ends: list[int]) -> tuple[dict[str, Any], list[int]]:
    """Popen arguments so the child inherits exactly `child_ends` (besides its stdio), and
    the numbers the child knows them by (handles on Windows, fds elsewhere)."""
    if sys.platform == "win32":
        import msvcrt

        handles = [msvcrt.get_osfhandle(fd) for fd in child_ends]  # type: ignore[attr-defined]
        for h in handles:
            os.set_handle_inheritable(h, True)  # type: ignore[attr-defined]
        si = subprocess.STARTUPINFO()  # type: ignore[attr-defined]
        si.lpAttributeList = {"handle_list": handles}
        return {"close_fds": True, "startupinfo": si, "creationflags": creation_flags()}, handles
    return {"pass_fds": tuple(child_ends), "start_new_session": True}, list(child_ends)


def start_job(
    runner: ScriptRunner,
    prefix: list[str],
    label: str,
    spec: ScriptSpec,
    config: bytes,
    stdin_data: bytes,
    temp: Path,
    remove_temp: bool,
    on_stderr_line: Callable[[str], None] | None,
    *,
    job_factory: Callable[[int], Any] | None = None,
) -> ScriptHandle:
    """Spawn a worker for `spec` inside a new Job Object and return its handle.

    `job_factory(memory_mb)` makes the job (default `winjob.JobObject`, looked up per call).
    """
    loop = asyncio.get_running_loop()
    try:
        job = (job_factory or JobObject)(int(spec.memory_mb))
    except OSError as exc:
        raise SandboxError(f"cannot create the script's Job Object: {exc}") from exc
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    cfg_r, cfg_w = os.pipe()
    rep_r, rep_w = os.pipe()
    ok = False
    try:
        kwargs, (rep_id, cfg_id) = _inherit_only([rep_w, cfg_r])
        argv = [*prefix, _mode_flag(prefix, "worker"), f"{rep_id}:{cfg_id}"]
        popen = _popen(argv, label, stdin=in_r, stdout=out_w, stderr=err_w, **kwargs)
        try:
            job.assign(popen.pid)
        except OSError as exc:
            popen.kill()  # it is still waiting for its config: no user code ran
            popen.wait()
            raise SandboxError(f"cannot put the script into its Job Object: {exc}") from exc
        ok = True
    finally:
        for fd in (in_r, out_w, err_w, cfg_r, rep_w):  # the child's ends
            with contextlib.suppress(OSError):
                os.close(fd)
        if not ok:
            for fd in (in_w, out_r, err_r, cfg_w, rep_r):
                with contextlib.suppress(OSError):
                    os.close(fd)
            job.close()
    # In its job now: the config (and with it the user's code) may go.
    writers = (_ThreadWriter(loop, cfg_w, config), _ThreadWriter(loop, in_w, stdin_data))
    return ScriptHandle(
        runner,
        _Job(spec, config, stdin_data, temp, remove_temp, on_stderr_line),
        popen.pid,
        stdout_r=out_r,
        stderr_r=err_r,
        ctl_fd=rep_r,
        writers=writers,
        exit_source=_wait_in_thread(loop, popen),
        on_exit=job.close,  # kills stragglers (so the pipes reach EOF) and frees the job
        started=loop.time(),
        control=job,
        reader=_ThreadReader,
    )
