"""Child side of the script sandbox: confine *this* process, then run the user's script.

This module is deliberately a single, stdlib-only file that never imports the rest of
nopflow, so it can run under any Python >= 3.8 (a user-chosen interpreter without
nopflow installed) and inside frozen apps.  It has three entry points:

``python -I -X utf8 bootstrap.py --zygote SOCKFD [PARENT_PID]``
    A long-lived, single-threaded *zygote* on a unix socket to the runner
    (SOCK_SEQPACKET on Linux, SOCK_DGRAM elsewhere).  It keeps *spare* children: each is
    forked ahead of time, takes its own session, warms up and then blocks on a private
    socket whose other end the zygote passes to the runner (``{"op": "spare", "pid": P}``
    + one fd via SCM_RIGHTS).  To start a job the runner sends the job's stdin, stdout,
    stderr and control fds straight to a spare, then asks for a replacement
    (``{"op": "spare"}``).  The zygote reaps everything and reports
    ``{"op": "exit", "pid": P, "status": S}`` (a raw wait status).  On Linux it is a child
    subreaper: processes that escaped a finished job's process group are re-parented to
    it and killed.  When the runner's socket closes (app exit), it kills all its jobs.

``python -I -X utf8 bootstrap.py --worker CTLFD``
    A pre-spawned pool worker (or a plain per-script spawn): its stdio already belongs to
    the job; it blocks on the control fd for the job configuration.

``python -I -X utf8 bootstrap.py --worker REPORT:CONFIG``
    The same with two one-way pipes instead of one socket (Windows, where they are
    inherited *handle* numbers): the config is read from CONFIG, reports go to REPORT.

Frozen apps (PyInstaller): the interpreter is ``sys.executable`` itself, called as
``APP --sandbox-zygote SOCKFD PPID`` / ``APP --sandbox-worker CTLFD``.  The app's entry
point must hand those argv off *before* importing anything heavy (Qt)::

    if len(sys.argv) > 1 and sys.argv[1].startswith("--sandbox-"):
        from nopflow.sandbox.bootstrap import main
        sys.exit(main(sys.argv[1:]))

Job configuration (JSON, one line, sent by the runner on the control socket) carries the
project dir, temp dir, code or script path, env, limits and switches.  The child then:
``setsid`` + PDEATHSIG + a PID namespace of its own under a trusted ns init (see
`become_ns_init`) + private mount namespace with its own /dev/shm and /proc (ahead of
time for spares and pool workers) -> cwd -> env -> rlimits -> read-only mounts except project,
temp and /dev/shm -> ``no_new_privs`` + Landlock -> no capabilities -> audit hook -> run
the code as ``__main__``.  Structured reports (uncaught exception with the user's frames
only, sandbox violations) go back as JSON lines on the control socket (fd 3, moved to a
high fd before user code runs, not inherited by subprocesses).  They only add detail:
how the job exited comes from the kernel, never from these forgeable reports.

``TRUSTED_PYTHON bootstrap.py --launch PY --worker CTLFD`` / ``--launch PY --check``
    Starts a user-chosen interpreter PY (any executable) only once confined: see
    `launch_main`.

Nothing here is a security boundary by itself except the kernel-enforced layers (Landlock,
read-only mounts, dropped capabilities; see SECURITY.md).
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import signal
import sys
import types

TYPE_CHECKING = False  # typing is not imported at run time: it slows the zygote down
if TYPE_CHECKING:
    import socket
    import traceback

try:  # POSIX only; on Windows the module still imports (for tier detection).
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

BOOTSTRAP_FILE = os.path.abspath(__file__)
CTL_FD = 3
VIOLATION_PREFIX = "write outside the project directory refused: "
STDERR_MARKER = "[sandbox] "

# --------------------------------------------------------------------------- Linux bits
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
SHM_SIZE = "256m"
SYS_open_tree = 428  # same numbers on x86_64 and aarch64 (unified since 424)
SYS_move_mount = 429
SYS_mount_setattr = 442
OPEN_TREE_CLONE = 1
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 4
MOUNT_ATTR_RDONLY = 1
AT_FDCWD = -100
_shm_private = False  # this process has its own, empty /dev/shm (see private_dev_shm)

SYS_landlock_create_ruleset = 444  # same numbers on x86_64 and aarch64 (generic table)
SYS_landlock_add_rule = 445
SYS_landlock_restrict_self = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1

ACCESS_FS_EXECUTE = 1 << 0
ACCESS_FS_WRITE_FILE = 1 << 1
ACCESS_FS_READ_FILE = 1 << 2
ACCESS_FS_READ_DIR = 1 << 3
ACCESS_FS_REMOVE_DIR = 1 << 4
ACCESS_FS_REMOVE_FILE = 1 << 5
ACCESS_FS_MAKE_CHAR = 1 << 6
ACCESS_FS_MAKE_DIR = 1 << 7
ACCESS_FS_MAKE_REG = 1 << 8
ACCESS_FS_MAKE_SOCK = 1 << 9
ACCESS_FS_MAKE_FIFO = 1 << 10
ACCESS_FS_MAKE_BLOCK = 1 << 11
ACCESS_FS_MAKE_SYM = 1 << 12
ACCESS_FS_REFER = 1 << 13  # ABI 2
ACCESS_FS_TRUNCATE = 1 << 14  # ABI 3

# Every *write-ish* right we know of.  Reads and exec are deliberately not handled, so
# they stay allowed everywhere (scripts must be able to import and run tools).
_WRITE_RIGHTS_V1 = (
    ACCESS_FS_WRITE_FILE
    | ACCESS_FS_REMOVE_DIR
    | ACCESS_FS_REMOVE_FILE
    | ACCESS_FS_MAKE_CHAR
    | ACCESS_FS_MAKE_DIR
    | ACCESS_FS_MAKE_REG
    | ACCESS_FS_MAKE_SOCK
    | ACCESS_FS_MAKE_FIFO
    | ACCESS_FS_MAKE_BLOCK
    | ACCESS_FS_MAKE_SYM
)
_FILE_ONLY_RIGHTS = (
    ACCESS_FS_EXECUTE | ACCESS_FS_WRITE_FILE | ACCESS_FS_READ_FILE | (ACCESS_FS_TRUNCATE)
)

_libc = None


def _get_libc():  # type: ignore[no-untyped-def]
    """Load libc lazily (ctypes handle with errno); None where there is none."""
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(None, use_errno=True)
        except (OSError, TypeError):  # pragma: no cover - no libc (Windows: TypeError)
            _libc = False
    return _libc or None


def _prctl(option: int, arg: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    libc = _get_libc()
    if libc is None:
        return False
    return libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0) == 0


def landlock_abi() -> int:
    """Return the kernel's Landlock ABI version, or 0 if Landlock is unavailable."""
    if not sys.platform.startswith("linux"):
        return 0
    libc = _get_libc()
    if libc is None:
        return 0
    res = libc.syscall(
        ctypes.c_long(SYS_landlock_create_ruleset),
        None,
        ctypes.c_size_t(0),
        ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION),
    )
    return int(res) if res > 0 else 0


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _RulesetAttrV6(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),  # ABI 4; 0 = network not restricted
        ("scoped", ctypes.c_uint64),  # ABI 6
    ]


