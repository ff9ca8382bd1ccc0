"""Windows Job Objects through ctypes: the Windows counterpart of a POSIX process group.

A script on Windows runs in its own Job Object, created per run with

* ``JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`` — when the runner closes the job handle (end of
  the run, app exit, *or the app crashing*: the kernel closes its handles) every process
  still in the job dies.  The handle is not inheritable, so the script cannot keep it open;
* ``JOB_OBJECT_LIMIT_PROCESS_MEMORY`` = ``memory_mb`` per process (committed memory; an
  allocation beyond it fails, which Python reports as ``MemoryError``), and
  ``JOB_OBJECT_LIMIT_JOB_MEMORY`` = ``memory_mb`` for the whole job: a script's whole
  tree shares one ``memory_mb`` (POSIX rlimits bound each process only);
* ``JOB_OBJECT_LIMIT_ACTIVE_PROCESS`` = `JOB_MAX_PROCESSES` (a fork bomb gets
  "not enough quota" instead of taking the desktop down);
* ``JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION`` — a crashing native extension ends the
  process instead of opening a Windows Error Reporting dialog that would hang the run.

No breakaway flag is set, so everything the script starts stays in the job.  Kill is
``TerminateJobObject`` (the whole tree at once; Windows has no SIGTERM for windowless
processes, so there is no grace period).  Pause/resume suspend and resume every process in
the job with the undocumented-but-stable ``NtSuspendProcess``/``NtResumeProcess`` from
ntdll; that is best effort: a process the script starts while being suspended may be
missed.

Everything Windows-only is loaded lazily (`_api`), so this module imports, and its
structure layout and flags can be tested, on any platform.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

__all__ = ["JOB_MAX_PROCESSES", "JobObject", "creation_flags", "extended_limits"]

JOB_MAX_PROCESSES = 64

# winnt.h / winbase.h
JOB_OBJECT_LIMIT_ACTIVE_PROCESS = 0x00000008
JOB_OBJECT_LIMIT_PROCESS_MEMORY = 0x00000100
JOB_OBJECT_LIMIT_JOB_MEMORY = 0x00000200
JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION = 0x00000400
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x00002000
JOB_OBJECT_BASIC_PROCESS_ID_LIST = 3  # JOBOBJECTINFOCLASS
JOB_OBJECT_EXTENDED_LIMIT_INFORMATION = 9  # JOBOBJECTINFOCLASS
PROCESS_TERMINATE = 0x0001
PROCESS_SET_QUOTA = 0x0100
PROCESS_SUSPEND_RESUME = 0x0800
CREATE_NEW_PROCESS_GROUP = 0x00000200
CREATE_NO_WINDOW = 0x08000000
KILLED_EXIT_CODE = 1  # what TerminateJobObject gives every process (the handle knows why)


class JOBOBJECT_BASIC_LIMIT_INFORMATION(ctypes.Structure):  # Windows SDK names
    _fields_ = [
        ("PerProcessUserTimeLimit", ctypes.c_int64),  # LARGE_INTEGER
        ("PerJobUserTimeLimit", ctypes.c_int64),
        ("LimitFlags", ctypes.c_uint32),  # DWORD
        ("MinimumWorkingSetSize", ctypes.c_size_t),  # SIZE_T
        ("MaximumWorkingSetSize", ctypes.c_size_t),
        ("ActiveProcessLimit", ctypes.c_uint32),
        ("Affinity", ctypes.c_size_t),  # ULONG_PTR
        ("PriorityClass", ctypes.c_uint32),
        ("SchedulingClass", ctypes.c_uint32),
    ]


class IO_COUNTERS(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint64)
        for name in (
            "ReadOperationCount",
            "WriteOperationCount",
            "OtherOperationCount",
            "ReadTransferCount",
            "WriteTransferCount",
            "OtherTransferCount",
        )
    ]


class JOBOBJECT_EXTENDED_LIMIT_INFORMATION(ctypes.Structure):
    _fields_ = [
        ("BasicLimitInformation", JOBOBJECT_BASIC_LIMIT_INFORMATION),
        ("IoInfo", IO_COUNTERS),
        ("ProcessMemoryLimit", ctypes.c_size_t),
        ("JobMemoryLimit", ctypes.c_size_t),
        ("PeakProcessMemoryUsed", ctypes.c_size_t),
        ("PeakJobMemoryUsed", ctypes.c_size_t),
    ]


class JOBOBJECT_BASIC_PROCESS_ID_LIST(ctypes.Structure):
    _fields_ = [
        ("NumberOfAssignedProcesses", ctypes.c_uint32),
        ("NumberOfProcessIdsInList", ctypes.c_uint32),
        # room for the whole job: ActiveProcessLimit bounds it (plus a dying straggler)
        ("ProcessIdList", ctypes.c_size_t * (JOB_MAX_PROCESSES + 16)),
    ]


def extended_limits(
    memory_mb: int, max_processes: int = JOB_MAX_PROCESSES
) -> JOBOBJECT_EXTENDED_LIMIT_INFORMATION:
    """The limits every script job gets (see the module docstring)."""
    info = JOBOBJECT_EXTENDED_LIMIT_INFORMATION()
    basic = info.BasicLimitInformation
    basic.LimitFlags = (
        JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        | JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION
        | JOB_OBJECT_LIMIT_ACTIVE_PROCESS
    )
    basic.ActiveProcessLimit = max(1, int(max_processes))
    if memory_mb and memory_mb > 0:
        basic.LimitFlags |= JOB_OBJECT_LIMIT_PROCESS_MEMORY | JOB_OBJECT_LIMIT_JOB_MEMORY
        info.ProcessMemoryLimit = info.JobMemoryLimit = int(memory_mb) * 2**20
    return info


def creation_flags() -> int:
    """CreateProcess flags for a script: no console window, its own Ctrl+C group."""
    return CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW


_API: Any = None


def _api() -> Any:
    """kernel32/ntdll functions with explicit prototypes (handles are pointer-sized)."""
    global _API
    if _API is not None:
        return _API
    if sys.platform != "win32":  # pragma: no cover - guarded by the callers
        raise OSError("Job Objects exist only on Windows")
    k32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    ntdll = ctypes.WinDLL("ntdll")  # type: ignore[attr-defined]
    HANDLE, BOOL, DWORD = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32
    protos = {
        "CreateJobObjectW": (HANDLE, [ctypes.c_void_p, ctypes.c_wchar_p]),
        "SetInformationJobObject": (BOOL, [HANDLE, ctypes.c_int, ctypes.c_void_p, DWORD]),
        "QueryInformationJobObject": (
            BOOL,
            [HANDLE, ctypes.c_int, ctypes.c_void_p, DWORD, ctypes.POINTER(DWORD)],
        ),
        "AssignProcessToJobObject": (BOOL, [HANDLE, HANDLE]),
        "TerminateJobObject": (BOOL, [HANDLE, ctypes.c_uint]),
        "OpenProcess": (HANDLE, [DWORD, BOOL, DWORD]),
        "CloseHandle": (BOOL, [HANDLE]),
    }
    for name, (restype, argtypes) in protos.items():
        fn = getattr(k32, name)
        fn.restype, fn.argtypes = restype, argtypes
    for name in ("NtSuspendProcess", "NtResumeProcess"):
        fn = getattr(ntdll, name)
        fn.restype, fn.argtypes = ctypes.c_long, [HANDLE]  # NTSTATUS
    _API = (k32, ntdll)
    return _API


def _last_error(what: str) -> OSError:
    err = ctypes.get_last_error()  # type: ignore[attr-defined]
    return OSError(err, f"{what} failed (Windows error {err})")


class JobObject:
    """One script's Job Object; implements the handle's job control (procs._JobControl)."""

    def __init__(self, memory_mb: int, max_processes: int = JOB_MAX_PROCESSES) -> None:
        k32, _ntdll = _api()
        handle = k32.CreateJobObjectW(None, None)
        if not handle:
            raise _last_error("CreateJobObjectW")
        self.handle: int | None = handle
        info = extended_limits(memory_mb, max_processes)
        if not k32.SetInformationJobObject(
            handle, JOB_OBJECT_EXTENDED_LIMIT_INFORMATION, ctypes.byref(info), ctypes.sizeof(info)
        ):
            exc = _last_error("SetInformationJobObject")
            self.close()
            raise exc

    def assign(self, pid: int) -> None:
        """Put process `pid` into the job (before it runs any user code)."""
        k32, _ntdll = _api()
        proc = k32.OpenProcess(PROCESS_SET_QUOTA | PROCESS_TERMINATE, False, pid)
        if not proc:
            raise _last_error("OpenProcess")
        try:
            if not k32.AssignProcessToJobObject(self.handle, proc):
                raise _last_error("AssignProcessToJobObject")
        finally:
            k32.CloseHandle(proc)

    def pids(self) -> list[int]:
        """Processes currently in the job (empty if it cannot be asked)."""
        if self.handle is None:
            return []
        k32, _ntdll = _api()
        lst = JOBOBJECT_BASIC_PROCESS_ID_LIST()
        if not k32.QueryInformationJobObject(
            self.handle,
            JOB_OBJECT_BASIC_PROCESS_ID_LIST,
            ctypes.byref(lst),
            ctypes.sizeof(lst),
            None,
        ):
            return []  # e.g. ERROR_MORE_DATA: more processes than the limit allows
        return [int(p) for p in lst.ProcessIdList[: lst.NumberOfProcessIdsInList]]

    def _each_process(self, op: str) -> None:
        k32, ntdll = _api()
        fn = getattr(ntdll, op)
        for pid in self.pids():
            proc = k32.OpenProcess(PROCESS_SUSPEND_RESUME, False, pid)
            if proc:
                try:
                    fn(proc)
                finally:
                    k32.CloseHandle(proc)

    # ---- procs._JobControl
    def terminate(self) -> None:
        self.kill()  # no TERM on Windows: ending the job is the only clean-up there is

    def kill(self) -> None:
        if self.handle is not None:
            _api()[0].TerminateJobObject(self.handle, KILLED_EXIT_CODE)

    def suspend(self) -> None:
        self._each_process("NtSuspendProcess")

    def resume(self) -> None:
        self._each_process("NtResumeProcess")

    def close(self) -> None:
        """Kill what is left in the job and release it (also what KILL_ON_JOB_CLOSE does)."""
        handle, self.handle = self.handle, None
        if handle is not None:
            k32 = _api()[0]
            k32.TerminateJobObject(handle, KILLED_EXIT_CODE)
            k32.CloseHandle(handle)
