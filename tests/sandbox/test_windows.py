"""The Windows backend, as far as it can be exercised off Windows.

* Job Object structures and flags: a wrong layout makes SetInformationJobObject fail with
  ERROR_BAD_LENGTH on Windows, so sizes and offsets are checked against the Windows SDK.
* Backend selection, tier and environment with ``sys.platform`` set to ``win32``.
* The whole spawn path (two one-way control pipes, ``--worker REPORT:CONFIG``, thread-served
  pipes, exit in a thread, job control) with real children on POSIX, where a process group
  stands in for the Job Object and ``pass_fds`` for the inherited handle list.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nopflow.sandbox import (
    SandboxError,
    ScriptResult,
    ScriptRunner,
    ScriptSpec,
    bootstrap,
    procs,
    winjob,
    winspawn,
)
from nopflow.sandbox.threadio import _ThreadReader, _ThreadWriter

POSIX = os.name == "posix"
BITS64 = ctypes.sizeof(ctypes.c_void_p) == 8


# --------------------------------------------------------------------------- structures
@pytest.mark.skipif(not BITS64, reason="64-bit layout")
def test_job_structures_match_the_windows_sdk_layout_64bit() -> None:
    basic = winjob.JOBOBJECT_BASIC_LIMIT_INFORMATION
    ext = winjob.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
    assert ctypes.sizeof(basic) == 64
    assert ctypes.sizeof(winjob.IO_COUNTERS) == 48
    assert ctypes.sizeof(ext) == 144
    assert basic.LimitFlags.offset == 16
    assert basic.MinimumWorkingSetSize.offset == 24
    assert basic.ActiveProcessLimit.offset == 40
    assert basic.Affinity.offset == 48
    assert basic.SchedulingClass.offset == 60
    assert ext.IoInfo.offset == 64
    assert ext.ProcessMemoryLimit.offset == 112
    assert ext.PeakJobMemoryUsed.offset == 136
    ids = winjob.JOBOBJECT_BASIC_PROCESS_ID_LIST
    assert ids.ProcessIdList.offset == 8  # ULONG_PTR aligned after two DWORDs


def test_extended_limits_sets_kill_on_close_memory_and_process_count() -> None:
    """memory_mb bounds each process and the whole job (the script's tree) alike."""
    info = winjob.extended_limits(256, max_processes=10)
    flags = info.BasicLimitInformation.LimitFlags
    assert flags & winjob.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE == 0x2000
    assert flags & winjob.JOB_OBJECT_LIMIT_PROCESS_MEMORY == 0x100
    assert flags & winjob.JOB_OBJECT_LIMIT_ACTIVE_PROCESS == 0x8
    assert flags & winjob.JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION == 0x400
    assert flags & winjob.JOB_OBJECT_LIMIT_JOB_MEMORY == 0x200
    assert flags == 0x2000 | 0x400 | 0x200 | 0x100 | 0x8  # nothing else (no breakaway)
    assert info.ProcessMemoryLimit == 256 * 2**20
    assert info.JobMemoryLimit == 256 * 2**20
    assert info.BasicLimitInformation.ActiveProcessLimit == 10
    # the default process cap, and "no memory limit" leaves the memory flag off
    info = winjob.extended_limits(0)
    assert info.BasicLimitInformation.ActiveProcessLimit == winjob.JOB_MAX_PROCESSES == 64
    assert not info.BasicLimitInformation.LimitFlags & (
        winjob.JOB_OBJECT_LIMIT_PROCESS_MEMORY | winjob.JOB_OBJECT_LIMIT_JOB_MEMORY)
    assert info.ProcessMemoryLimit == info.JobMemoryLimit == 0


def test_creation_flags() -> None:
    assert winjob.creation_flags() == 0x00000200 | 0x08000000


@pytest.mark.skipif(sys.platform == "win32", reason="checks the non-Windows guard")
def test_job_object_refuses_off_windows() -> None:
    with pytest.raises(OSError):
        winjob.JobObject(100)


# --------------------------------------------------------------------------- selection
@pytest.mark.parametrize("prefer", ["auto", "zygote", "pool", "spawn"])
async def test_windows_always_uses_spawn_with_a_job_object(
    monkeypatch: pytest.MonkeyPatch, prefer: str
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    r = ScriptRunner(prefer=prefer)
    try:
        assert r.backend == "spawn"
        assert r.tier == "spawn+job-object+memory(whole tree)+audit-hook"
        await r.warm_up()  # nothing to warm on Windows: no zygote, no pool
        assert r.zygote_pid is None and not r._pools
    finally:
        await r.aclose()


def test_tier_elsewhere_does_not_claim_a_job_object() -> None:
    """...nor a memory bound on the whole tree: POSIX rlimits bound each process."""
    r = ScriptRunner()
    assert "job-object" not in r.tier and r.tier.startswith(r.backend)
    assert "memory(per process)" in r.tier and "whole tree" not in r.tier


def test_windows_environment_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYSTEMROOT", r"C:\Windows")
    monkeypatch.setenv("NOPFLOW_TEST_SECRET", "x")
    monkeypatch.setattr(sys, "platform", "win32")
    env = procs._base_env()
    assert env["SYSTEMROOT"] == r"C:\Windows"  # without it Python on Windows breaks
    assert "NOPFLOW_TEST_SECRET" not in env
    monkeypatch.setattr(sys, "platform", "linux")
    assert "SYSTEMROOT" not in procs._base_env()


def test_bootstrap_worker_argument_forms() -> None:
    assert bootstrap._worker_fds("5") == (5, None)  # pool / POSIX spawn: one socket
    if sys.platform != "win32":  # on Windows these are handle numbers
        assert bootstrap._worker_fds("7:9") == (7, 9)


def test_guard_allows_windows_null_device_names() -> None:
    assert "\\\\.\\nul" in bootstrap._SPECIAL_WRITABLE  # ntpath.abspath(os.devnull)


# --------------------------------------------------------------------------- thread I/O
async def test_thread_reader_and_writer_move_large_data_through_a_pipe() -> None:
    loop = asyncio.get_running_loop()
    r, w = os.pipe()
    payload = os.urandom(3 * 2**20 + 17)  # several pipe buffers
    got = bytearray()
    reader = _ThreadReader(loop, r, got.extend)
    _ThreadWriter(loop, w, payload)
    await asyncio.wait_for(reader.done, 10)
    assert bytes(got) == payload


async def test_thread_writer_tolerates_a_reader_that_goes_away() -> None:
    loop = asyncio.get_running_loop()
    r, w = os.pipe()
    os.close(r)
    writer = _ThreadWriter(loop, w, b"x" * 2**20)  # EPIPE in the thread: no exception
    await asyncio.to_thread(writer.thread.join, 10)
    assert not writer.thread.is_alive()
    with pytest.raises(OSError):
        os.fstat(w)  # the thread closed its fd (nothing else opened one meanwhile)


async def test_thread_reader_close_stops_delivery() -> None:
    loop = asyncio.get_running_loop()
    r, w = os.pipe()
    got: list[bytes] = []
    reader = _ThreadReader(loop, r, got.append)
    reader.close()
    assert reader.done.done()
    os.write(w, b"late")
    os.close(w)
    await asyncio.to_thread(reader.thread.join, 10)  # it still ran to EOF and closed its fd
    await asyncio.sleep(0)  # let any (wrongly) scheduled delivery run
    assert got == [] and not reader.thread.is_alive()


# --------------------------------------------------------------------------- end to end
class GroupJob:
    """Stand-in for winjob.JobObject on POSIX: the child's process group plays the job."""

    made: list[GroupJob] = []
    fail_assign = False
    on_assign = None

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.pid: int | None = None
        self.ops: list[str] = []
        self.closed = False
        GroupJob.made.append(self)

    def assign(self, pid: int) -> None:
        if GroupJob.on_assign is not None:
            GroupJob.on_assign(pid)
        if GroupJob.fail_assign:
            raise OSError(5, "access denied")
        self.pid = pid

    def _sig(self, sig: int) -> None:
        if self.pid is not None:
            procs._killpg(self.pid, sig)

    def terminate(self) -> None:
        self.ops.append("terminate")
        self._sig(signal.SIGKILL)  # like TerminateJobObject: no grace

    def kill(self) -> None:
        self.ops.append("kill")
        self._sig(signal.SIGKILL)

    def suspend(self) -> None:
        self.ops.append("suspend")
        self._sig(signal.SIGSTOP)

    def resume(self) -> None:
        self.ops.append("resume")
        self._sig(signal.SIGCONT)

    def close(self) -> None:
        self.ops.append("close")
        self._sig(signal.SIGKILL)
        self.closed = True


@pytest.fixture
async def winrunner(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ScriptRunner]:
    if not POSIX:
        pytest.skip("the stand-in job is a POSIX process group")
    GroupJob.made = []
    GroupJob.fail_assign = False
    GroupJob.on_assign = None
    monkeypatch.setattr(winspawn, "JobObject", GroupJob)
    r = ScriptRunner(landlock=False)
    r._windows = True  # the Windows code path, on this OS's pipes and fds
    try:
        yield r
    finally:
        await asyncio.wait_for(r.aclose(), 10)


async def run(r: ScriptRunner, project: Path, code: str, **kw: object) -> ScriptResult:
    spec = ScriptSpec(project_dir=project, code=textwrap.dedent(code), **kw)  # type: ignore[arg-type]
    return await asyncio.wait_for(r.run(spec), 30)


async def test_windows_path_runs_a_script(winrunner: ScriptRunner, project: Path) -> None:
    lines: list[str] = []
    code = """
        import json, os, sys
        data = json.load(sys.stdin)
        print("hello from the log", file=sys.stderr)
        print(json.dumps({"twice": data["x"] * 2, "tmp": os.environ["TMP"], "cwd": os.getcwd()}))
    """
    spec = ScriptSpec(
        project_dir=project, code=textwrap.dedent(code), input={"x": 21}, memory_mb=321
    )
    r = await asyncio.wait_for(winrunner.run(spec, on_stderr_line=lines.append), 30)
    assert r.ok, (r.error, r.stderr_tail)
    assert r.output["twice"] == 42  # type: ignore[index]
    assert r.output["tmp"].startswith(os.path.realpath(os.environ.get("TMPDIR", "/tmp")))  # type: ignore[index]
    assert r.output["cwd"] == str(project.resolve())  # type: ignore[index]
    assert lines == ["hello from the log"]
    (job,) = GroupJob.made
    assert job.memory_mb == 321 and job.closed  # closed when the job ended


async def test_windows_path_reports_exceptions_and_exit_codes(
    winrunner: ScriptRunner, project: Path
) -> None:
    r = await run(winrunner, project, "x = 1\n\ny = 1 / 0\n")
    assert r.error == "ZeroDivisionError: division by zero (line 3)"  # via the report pipe
    assert r.traceback and "ZeroDivisionError" in r.traceback
    r = await run(winrunner, project, "import sys\nprint('boom', file=sys.stderr)\nsys.exit(3)")
    assert r.error == "exited with code 3: boom"
    r = await run(winrunner, project, "open('../outside.txt', 'w')")
    assert r.error_type == "SandboxViolation"


async def test_windows_path_moves_big_input_and_output(
    winrunner: ScriptRunner, project: Path
) -> None:
    big = {"rows": ["x" * 100] * 30000}  # ~3 MB each way: far beyond a pipe buffer
    code = "import json, sys\nprint(json.dumps(json.load(sys.stdin)))"
    r = await run(winrunner, project, code, input=big)
    assert r.ok and r.output == big


async def test_windows_path_timeout_and_cancel_end_the_job(
    winrunner: ScriptRunner, project: Path
) -> None:
    t0 = time.monotonic()
    r = await run(winrunner, project, "import time\ntime.sleep(30)", timeout_s=0.5)
    assert r.error == "timed out after 0.5 s" and time.monotonic() - t0 < 5
    assert "terminate" in GroupJob.made[-1].ops and GroupJob.made[-1].closed
    h = await winrunner.start(ScriptSpec(project_dir=project, code="import time\ntime.sleep(30)"))
    await asyncio.sleep(0.2)
    await asyncio.wait_for(h.cancel(), 5)
    assert (await h.wait()).error == "cancelled"


async def test_windows_path_pause_suspends_the_job_and_stops_the_clock(
    winrunner: ScriptRunner, project: Path
) -> None:
    h = await winrunner.start(
        ScriptSpec(
            project_dir=project, code="import time\ntime.sleep(0.6)\nprint(1)", timeout_s=1.0
        )
    )
    h.pause()
    await asyncio.sleep(1.2)  # longer than the timeout: the clock must stand still
    assert not h.done
    h.resume()
    r = await asyncio.wait_for(h.wait(), 10)
    assert r.ok and r.output == 1, r.error
    assert GroupJob.made[-1].ops[:2] == ["suspend", "resume"]


async def test_windows_path_runs_no_user_code_before_the_job_is_assigned(
    winrunner: ScriptRunner, project: Path
) -> None:
    marker = project / "ran.txt"

    def on_assign(pid: int) -> None:
        time.sleep(0.3)  # the child has long started: only the missing config holds it
        assert not marker.exists()

    GroupJob.on_assign = on_assign
    r = await run(winrunner, project, "open('ran.txt', 'w').write('x')")
    assert r.ok, r.error
    assert marker.exists()


async def test_windows_path_failures_before_start_are_sandbox_errors(
    winrunner: ScriptRunner, project: Path
) -> None:
    fds_before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    GroupJob.fail_assign = True
    with pytest.raises(SandboxError, match="Job Object"):
        await winrunner.start(ScriptSpec(project_dir=project, code="print(1)"))
    assert GroupJob.made[-1].closed
    GroupJob.fail_assign = False

    def no_job(memory_mb: int) -> None:
        raise OSError(1450, "insufficient resources")

    with pytest.raises(SandboxError, match="Job Object"):
        winspawn.start_job(
            winrunner,
            [sys.executable],
            "x",
            ScriptSpec(project_dir=project, code=""),
            b"{}\n",
            b"null",
            project,
            False,
            None,
            job_factory=no_job,
        )
    if fds_before is not None:  # every pipe of the failed starts was closed
        assert len(os.listdir("/proc/self/fd")) <= fds_before


def test_frozen_windows_app_runs_children_with_the_console_exe(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Started from the Start menu, the app is the windowed nopflow-gui.exe; its children
    # need the console nopflow.exe beside it (same program, real standard streams).
    from nopflow.sandbox import interpreters

    gui, console = tmp_path / "nopflow-gui.exe", tmp_path / "nopflow.exe"
    gui.write_bytes(b"MZ")
    console.write_bytes(b"MZ")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(sys, "executable", str(gui))
    assert interpreters.frozen_child_exe() == str(console)
    assert interpreters._trusted_prefix() == [str(console)]
    assert interpreters._mode_flag([str(console)], "worker") == "--sandbox-worker"
    monkeypatch.setattr(sys, "executable", str(console))  # started from a terminal
    assert interpreters.frozen_child_exe() == str(console)
    console.unlink()  # an unusual layout: fall back to the running exe
    monkeypatch.setattr(sys, "executable", str(gui))
    assert interpreters.frozen_child_exe() == str(gui)