LANDLOCK_SCOPE_SIGNAL = 1 << 1


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def apply_landlock(write_dirs: list[str], write_files: list[str]) -> int:
    """Restrict this process (and its future children) to writing beneath `write_dirs`.

    Returns the ABI used (0 = not applied).  Reads and execution stay unrestricted;
    handled rights are the write-ish ones the running kernel knows.  Raises OSError when
    the kernel supports Landlock but the restriction fails (the caller decides).
    """
    abi = landlock_abi()
    if abi <= 0:
        return 0
    libc = _get_libc()
    assert libc is not None
    handled = _WRITE_RIGHTS_V1
    if abi >= 2:
        handled |= ACCESS_FS_REFER
    if abi >= 3:
        handled |= ACCESS_FS_TRUNCATE
    # ABI 6+: signals may only go to processes inside the sandbox (the script and its
    # children), so a script cannot kill the app or other scripts.
    attr: ctypes.Structure = (
        _RulesetAttrV6(handled, 0, LANDLOCK_SCOPE_SIGNAL) if abi >= 6 else _RulesetAttr(handled)
    )
    rfd = libc.syscall(
        ctypes.c_long(SYS_landlock_create_ruleset),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
        ctypes.c_uint32(0),
    )
    if rfd < 0:
        err = ctypes.get_errno()
        raise OSError(err, "landlock_create_ruleset: " + os.strerror(err))
    try:
        rules = [(d, handled) for d in write_dirs] + [
            (f, handled & _FILE_ONLY_RIGHTS) for f in write_files
        ]
        for path, rights in rules:
            try:
                pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a missing /dev/tty is fine
            try:
                pb = _PathBeneathAttr(rights, pfd)
                if (
                    libc.syscall(
                        ctypes.c_long(SYS_landlock_add_rule),
                        ctypes.c_int(rfd),
                        ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
                        ctypes.byref(pb),
                        ctypes.c_uint32(0),
                    )
                    != 0
                ):
                    err = ctypes.get_errno()
                    raise OSError(err, f"landlock_add_rule({path}): {os.strerror(err)}")
            finally:
                os.close(pfd)
        if not _prctl(PR_SET_NO_NEW_PRIVS, 1):
            err = ctypes.get_errno()
            raise OSError(err, "prctl(NO_NEW_PRIVS): " + os.strerror(err))
        if libc.syscall(ctypes.c_long(SYS_landlock_restrict_self), ctypes.c_int(rfd), 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "landlock_restrict_self: " + os.strerror(err))
    finally:
        os.close(rfd)
    return abi


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities() -> bool:
    """Drop every capability of this process for good (Linux; a no-op for most users).

    Matters when the app runs as root: CAP_SYS_PTRACE would let the script read other
    processes' memory and ``/proc/<pid>/environ`` (it overrides Landlock's ptrace scoping
    and non-dumpable processes), CAP_DAC_* would bypass file permissions, CAP_SYS_ADMIN
    would allow mounts...  With ``no_new_privs`` set (done with Landlock), programs the
    script executes do not get root's capabilities back either.  Returns True on success.
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = _get_libc()
    if libc is None:
        return False
    if os.geteuid() == 0:  # bounding set (needs CAP_SETPCAP): caps no exec can regain
        for cap in range(64):
            if libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) != 0:
                if ctypes.get_errno() == 22:  # EINVAL: past the last capability
                    break
    libc.prctl(PR_CAP_AMBIENT, ctypes.c_ulong(PR_CAP_AMBIENT_CLEAR_ALL), 0, 0, 0)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)  # (Landlock set it already, if applied): root's
    # exec'd programs would otherwise get the full set back
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    return bool(libc.capset(ctypes.byref(hdr), data) == 0)


def _write_proc(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _enter_userns(libc, extra: int = 0) -> None:  # type: ignore[no-untyped-def]
    """unshare a user + mount namespace (+ `extra` namespaces) mapping only our own
    uid/gid (raises OSError)."""
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | extra) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "unshare(CLONE_NEWUSER): " + os.strerror(err))
    # without a uid map we would be "nobody"; mapping our own ids is always allowed for
    # the namespace's creator (setgroups must be denied first).  A non-dumpable process
    # (the zygote's children) has root-owned /proc/self files: dumpable for the writes.
    dumpable = libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)
    _prctl(PR_SET_DUMPABLE, 1)
    try:
        _write_proc("/proc/self/setgroups", "deny")
        _write_proc("/proc/self/uid_map", f"{uid} {uid} 1")
        _write_proc("/proc/self/gid_map", f"{gid} {gid} 1")
    finally:
        if dumpable == 0:
            _prctl(PR_SET_DUMPABLE, 0)


_userns_ok: bool | None = None  # probed once per process (the zygote: before its spares)


def _userns_works() -> bool:
    """Can this process make a user + mount namespace and mount a tmpfs in it?  Probed
    in a forked child (which then exits), so a failure leaves this process untouched."""
    global _userns_ok
    if _userns_ok is None:
        libc = _get_libc()
        try:
            pid = os.fork()
        except OSError:
            _userns_ok = False
            return False
        if pid == 0:  # pragma: no cover - runs in the probe child
            ok = False
            try:
                _enter_userns(libc)
                flags = ctypes.c_ulong(MS_REC | MS_PRIVATE)
                ok = libc.mount(None, b"/", None, flags, None) == 0 and (
                    libc.mount(b"tmpfs", b"/dev/shm", b"tmpfs", ctypes.c_ulong(0), None) == 0
                )
            except BaseException:
                pass
            os._exit(0 if ok else 1)
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:  # pragma: no cover
                continue
            except ChildProcessError:  # reaped elsewhere
                status = 1
                break
        _userns_ok = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    return _userns_ok


def private_dev_shm() -> bool:
    """Give this process (and its children) a private, empty tmpfs on /dev/shm (Linux).

    /dev/shm must be writable for multiprocessing's semaphores and shared memory, but a
    host-wide /dev/shm is "outside the project".  So: a new mount namespace (root: plain
    ``unshare(CLONE_NEWNS)``; other users: together with a user namespace mapping only
    their own uid/gid, where the distribution allows unprivileged user namespaces),
    mounts made private, and a fresh tmpfs of SHM_SIZE on /dev/shm.  Returns True when
    done; False leaves /dev/shm as it was (the caller then keeps it out of Landlock's
    write list).  Must run single-threaded, before Landlock and before dropping caps.
    """
    global _shm_private
    if _shm_private:
        return True
    if not sys.platform.startswith("linux") or not os.path.isdir("/dev/shm"):
        return False
    libc = _get_libc()
    if libc is None:
        return False
    if libc.unshare(CLONE_NEWNS) != 0:
        # A user namespace cannot be left again, and a half-made one (no uid map, as
        # with some LSM policies) breaks file creation: try it in a throwaway child first.
        if not _userns_works():
            return False
        _enter_userns(libc)
    if libc.mount(None, b"/", None, ctypes.c_ulong(MS_REC | MS_PRIVATE), None) != 0:
        return False
    opts = f"size={SHM_SIZE},mode=1777".encode()
    flags = ctypes.c_ulong(MS_NOSUID | MS_NODEV)
    if libc.mount(b"tmpfs", b"/dev/shm", b"tmpfs", flags, opts) != 0:
        return False
    _shm_private = True
    return True


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def readonly_except(write_dirs: list[str]) -> bool:
    """In this process's *private* mount namespace (see private_dev_shm): make every
    mount read-only, except `write_dirs` (recursively cloned before, moved back after).

    Landlock has no right for metadata changes (chmod, chown, utime, xattrs): a
    read-only mount refuses those (EROFS) for the script's subprocesses and ctypes too.
    Needs Linux >= 5.12 (mount_setattr).  Returns False, having changed nothing, when
    the namespace or the syscalls are missing.
    """
    if not _shm_private:  # no private mount namespace: never touch the host's mounts
        return False
    libc = _get_libc()
    if libc is None:
        return False
    trees: list[tuple[int, str]] = []
    try:
        for d in write_dirs:
            fd = libc.syscall(
                ctypes.c_long(SYS_open_tree),
                ctypes.c_int(AT_FDCWD),
                os.fsencode(d),
                ctypes.c_uint(OPEN_TREE_CLONE | AT_RECURSIVE | os.O_CLOEXEC),
            )
            if fd < 0:
                return False
            trees.append((fd, d))
        attr = _MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)
        if (
            libc.syscall(
                ctypes.c_long(SYS_mount_setattr),
                ctypes.c_int(AT_FDCWD),
                b"/",
                ctypes.c_uint(AT_RECURSIVE),
                ctypes.byref(attr),
                ctypes.c_size_t(ctypes.sizeof(attr)),
            )
            != 0
        ):
            return False
        for fd, d in trees:
            if (
                libc.syscall(
                    ctypes.c_long(SYS_move_mount),
                    ctypes.c_int(fd),
                    b"",
                    ctypes.c_int(AT_FDCWD),
                    os.fsencode(d),
                    ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH),
                )
                != 0
            ):
                err = ctypes.get_errno()
                raise OSError(err, f"move_mount({d}): {os.strerror(err)}")
        return True
    finally:
        for fd, _d in trees:
            os.close(fd)


# --------------------------------------------------------------------------- PID namespace
# A job runs as pid 2 of a PID namespace of its own, under a trusted pid 1 ("ns init",
# this file's code, which user code cannot signal, trace or re-limit: it has no
# capabilities, and init is non-dumpable).  Outside pids are simply not there for the
# job: no kill, ptrace or prlimit of the app, the zygote or a sibling.  When the job
# process ends, ns init reports its wait status and exits, and the kernel kills whatever
# else is left in the namespace (setsid daemons, double-forked grandchildren); ns init
# itself dies (PDEATHSIG) with its parent, and with it the whole namespace.
_in_pidns = False  # this process is the job process of its own PID namespace


def unshare_pidns() -> bool:
    """Make this process's *next child* the first process (pid 1) of a new PID namespace.

    Root: plain ``unshare(CLONE_NEWPID)``; other users: together with a user namespace
    mapping only their own uid/gid, where allowed.  False = not possible here.
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = _get_libc()
    if libc is None:
        return False
    if libc.unshare(CLONE_NEWPID) == 0:
        return True
    if os.geteuid() == 0 or not _userns_works():
        return False
    try:
        _enter_userns(libc, CLONE_NEWPID)
    except OSError:
        return False
    return True


