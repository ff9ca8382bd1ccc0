"""Path checks done in the app *before* a script starts (the child re-checks with Landlock).

`check_inside` is exact: resolve symlinks and refuse anything outside the project dir.

`check_input_paths` has to guess which input strings are file paths.  The heuristic
(documented because users will meet it):

* only strings of 1-4096 characters without NUL/newline, that are not URLs
  (``scheme://...``) are looked at;
* an **absolute** path (``/x/...``, ``C:\\...``, ``~/...``) counts as a path when its first
  component exists on disk (``/etc/passwd`` yes, ``/api/v1/users`` no); it must resolve
  inside the project dir or one of the allowed extra dirs (the run's temp dir);
* a **relative** path counts when it contains a ``..`` component or, joined to the project
  dir, names something that exists (checked for the first 256 strings of an input only,
  so huge tables stay cheap); it must then resolve (symlinks too) inside;
* dict values and list items are walked recursively (dict keys are not checked).

It is a guard against accidents and copy-pasted workflows, not a security boundary: the
script can always build a path itself — which Landlock / the audit hook then confine.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import stat
import sys
from collections.abc import Iterable
from pathlib import Path

from nopflow.errors import NopflowError

__all__ = ["SandboxError", "check_input_paths", "check_inside", "read_beneath"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_WIN_ABS = re.compile(r"^[A-Za-z]:[\\/]")


class SandboxError(NopflowError):
    """A script run refused before it started (path escape, missing script, bad interpreter)."""


def _is_within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def check_inside(project_dir: Path, path: str | Path, *, what: str = "path") -> Path:
    """Resolve `path` against `project_dir` (symlinks too) and return it if inside.

    Raises SandboxError ``"<what> outside the project directory: <path>"`` otherwise.
    Absolute paths are accepted only when they resolve inside.
    """
    if "\0" in str(path):  # the OS cannot name such a file; os.path raises ValueError
        raise SandboxError(f"{what} contains a NUL byte: {str(path)!r}")
    root = Path(project_dir).resolve()
    raw = os.path.expanduser(str(path)) if str(path).startswith("~") else str(path)
    try:
        candidate = (root / raw).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, or swapped while resolving
        raise SandboxError(f"{what} cannot be resolved: {path}: {exc}") from exc
    if not _is_within(candidate, root):
        raise SandboxError(f"{what} outside the project directory: {path}")
    return candidate


MAX_SCRIPT_BYTES = 16 * 2**20
_SYS_OPENAT2 = 437  # same number on every Linux architecture (generic table)
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]  # fmt: skip


_openat2_missing = not sys.platform.startswith("linux")


def _openat2(dirfd: int, rel: str, flags: int) -> int | None:
    """openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS); None where the kernel lacks it."""
    global _openat2_missing
    if _openat2_missing:
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover
        _openat2_missing = True
        return None
    how = _OpenHow(flags, 0, _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS)
    fd = libc.syscall(
        ctypes.c_long(_SYS_OPENAT2), ctypes.c_int(dirfd), os.fsencode(rel),
        ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)),
    )  # fmt: skip
    if fd >= 0:
        return int(fd)
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EPERM):  # no openat2 (or a seccomp filter refusing it)
        _openat2_missing = True
        return None
    raise OSError(err, os.strerror(err), rel)


def _open_walk(dirfd: int, rel: str, flags: int) -> int:
    """The same without openat2: one component at a time, none of them a symlink."""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), rel)
    cur = os.dup(dirfd)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                          dir_fd=cur)  # fmt: skip
            os.close(cur)
            cur = nxt
        return os.open(parts[-1], flags | os.O_NOFOLLOW, dir_fd=cur)
    finally:
        os.close(cur)


def read_beneath(root: Path, path: Path, *, what: str = "script") -> bytes:
    """The content of `path` (already resolved, inside `root`), opened once beneath
    `root` with no symlink on the way: what is read is what runs, however the path is
    swapped meanwhile (the child never opens the path again)."""
    rel = os.path.relpath(path, root)
    if os.name != "posix":  # pragma: no cover - Windows: no dir_fd/O_NOFOLLOW
        with open(path, "rb") as fh:
            return fh.read(MAX_SCRIPT_BYTES + 1)
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK  # (a FIFO must not block)
    try:
        dirfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise SandboxError(f"project directory not readable: {root}: {exc.strerror}") from exc
    try:
        fd = _openat2(dirfd, rel, flags)
        if fd is None:
            fd = _open_walk(dirfd, rel, flags)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise SandboxError(f"{what} not found: {rel}") from exc
        if exc.errno in (errno.ELOOP, errno.EXDEV, errno.ENOTDIR):
            raise SandboxError(
                f"{what} path changed while it was opened (a symlink appeared): {rel}"
            ) from exc
        raise SandboxError(f"cannot read {what} {rel}: {exc.strerror}") from exc
    finally:
        os.close(dirfd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SandboxError(f"{what} not found: {rel} is not a regular file")
        chunks, size = [], 0
        while size <= MAX_SCRIPT_BYTES:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_SCRIPT_BYTES:
            raise SandboxError(f"{what} larger than {MAX_SCRIPT_BYTES // 2**20} MiB: {rel}")
        return b"".join(chunks)
    finally:
        os.close(fd)


class _Probe:
    """File-system look-ups for the heuristic, cached and bounded.

    Absolute paths need one cached stat per top-level directory; relative names cost a
    stat each, so at most `budget` of them are checked per input value (a 100 000-row
    table must not cost 100 000 syscalls).  Beyond the budget only `..` is looked at.
    """

    def __init__(self, budget: int = 256) -> None:
        self.budget = budget
        self.tops: dict[tuple[str, str], bool] = {}

    def top_exists(self, first: str, second: str) -> bool:
        key = (first, second)
        hit = self.tops.get(key)
        if hit is None:
            hit = self.tops[key] = Path(first, second).exists()
        return hit

    def exists(self, p: Path) -> bool:
        if self.budget <= 0:
            return False
        self.budget -= 1
        try:
            return p.exists() or p.is_symlink()
        except (OSError, ValueError):
            return False


def _looks_like_path(s: str, root: Path, probe: _Probe) -> Path | None:
    """Return the path a string denotes if the heuristic says it is one, else None."""
    if not s or len(s) > 4096 or "\0" in s or "\n" in s or _URL.match(s):
        return None
    if s.startswith("~"):
        expanded = os.path.expanduser(s)
        if expanded == s:
            return None
        s = expanded
    if os.path.isabs(s) or _WIN_ABS.match(s):
        parts = Path(s).parts
        if len(parts) < 2:
            return None  # "/" alone is more likely a separator than a path
        if not probe.top_exists(parts[0], parts[1]):
            return None
        return Path(s)
    if ".." in re.split(r"[\\/]", s):
        return root / s
    if probe.exists(root / s):
        return root / s
    return None


def check_input_paths(
    project_dir: Path, value: object, allowed_extra: Iterable[Path | str] = ()
) -> None:
    """Refuse inputs containing file paths that resolve outside the allowed directories.

    See the module docstring for the heuristic.  Raises SandboxError naming the JSON
    path of the offending value: ``input path outside the project directory: $.files[1]
    = ../../etc/passwd``.
    """
    project = Path(project_dir)
    extra = list(allowed_extra)
    resolved_roots: list[Path] = []
    probe = _Probe()

    def roots() -> list[Path]:  # resolved lazily: most inputs hold no path at all
        if not resolved_roots:
            resolved_roots.append(project.resolve())
            resolved_roots.extend(Path(p).resolve() for p in extra)
        return resolved_roots

    def where(loc: tuple[object, ...]) -> str:
        return "$" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in loc)

    def walk(v: object, loc: tuple[object, ...]) -> None:
        if len(loc) > 100:
            return
        if isinstance(v, str):
            p = _looks_like_path(v, project, probe)
            if p is None:
                return
            try:
                resolved = p.resolve()
            except (OSError, RuntimeError):
                resolved = Path(os.path.normpath(p))
            if not any(_is_within(resolved, r) for r in roots()):
                raise SandboxError(f"input path outside the project directory: {where(loc)} = {v}")
        elif isinstance(v, dict):
            for k, item in v.items():
                if isinstance(item, (str, dict, list, tuple)):
                    walk(item, (*loc, str(k)))
        elif isinstance(v, (list, tuple)):
            for i, item in enumerate(v):
                if isinstance(item, (str, dict, list, tuple)):
                    walk(item, (*loc, i))

    walk(value, ())