def pidns_expected() -> bool:
    """Whether jobs here can get a PID namespace (Linux; root, or a user allowed to
    make user namespaces) — a guess without forking, for `ScriptRunner.tier`."""
    if not sys.platform.startswith("linux") or not os.path.exists("/proc/self/ns/pid"):
        return False
    if os.geteuid() == 0:
        return True
    for path, bad in (("/proc/sys/user/max_user_namespaces", "0"),
                      ("/proc/sys/kernel/unprivileged_userns_clone", "0")):  # fmt: skip
        try:
            with open(path) as fh:
                if fh.read().strip() == bad:
                    return False
        except OSError:
            pass
    return True


def _mount_own_proc() -> None:
    """In ns init, inside a private mount namespace: a /proc that shows this PID
    namespace only.  Never touches the host's mounts (no private namespace: no-op)."""
    libc = _get_libc()
    if libc is None or not _shm_private:
        return
    flags = ctypes.c_ulong(MS_NOSUID | MS_NODEV | MS_NOEXEC)
    libc.mount(b"proc", b"/proc", b"proc", flags, None)  # failure: the host's /proc stays


def become_ns_init(status_w: int) -> None:
    """In the first process of a fresh PID namespace: private mounts with its own
    /proc, then fork the job process and return *in it* (pid 2).

    ns init never returns: it reaps every orphan of the namespace until the job
    process ends, writes the job's raw wait status on `status_w` and exits, which
    makes the kernel kill everything still in the namespace.
    """
    global _in_pidns
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # init: ignored unless handled
    try:
        private_dev_shm()
    except OSError:
        pass  # /dev/shm then stays read-only
    _mount_own_proc()
    try:
        job = os.fork()
    except OSError:
        os._exit(70)
    if job == 0:
        os.close(status_w)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        _in_pidns = True
        return
    os.closerange(0, status_w)
    os.closerange(status_w + 1, 1 << 16)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            continue
        except ChildProcessError:  # pragma: no cover - the job was reaped already
            os._exit(70)
        if pid == job:
            try:
                os.write(status_w, str(status).encode())
            except OSError:
                pass
            os._exit(0)


def _relay_status(status: int) -> None:
    """End this process the way the job ended (same exit code, or same signal)."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
            os.kill(os.getpid(), sig)
        except (OSError, ValueError):
            pass
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 70)


def enter_pidns() -> bool:
    """For a process started by the runner (pool worker, launcher): move the job into a
    PID namespace of its own.  Returns True in the job process; this process (the one
    the runner waits for) stays outside, waits for ns init and ends as the job ended.
    False = no namespace possible here (nothing changed)."""
    if _in_pidns or not unshare_pidns():
        return False
    status_r, status_w = os.pipe()
    try:
        init = os.fork()
    except OSError:
        return False
    if init == 0:
        os.close(status_r)
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        become_ns_init(status_w)
        return True  # the job process
    os.close(status_w)
    os.closerange(0, status_r)  # the job's stdio and control fd belong to the job
    os.closerange(status_r + 1, 1 << 16)
    # TERM (timeout/cancel) is for the job to handle; the KILL after the grace, or the
    # app's death (PDEATHSIG), ends this process, and ns init with it.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    while True:
        try:
            _, status = os.waitpid(init, 0)
            break
        except InterruptedError:  # pragma: no cover
            continue
        except ChildProcessError:  # pragma: no cover
            os._exit(70)
    data = b""
    try:
        data = os.read(status_r, 64)
    except OSError:
        pass
    _relay_status(int(data) if data.strip().isdigit() else status)
    return False  # not reached


# --------------------------------------------------------------------------- audit hook
_O_WRITE = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_SPECIAL_WRITABLE = frozenset(
    [
        *("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero", "/dev/full"),
        *("\\\\.\\nul", "\\\\.\\con"),  # Windows: abspath(os.devnull), the console
    ]
)

# Audit events whose first argument is a path being written or changed.  A frozenset:
# the hook runs for *every* audit event of the script (imports raise dozens).
_PATH_EVENTS = frozenset(
    [
        "os.remove",
        "os.rmdir",
        "os.mkdir",
        "os.chmod",
        "os.chown",
        "os.truncate",
        "shutil.rmtree",
        "os.mkfifo",
        "os.mknod",
        # metadata (os.lchown/lchmod raise os.chown/os.chmod; shutil.copystat these)
        "os.utime",
        "os.chflags",
        "os.lchflags",
        "os.setxattr",
        "os.removexattr",
    ]
)


class _Guard:
    """The audit-hook guard rail: refuse writes outside the allowed directories.

    Audit hooks see only Python-level operations (not ctypes, not subprocesses), so this
    is a friendly early error, not a boundary; Landlock is the boundary where present.
    """

    def __init__(self, allowed: list[str], *, resolved: bool = False) -> None:
        self.allowed = allowed if resolved else [os.path.realpath(a) for a in allowed]
        # normcase: Windows paths compare case-insensitively (identity on POSIX)
        self._prefixes = [os.path.normcase(a.rstrip(os.sep)) for a in self.allowed]
        self.reported: set[str] = set()

    def _inside(self, path: object) -> tuple[bool, str]:
        if isinstance(path, int) or path is None:
            return True, ""
        try:
            p = os.fsdecode(os.fspath(path))  # type: ignore[arg-type]
        except TypeError:
            return True, ""
        ab = os.path.abspath(p)
        if os.path.normcase(ab) in _SPECIAL_WRITABLE or ab.startswith(
            ("/dev/fd/", "/proc/self/fd/")
        ):
            return True, ab
        real = os.path.realpath(ab)
        nreal = os.path.normcase(real)
        for a in self._prefixes:
            if nreal == a or nreal.startswith(a + os.sep):
                return True, real
        return False, real

    def refuse(self, path: str) -> None:
        msg = VIOLATION_PREFIX + path
        if path not in self.reported:
            self.reported.add(path)
            report({"t": "violation", "path": path})
            try:
                os.write(2, (STDERR_MARKER + msg + "\n").encode("utf-8", "replace"))
            except OSError:
                pass
        raise PermissionError(13, msg)

    def check(self, path: object) -> None:
        ok, real = self._inside(path)
        if not ok:
            self.refuse(real)

    def hook(self, event: str, args: tuple) -> None:  # type: ignore[type-arg]
        if event == "open":
            if len(args) < 3:
                return
            path, mode, flags = args[0], args[1], args[2]
            writing = False
            if isinstance(mode, str) and any(c in mode for c in "wax+"):
                writing = True
            if isinstance(flags, int) and flags & _O_WRITE:
                writing = True
            if writing:
                self.check(path)
        elif event in _PATH_EVENTS:
            if args:
                self.check(args[0])
        elif event == "os.rename":
            if len(args) >= 2:
                self.check(args[0])
                self.check(args[1])
        elif event in ("os.symlink", "os.link"):
            if len(args) >= 2:
                self.check(args[1])


# --------------------------------------------------------------------------- reporting
def report(obj: dict) -> None:  # type: ignore[type-arg]
    """Send one JSON line to the runner on the control fd (best effort)."""
    data = (json.dumps(obj) + "\n").encode("utf-8")
    try:
        while data:
            n = os.write(CTL_FD, data)
            data = data[n:]
    except OSError:
        pass


def _filter_tb(te: traceback.TracebackException) -> None:
    """Drop the bootstrap's own frames, recursively through chained exceptions."""
    import traceback

    seen: set[int] = set()
    cur = te
    stack = [te]
    while stack:
        cur = stack.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        cur.stack = traceback.StackSummary.from_list(
            [f for f in cur.stack if f.filename != BOOTSTRAP_FILE]
        )
        stack.extend([cur.__cause__, cur.__context__])  # type: ignore[list-item]


def _describe(exc: BaseException, filename: str, source: str | None, project: str) -> dict:  # type: ignore[type-arg]
    """Summarise an uncaught exception with the user's frames only.

    `line` is the innermost line of the script itself; failing that, of another file in
    the project (as "helper.py, line 2"); library lines are never quoted.
    """
    import linecache
    import traceback

    if source is not None:  # inline code: let the traceback show its lines
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        te = traceback.TracebackException(type(exc), exc, exc.__traceback__, compact=True)
    except TypeError:  # Python < 3.10
        te = traceback.TracebackException(type(exc), exc, exc.__traceback__)
    _filter_tb(te)
    text = "".join(te.format())
    line = None
    for fr in te.stack:
        if fr.filename == filename:
            line = fr.lineno
    if line is None and isinstance(exc, SyntaxError) and exc.filename == filename:
        line = exc.lineno
    where = None
    if line is None:
        root = project.rstrip(os.sep) + os.sep
        for fr in te.stack:
            if fr.filename.startswith(root):
                where = f"{fr.filename[len(root) :]}, line {fr.lineno}"
    try:
        message = str(exc)
    except Exception:
        message = "<unprintable>"
    if isinstance(exc, SyntaxError):
        message = exc.msg or message
    return {
        "t": "exception",
        "type": type(exc).__name__,
        "message": message,
        "line": line,
        "where": where,
        "traceback": text,
    }


# --------------------------------------------------------------------------- the job
def _read_config(fd: int) -> dict:  # type: ignore[type-arg]
    """The job config (one JSON line); {} if the runner closed `fd` without sending one
    (the pool dismissing an idle worker)."""
    buf = bytearray()
    while not buf.endswith(b"\n"):
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        buf += chunk
    return json.loads(buf.decode("utf-8")) if buf else {}


def _report_internal(exc: BaseException, doing: str = "") -> None:
    """Report that the bootstrap itself (not the user's code) failed."""
    report({"t": "internal", "message": f"{doing}{type(exc).__name__}: {exc}"})


def _set_rlimits(cfg: dict) -> None:  # type: ignore[type-arg]
    if resource is None:
        return

    def lim(which: int, soft: int, hard: int | None = None) -> None:
        try:
            _cur_soft, cur_hard = resource.getrlimit(which)
            h = soft if hard is None else hard
            if cur_hard != resource.RLIM_INFINITY:
                h = min(h, cur_hard)
                soft = min(soft, h)
            resource.setrlimit(which, (soft, h))
        except (ValueError, OSError):
            pass

    mem = cfg.get("memory_mb")
    if mem and hasattr(resource, "RLIMIT_AS"):
        lim(resource.RLIMIT_AS, int(mem) * 2**20)
    cpu = cfg.get("cpu_s")
    if cpu:
        lim(resource.RLIMIT_CPU, int(cpu), int(cpu) + 2)
    lim(resource.RLIMIT_FSIZE, int(cfg.get("fsize_bytes") or 2**30))
    lim(resource.RLIMIT_NOFILE, int(cfg.get("nofile") or 1024))
    nproc = cfg.get("nproc")
    if nproc and hasattr(resource, "RLIMIT_NPROC"):
        lim(resource.RLIMIT_NPROC, int(nproc))
    lim(resource.RLIMIT_CORE, 0)


def _hide_ctl_fd() -> None:
    """Move the control socket off fd 3 to a high fd before user code runs.

    Not a defence (user code can find it in /proc/self/fd and forge reports; the runner
    therefore trusts none of them for the exit status) — it just keeps the obvious
    ``os.write(3, ...)`` from reaching the runner.
    """
    global CTL_FD
    try:
        import fcntl

        high = fcntl.fcntl(CTL_FD, fcntl.F_DUPFD_CLOEXEC, 200)
    except (ImportError, OSError):  # Windows, or no fd that high
        return
    os.close(CTL_FD)
    CTL_FD = high


def _confine(cfg: dict) -> bool:  # type: ignore[type-arg]
    """The kernel-side layers, in order: rlimits, Landlock (+ no_new_privs), no
    capabilities.  Shared by the job itself and the launcher (which applies them before
    exec'ing a user-chosen interpreter).  False = a required layer failed."""
    _set_rlimits(cfg)
    if cfg.get("landlock") and sys.platform.startswith("linux"):
        dirs = [cfg["project_dir"], cfg["temp_dir"]]
        if _shm_private:
            # POSIX semaphores/shared memory (multiprocessing needs them) — only when
            # /dev/shm is this job's own tmpfs; a shared /dev/shm stays read-only.
            dirs.append("/dev/shm")
        if not cfg.get("ro_done"):  # (the launcher did it already)
            cfg["ro_done"] = readonly_except(dirs)
            if cfg["ro_done"]:  # the cwd still is the old, now read-only, mount
                os.chdir(cfg["project_dir"])
        try:
            apply_landlock(dirs, ["/dev/null", "/dev/tty"])
        except OSError as exc:
            report({"t": "warning", "message": f"landlock not applied: {exc}"})
            if cfg.get("landlock_required"):
                return False
    drop_capabilities()
    return True


def run_job(cfg: dict) -> int:  # type: ignore[type-arg]
    """Confine this process per `cfg`, run the user's code, return the exit code.

    Runs in the forked/spawned child with fds 0-2 = job stdio and fd 3 = control socket.
    """
    project = cfg["project_dir"]
    temp = cfg["temp_dir"]
    _hide_ctl_fd()
    os.chdir(project)
    os.environ.clear()
    os.environ.update(cfg.get("env") or {})
    if "tempfile" in sys.modules:
        sys.modules["tempfile"].tempdir = None  # recompute from the new TMPDIR
    if not _confine(cfg):
        return 70
    if sys.flags.no_site:  # a venv's zygote (interpreters.own_binary_venv): its site-
        import site  # packages, .pth files included, only now that the job is confined

        site.main()
    sys.dont_write_bytecode = True  # no __pycache__ writes into site-packages
    filename = cfg.get("filename") or "<script>"
    sys.argv = [filename]
    sys.path.insert(0, cfg.get("sys_path0") or project)
    if cfg.get("audit", True):
        guard = _Guard([project, temp], resolved=True)  # the runner resolved both
        sys.addaudithook(guard.hook)

    main_mod = types.ModuleType("__main__")
    main_mod.__file__ = filename if cfg.get("script") else None  # type: ignore[assignment]
    main_mod.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["__main__"] = main_mod
    code_text = cfg.get("code")
    file_text = cfg.get("source")  # a script file's content, read once by the runner
    exit_code = 0
    try:
        if file_text is not None:
            source = file_text.encode("utf-8", "surrogateescape")
        elif code_text is None:  # (an older runner: the path itself)
            with open(cfg["script"], "rb") as fh:
                source = fh.read()
        else:
            source = code_text.encode("utf-8")
        code_obj = compile(source, filename, "exec", dont_inherit=True)
        exec(code_obj, main_mod.__dict__)
    except SystemExit as exc:
        code = exc.code
        if code is None:
            exit_code = 0
        elif isinstance(code, int):
            exit_code = code & 0xFF if code >= 0 else (256 + code) & 0xFF
        else:
            try:
                sys.stderr.write(str(code) + "\n")
            except Exception:
                pass
            exit_code = 1
    except BaseException as exc:
        try:
            shown = code_text if file_text is None else _source_text(source)
            info = _describe(exc, filename, shown, project)
            report(info)
            sys.stderr.write(info["traceback"])
        except BaseException:
            report(
                {
                    "t": "exception",
                    "type": type(exc).__name__,
                    "message": "",
                    "line": None,
                    "traceback": "",
                }
            )
        exit_code = 1
    return exit_code


def _source_text(source: bytes) -> str | None:
    """A script file's text for its traceback (the lines that ran, not the file now)."""
    import io
    import tokenize

    try:
        return source.decode(tokenize.detect_encoding(io.BytesIO(source).readline)[0], "replace")
    except (SyntaxError, LookupError):
        return None


def _finish(code: int) -> None:
    """Exit fast (skip interpreter teardown) but keep Python's exit semantics."""
    try:
        if "threading" in sys.modules:
            sys.modules["threading"]._shutdown()  # type: ignore[attr-defined]
    except BaseException:
        pass
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BaseException:
            pass
    # No "exit" report: the runner takes the exit status from the kernel only (user code
    # could forge any report).  Close stdio and the control fd now: the kernel frees the
    # address space *before* it closes a dying process's files.
    os.closerange(0, CTL_FD + 1)
    os._exit(code)


def _spare_prepare(keep_close: list[int], status_w: int | None = None) -> None:
    """In a freshly forked spare: drop the zygote's fds/handlers, own session, warm up.

    With `status_w` the spare is pid 1 of a new PID namespace: it becomes ns init and
    the rest happens in the job process it forks (see `become_ns_init`).
    Everything here happens *before* a job is assigned, off the critical path; warming up
    again also takes the copy-on-write faults of the common code paths ahead of time.
    """
    for fd in keep_close:
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError):
        pass
    for sig in (signal.SIGCHLD, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    os.setsid()
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if status_w is not None:
        # (getppid() is 0 in the namespace; a zygote that died before the prctl is
        # noticed by the spare socket's EOF)
        become_ns_init(status_w)
    else:
        if os.getppid() == 1:  # the zygote died between fork and prctl
            os._exit(0)
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
        try:
            private_dev_shm()  # ahead of time: off the job's critical path
        except OSError:
            pass  # (probed in the zygote: not expected) /dev/shm then stays read-only
    _warm_up()
    # Text streams are made now, on placeholder pipes (same kind of fd as the job's, so
    # the same buffering/seekability); the job's pipes are later dup2'd onto fds 0-2.
    for target in (0, 1, 2):
        r, w = os.pipe()
        os.dup2(r if target == 0 else w, target)
        os.close(r)
        os.close(w)
    _reset_stdio()
    os.environ.clear()  # the job's own environment is set once the job is known


def _spare_wait(sock: socket.socket) -> list[int]:
    """Block until the runner hands this spare a job's four fds (exit on EOF)."""
    while True:
        try:
            msg, fds, _flags, _addr = _recv(sock)
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            continue
        except OSError:
            os._exit(0)
        if not msg:
            os._exit(0)
        if len(fds) == 4:
            sock.close()
            return fds
        for fd in fds:
            os.close(fd)


def _child_run(fds: list[int]) -> None:
    """Put the job's stdio/ctl in place, read the config, run the job, exit."""
    code = 70
    try:
        high = [os.dup(fd) for fd in fds]  # move out of 0..3 before dup2
        for fd in fds:
            os.close(fd)
        for target, fd in enumerate(high):
            os.dup2(fd, target, inheritable=target < CTL_FD)
            os.close(fd)
        os.closerange(CTL_FD + 1, 1 << 16)
        cfg = _read_config(CTL_FD)
        code = run_job(cfg)
    except BaseException as exc:  # the bootstrap itself failed
        _report_internal(exc)
    _finish(code)


def _reset_stdio() -> None:
    """Fresh text streams on fds 0-2 (nothing buffered in the zygote can leak)."""
    sys.stdin = open(0, encoding="utf-8", closefd=False)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
    sys.stderr = open(
        2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1
    )
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


# --------------------------------------------------------------------------- zygote
def _children_of(pid: int) -> list[int]:
    """Direct children of `pid` (Linux /proc; empty elsewhere)."""
    out: list[int] = []
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        pass
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        rest = stat[stat.rfind(b")") + 2 :].split()
        if len(rest) > 1 and int(rest[1]) == pid:
            out.append(int(name))
    return out


class _Zygote:
    """Fork-server loop; single-threaded so that fork() is safe."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.jobs: set[int] = set()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.stopping = False
        self.initial_spares = 2

        def _term(*_: object) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, _term)
        self.linux = sys.platform.startswith("linux")
        # PID namespace per spare: unshare before its fork, back to our own after
        self.pidns_fd = _own_pidns_fd() if self.linux else None
        self.status_r: dict[int, int] = {}  # spare pid -> its ns init's status pipe
        self.spare_status_w: int | None = None  # (in a spare: ns init's end)

    def send(self, obj: dict) -> None:  # type: ignore[type-arg]
        try:
            self.sock.send(json.dumps(obj).encode())
        except OSError:
            self.stopping = True

    def serve(self) -> socket.socket | None:
        """Loop until told to stop.

        Returns only in a freshly forked spare child (its socket to the runner); the
        zygote itself returns None when it is time to exit.
        """
        import select

        self.send({"op": "ready", "pid": os.getpid(), "pidns": self.pidns_fd is not None})
        for _ in range(self.initial_spares):
            child = self.make_spare()
            if child is not None:
                return child
        while not self.stopping:
            try:
                r, _, _ = select.select([self.sock, self.wake_r], [], [], 5.0)
            except InterruptedError:  # pragma: no cover
                continue
            if self.wake_r in r:
                try:
                    os.read(self.wake_r, 4096)
                except OSError:
                    pass
            self.reap()
            if self.sock in r:
                try:
                    msg, fds, _flags, _addr = _recv(self.sock)
                except OSError:
                    break
                for fd in fds:
                    os.close(fd)
                if not msg:
                    break
                try:
                    req = json.loads(msg.decode())
                except ValueError:
                    continue
                if req.get("op") == "spare":
                    child = self.make_spare()
                    if child is not None:
                        return child
        self.shutdown()
        return None

    def make_spare(self) -> socket.socket | None:
        """Fork a spare child that waits for a job; hand its socket to the runner.

        The runner sends the job's fds straight to the spare (one hop, no fork on the
        critical path).  Returns the spare's socket *in the child*, None in the zygote.
        """
        import socket

        kind = socket.SOCK_SEQPACKET if self.linux else socket.SOCK_DGRAM
        mine, theirs = socket.socketpair(socket.AF_UNIX, kind)
        status: tuple[int, int] | None = None
        if self.pidns_fd is not None and _get_libc().unshare(CLONE_NEWPID) == 0:
            status = os.pipe()
        try:
            pid = os.fork()
        except OSError as exc:
            pid = -1
            mine.close()
            theirs.close()
            self.send({"op": "error", "message": str(exc)})
        if pid != 0 and status is not None:
            _setns(self.pidns_fd, CLONE_NEWPID)  # type: ignore[arg-type]  # back to ours
            if pid < 0:
                os.close(status[0])
                os.close(status[1])
        if pid < 0:
            return None
        if pid == 0:
            mine.close()
            if status is not None:
                os.close(status[0])
                self.spare_status_w = status[1]
            return theirs
        theirs.close()
        self.jobs.add(pid)
        if status is not None:
            os.close(status[1])
            self.status_r[pid] = status[0]
        try:
            _send_fds(self.sock, json.dumps({"op": "spare", "pid": pid}).encode(), [mine.fileno()])
        except OSError:
            self.stopping = True
        mine.close()
        return None

    def reap(self) -> None:
        """Collect exited children; kill each finished job's group and its orphans."""
        finished = False
        while True:
            try:
                if self.linux:
                    info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                    if info is None:
                        break
                    pid = info.si_pid
                else:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                    if pid == 0:
                        break
            except ChildProcessError:
                break
            if self.linux:
                if pid in self.jobs:
                    _killpg(pid, signal.SIGKILL)  # stragglers of the job, pgid still valid
                try:
                    _, status = os.waitpid(pid, 0)
                except ChildProcessError:
                    continue
            if pid in self.jobs:
                self.jobs.discard(pid)
                finished = True
                status = self._job_status(pid, status)
                self.send({"op": "exit", "pid": pid, "status": status})
        if finished and self.linux:
            self.kill_orphans()

    def _job_status(self, pid: int, status: int) -> int:
        """The job's own wait status, as its ns init saw it (else the spare's own)."""
        fd = self.status_r.pop(pid, None)
        if fd is None:
            return status
        try:
            data = os.read(fd, 64)
        except OSError:
            data = b""
        os.close(fd)
        return int(data) if data.strip().isdigit() else status

    def kill_orphans(self) -> None:
        for child in _children_of(os.getpid()):
            if child not in self.jobs:
                try:
                    os.kill(child, signal.SIGKILL)
                except OSError:
                    pass

    def shutdown(self) -> None:
        for pid in list(self.jobs):
            _killpg(pid, signal.SIGKILL)
        if self.linux:
            for child in _children_of(os.getpid()):
                try:
                    os.kill(child, signal.SIGKILL)
                except OSError:
                    pass


def _own_pidns_fd() -> int | None:
    """An fd on this process's PID namespace if it may make new ones (probed: unshare,
    then straight back), else None."""
    libc = _get_libc()
    if libc is None:
        return None
    try:
        fd = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    if libc.unshare(CLONE_NEWPID) != 0:
        os.close(fd)
        return None
    if not _setns(fd, CLONE_NEWPID):
        os.close(fd)  # pragma: no cover - cannot happen once unshare worked
        return None
    return fd


def _setns(fd: int, nstype: int) -> bool:
    libc = _get_libc()
    return libc is not None and libc.setns(fd, nstype) == 0


def _send_fds(sock: socket.socket, data: bytes, fds: list[int]) -> None:
    import array
    import socket

    sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except OSError:
        pass


def _recv(sock: socket.socket) -> tuple[bytes, list[int], int, object]:
    import socket

    if hasattr(socket, "recv_fds"):
        return socket.recv_fds(sock, 65536, 8)  # type: ignore[no-any-return]
    return _recv_fds(sock)


def _recv_fds(sock: socket.socket) -> tuple[bytes, list[int], int, object]:
    """socket.recv_fds for Python < 3.9."""
    import array
    import socket

    fds = array.array("i")
    msg, ancdata, flags, addr = sock.recvmsg(65536, socket.CMSG_SPACE(8 * fds.itemsize))
    for level, typ, data in ancdata:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    return msg, list(fds), flags, addr


_WARM_UP_CODE = """
import json, sys
data = json.loads('{"a": [1, 2.5, "x", null, true]}')
out = json.dumps({"k": [v for v in data["a"] if v]}, ensure_ascii=False)
def f(a, *b, k=1, **c):
    try:
        return {x: (x, f"{x!r}") for x in a}
    except (ValueError, KeyError) as exc:
        raise RuntimeError("x") from exc
class C:
    pass
"""


def _warm_up() -> None:
    """Exercise the compiler and json once in the zygote.

    The first compile() in a process initialises parser state; done in each forked child
    it cost ~1 ms (3/4 of a no-op script's run).  Done here, children inherit it.
    """
    exec(compile(_WARM_UP_CODE, "<warm-up>", "exec", dont_inherit=True), {})


def zygote_main(sockfd: int, parent_pid: int | None) -> int:
    """Entry point of the zygote process."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    _prctl(PR_SET_DUMPABLE, 0)  # its /proc/<pid>/{environ,mem,fd} closed to scripts
    if parent_pid is not None and os.getppid() != parent_pid:
        return 0  # parent already gone
    import socket

    family = socket.AF_UNIX
    kind = socket.SOCK_SEQPACKET if sys.platform.startswith("linux") else socket.SOCK_DGRAM
    sock = socket.socket(family, kind, fileno=sockfd)
    sock.set_inheritable(False)
    # Warm up what every job needs (libc handle), keep the rest lazy: a small zygote
    # forks faster, and COW faults in the child cost more than a rare import.
    landlock_abi()
    import fcntl  # noqa: F401  (used by every job: _hide_ctl_fd)

    if os.geteuid() != 0 and _userns_works():  # once, before any spare exists
        try:  # in a user namespace of its own, the zygote may make PID namespaces
            _enter_userns(_get_libc())
        except OSError:
            pass
    import gc

    _warm_up()
    zyg = _Zygote(sock)
    gc.freeze()  # the child's GC then never touches (and copies) the zygote's objects
    spare_sock = zyg.serve()
    if spare_sock is None:
        return 0
    closing = [sock.detach(), zyg.wake_r, zyg.wake_w, *zyg.status_r.values()]
    if zyg.pidns_fd is not None:
        closing.append(zyg.pidns_fd)
    _spare_prepare(closing, zyg.spare_status_w)
    _child_run(_spare_wait(spare_sock))
    return 70  # not reached: _child_run exits


def _worker_fds(arg: str) -> tuple[int, int | None]:
    """``CTL`` -> (ctl, None); ``REPORT:CONFIG`` -> two fds (from handles on Windows)."""
    if ":" not in arg:
        return int(arg), None
    report_id, config_id = (int(x) for x in arg.split(":", 1))
    if sys.platform == "win32":
        import msvcrt

        return (
            msvcrt.open_osfhandle(report_id, os.O_WRONLY),  # type: ignore[attr-defined]
            msvcrt.open_osfhandle(config_id, os.O_RDONLY),  # type: ignore[attr-defined]
        )
    return report_id, config_id


def worker_main(ctl_fd: int, config_fd: int | None = None) -> int:
    """Entry point of a pool worker / per-script spawn (stdio already the job's).

    Reports go to `ctl_fd` (moved to fd 3); the config is read from `config_fd` if given
    (a one-way pipe, then closed), else from the same bidirectional control socket.
    """
    if hasattr(signal, "SIGKILL"):
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if config_fd is None:  # (a launcher-started worker is in its namespace already)
        enter_pidns()  # ahead of time: a pool worker waits for its job in there
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    code = 70
    try:
        if config_fd == CTL_FD:  # do not let the dup2 below close it
            moved = os.dup(config_fd)
            os.close(config_fd)
            config_fd = moved
        if ctl_fd != CTL_FD:
            os.dup2(ctl_fd, CTL_FD, inheritable=False)
            os.close(ctl_fd)
        else:
            os.set_inheritable(CTL_FD, False)
        _reset_stdio()
        if config_fd is None:
            cfg = _read_config(CTL_FD)
        else:
            cfg = _read_config(config_fd)
            os.close(config_fd)
        if not cfg:
            return 0
        global _shm_private
        if cfg.get("shm_private"):  # the launcher already made it (and dropped the caps)
            _shm_private = True
        else:
            private_dev_shm()
        code = run_job(cfg)
    except BaseException as exc:
        _report_internal(exc)
    _finish(code)
    return code


# --------------------------------------------------------------------------- launcher
def _config_fd(data: bytes, temp_dir: str | None) -> int:
    """An inheritable fd, positioned at 0, holding `data` (memfd; else an unlinked file)."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("nopflow-job", 0)
    else:  # pragma: no cover - macOS
        import tempfile

        fd, name = tempfile.mkstemp(dir=temp_dir)
        os.unlink(name)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    os.set_inheritable(fd, True)
    return fd


def launch_main(python: str, args: list[str]) -> int:
    """Start a *user-chosen* interpreter only once it is confined.

    That interpreter may be any executable (a shell script wrapping python, say), and
    it runs before any bootstrap of ours could confine it — so it is always started
    through this launcher, run by the app's own trusted Python.  The launcher confines
    itself (PDEATHSIG; for a job: the job's env, cwd, rlimits, Landlock, no capabilities;
    for ``--check``: writes nowhere), and then ``execv``s the interpreter.  Landlock,
    no_new_privs, rlimits and the dropped capabilities survive exec; the session was
    made by the runner (``start_new_session``).  The bootstrap in the interpreter then
    applies its own layers again (nested Landlock only narrows).

    ``--launch PY --worker CTLFD``: read the job config from CTLFD, confine, exec
    ``PY -I -X utf8 bootstrap.py --worker CTLFD:CONFIGFD`` (config re-sent in a memfd).
    ``--launch PY --check``: confine, exec ``PY -I -c <print version>`` (validation).
    """
    if hasattr(signal, "SIGKILL"):
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    enter_pidns()  # whatever the interpreter starts dies with it
    if args[:1] == ["--check"]:
        cfg = {"memory_mb": 2048, "cpu_s": 15, "nofile": 256}
        _set_rlimits(cfg)
        private_dev_shm()
        readonly_except([])  # no metadata changes anywhere either
        if landlock_abi() > 0:
            apply_landlock([], ["/dev/null"])  # raises: then we do not exec at all
        drop_capabilities()
        code = "import sys; print('%d.%d' % sys.version_info[:2])"
        os.execv(python, [python, "-E", "-s", "-c", code])  # (no -I: Python 2 lacks it)
    if len(args) != 2 or args[0] != "--worker":
        sys.stderr.write("usage: --launch PY --worker CTLFD | --launch PY --check\n")
        return 2
    ctl = int(args[1])
    global CTL_FD
    CTL_FD = ctl  # reports from here go to the runner's control socket
    try:
        cfg = _read_config(ctl)
        if not cfg:
            return 0  # the pool closed an idle worker
        os.chdir(cfg["project_dir"])
        env = dict(cfg.get("env") or {})
        cfg["shm_private"] = private_dev_shm()
        if not _confine(cfg):
            return 70
        cfd = _config_fd((json.dumps(cfg) + "\n").encode("utf-8"), cfg.get("temp_dir"))
        os.set_inheritable(ctl, True)
        argv = [python, "-I", "-X", "utf8", BOOTSTRAP_FILE, "--worker", f"{ctl}:{cfd}"]
        os.execve(python, argv, env)
    except BaseException as exc:  # the launcher itself failed (exec included)
        _report_internal(exc, f"launching {python}: ")
    return 70


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``--zygote`` / ``--worker`` (or the frozen ``--sandbox-*`` spellings)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.stderr.write(
            "usage: bootstrap.py --zygote SOCKFD [PPID] | --worker CTLFD|REPORTFD:CONFIGFD\n"
        )
        return 2
    mode = args[0].replace("--sandbox-", "--")
    if mode == "--zygote":
        return zygote_main(int(args[1]), int(args[2]) if len(args) > 2 else None)
    if mode == "--worker":
        return worker_main(*_worker_fds(args[1]))
    if mode == "--launch" and len(args) >= 3:
        return launch_main(args[1], args[2:])
    sys.stderr.write(f"unknown mode {args[0]!r}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
