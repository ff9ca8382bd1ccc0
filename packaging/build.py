"""Build nopflow's installable artefacts: a PyInstaller one-folder bundle, then per OS a
.deb (Linux), an Inno Setup installer (Windows) or a .app in a .dmg (macOS).

    python packaging/build.py                   # host default: deb / windows / macos
    python packaging/build.py --target bundle   # only the one-folder bundle
    python packaging/build.py --target deb --reuse   # skip PyInstaller if inputs unchanged

Why it works this way:

* The bundle is built from a **clean venv** (``packaging/out/venv``) holding only ``.``,
  its runtime dependencies and the build tools, so nothing from a developer's venv (test
  tools, other Qt bindings) leaks into the app.  The venv is recreated only when the
  dependency list, the build requirements or the interpreter change; ``.`` itself is
  reinstalled on every build (a few seconds).  pip's own cache makes recreation cheap.
* One executable, ``nopflow``, is the editor, the CLI and the script-block sandbox child
  (``packaging/entry.py``); Windows also gets a windowed ``nopflow-gui.exe`` (no console
  flash) used by the Start menu and the file association.
* PyInstaller's work folder is kept between builds, and ``--reuse`` skips PyInstaller
  entirely when a hash of every input (sources, resources, packaging, pyproject, venv key)
  matches the previous build, which keeps the packaging test fast on a developer machine
  while a clean CI checkout always builds for real.

Outputs (``--out``, default ``packaging/out``): ``dist/nopflow/`` (the bundle; on macOS
``dist/nopflow.app``), ``nopflow_<version>_<arch>.deb``, ``nopflow-<version>-setup.exe``,
``nopflow-<version>.dmg``, and ``build-info.json`` with timings and sizes.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import email.utils
import gzip
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
DEFAULT_OUT = PACKAGING / "out"
APP = "nopflow"
MIME_TYPE = "application/x-nopflow-workflow"
IS_WIN = sys.platform == "win32"
HOST_TARGET = {"win32": "windows", "darwin": "macos"}.get(sys.platform, "deb")

#: What the bundle loads from the system (ldd over every ELF in it: PyInstaller leaves out
#: glibc, the GL/EGL dispatch libraries, libxcb and libwayland-client by design); the
#: libc6 minimum is computed from the GLIBC_x.y symbol versions the bundle references.
DEB_DEPENDS = "libegl1, libgl1, libxcb1, libwayland-client0"
DEB_RECOMMENDS = (
    "shared-mime-info, desktop-file-utils, hicolor-icon-theme, fonts-dejavu-core | fonts-font"
)


# --------------------------------------------------------------------------- helpers
def log(msg: str) -> None:
    """Progress on stderr, flushed (the test and CI show it live)."""
    print(f"[build] {msg}", file=sys.stderr, flush=True)


def run(cmd: Sequence[str | os.PathLike[str]], **kw: object) -> None:
    """Run a command, echoing it; any failure aborts the build.

    Tools' stdout goes to our stderr so that our stdout carries only the JSON summary.
    """
    log("$ " + " ".join(str(c) for c in cmd))
    sys.stderr.flush()
    kw.setdefault("stdout", sys.stderr.fileno())
    subprocess.run([str(c) for c in cmd], check=True, **kw)  # type: ignore[call-overload]


def version() -> str:
    """The version, read from its single source (nopflow/__about__.py) without importing."""
    text = (ROOT / "nopflow" / "__about__.py").read_text(encoding="utf-8")
    m = re.search(r'__version__\s*=\s*["\']([^"\']+)["\']', text)
    if not m:
        raise SystemExit("build.py: no __version__ in nopflow/__about__.py")
    return m.group(1)


def tree_size(path: Path) -> int:
    """Bytes of all regular files below `path` (symlinks not followed)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def mib(n: int) -> str:
    """`n` bytes as MiB with one decimal."""
    return f"{n / 2**20:.1f} MiB"


def _iter_input_files() -> Iterable[Path]:
    for sub in ("nopflow", "resources", "packaging"):
        for p in sorted((ROOT / sub).rglob("*")):
            rel = p.relative_to(ROOT).parts
            if not p.is_file() or "__pycache__" in rel or p.suffix == ".pyc":
                continue
            if rel[:2] == ("packaging", "out"):
                continue
            yield p
    yield ROOT / "pyproject.toml"


def inputs_hash(extra: str) -> str:
    """Hash of everything that goes into the bundle (paths and contents)."""
    h = hashlib.sha256(extra.encode())
    for p in _iter_input_files():
        h.update(str(p.relative_to(ROOT)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- venv
def venv_python(venv: Path) -> Path:
    """The interpreter inside `venv`."""
    return venv / ("Scripts/python.exe" if IS_WIN else "bin/python")


def _venv_key(base_python: str) -> str:
    """What the venv depends on: interpreter, dependency list, build requirements."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    deps = re.search(r"(?ms)^dependencies\s*=\s*\[(.*?)^\]", pyproject)
    ident = subprocess.run(
        # base_prefix, not executable: a venv's python and its base build the same venv.
        [base_python, "-c", "import sys; print(sys.version, sys.base_prefix, sys.platform)"],
        check=True, capture_output=True, text=True,
    ).stdout
    h = hashlib.sha256(ident.encode())
    h.update((deps.group(1) if deps else pyproject).encode())
    h.update((PACKAGING / "requirements-build.txt").read_bytes())
    return h.hexdigest()


def ensure_venv(out: Path, base_python: str) -> Path:
    """Create (when its key changed) the clean build venv; reinstall `.` into it."""
    venv = out / "venv"
    key = _venv_key(base_python)
    stamp = venv / "nopflow-build-key"
    py = venv_python(venv)
    pip = [py, "-m", "pip", "--disable-pip-version-check", "-q"]
    if not (py.exists() and stamp.exists() and stamp.read_text() == key):
        log(f"creating the clean build venv {venv}")
        shutil.rmtree(venv, ignore_errors=True)
        run([base_python, "-m", "venv", venv])
        run([*pip, "install", "--upgrade", "pip"])
        # `.` with its dependencies, plus the build tools, in one resolver run.
        run([*pip, "install", "-r", PACKAGING / "requirements-build.txt", ROOT])
        stamp.write_text(key)
    # Always reinstall the app itself (no deps, no isolated build env: fast).
    run([*pip, "install", "--no-deps", "--no-build-isolation", "--force-reinstall", ROOT])
    return py


# --------------------------------------------------------------------------- bundle
def render_icons(py: Path, out: Path) -> Path:
    """PNG sizes, .ico and .iconset from resources/icons/nopflow.svg (see icons.py)."""
    dest = out / "icons"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    run([py, PACKAGING / "icons.py", ROOT / "resources" / "icons" / "nopflow.svg", dest],
        env=env)
    return dest


def render_manpage(py: Path, out: Path) -> Path:
    """nopflow.1 from the CLI's parser (see manpage.py), in the build venv that has both."""
    dest = out / "man"
    run([py, PACKAGING / "manpage.py", dest])
    return dest / "nopflow.1"


def gzip_n(data: bytes) -> bytes:
    """gzip -9n: no name or time stamp in the header, as Debian policy asks (reproducible)."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def debian_changelog(ver: str) -> str:
    """The one-entry Debian changelog of a package built from this tree."""
    stamp = email.utils.format_datetime(datetime.datetime.now(datetime.timezone.utc))
    return (
        f"{APP} ({ver}) unstable; urgency=medium\n\n"
        f"  * Upstream release {ver}: see the README for what it contains.\n\n"
        f" -- {DEB_MAINTAINER}  {stamp}\n"
    )


def make_icns(icons: Path) -> Path | None:
    """macOS: the .icns from the rendered .iconset (iconutil exists only on macOS)."""
    if not shutil.which("iconutil"):
        log("iconutil not found: the .app gets PyInstaller's default icon")
        return None
    icns = icons / "nopflow.icns"
    run(["iconutil", "-c", "icns", icons / "nopflow.iconset", "-o", icns])
    return icns


def build_bundle(py: Path, out: Path, target: str, icons: Path) -> Path:
    """Run PyInstaller on packaging/nopflow.spec; return the bundle folder (or .app)."""
    os_target = {"windows": "windows", "macos": "macos"}.get(target, "linux")
    icon: Path | None = None
    if os_target == "windows":
        icon = icons / "nopflow.ico"
    elif os_target == "macos":
        icon = make_icns(icons)
    env = dict(os.environ, NOPFLOW_TARGET=os_target, NOPFLOW_VERSION=version())
    env.pop("PYTHONPATH", None)
    if icon:
        env["NOPFLOW_ICON"] = str(icon)
    dist = out / "dist"
    shutil.rmtree(dist / APP, ignore_errors=True)
    shutil.rmtree(dist / f"{APP}.app", ignore_errors=True)
    run([py, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--distpath", dist, "--workpath", out / "pyinstaller",
         PACKAGING / "nopflow.spec"], env=env, cwd=out)
    return dist / f"{APP}.app" if os_target == "macos" else dist / APP


def bundle_exe(bundle: Path) -> Path:
    """The `nopflow` executable inside a bundle folder or .app."""
    if bundle.suffix == ".app":
        return bundle / "Contents" / "MacOS" / APP
    return bundle / (f"{APP}.exe" if IS_WIN else APP)


def smoke_test(bundle: Path) -> str:
    """`nopflow --version` from the bundle must print the package version."""
    res = subprocess.run([str(bundle_exe(bundle)), "--version"], capture_output=True,
                         text=True, timeout=60, check=False)
    got = (res.stdout or res.stderr).strip()
    if res.returncode != 0 or version() not in got:
        raise SystemExit(f"build.py: bundle smoke test failed ({res.returncode}): {got}")
    return got


# --------------------------------------------------------------------------- .deb
def deb_arch() -> str:
    """Debian architecture name of this machine."""
    if shutil.which("dpkg"):
        return subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                              text=True, check=True).stdout.strip()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def glibc_minimum(bundle: Path) -> str | None:
    """Highest GLIBC_x.y symbol version referenced by any ELF file in the bundle."""
    best: tuple[int, ...] = ()
    pattern = re.compile(rb"GLIBC_(2\.[0-9]+(?:\.[0-9]+)?)\x00")
    for dirpath, _dirs, files in os.walk(bundle):
        for f in files:
            p = os.path.join(dirpath, f)
            if os.path.islink(p):
                continue
            with open(p, "rb") as fh:
                if fh.read(4) != b"\x7fELF":
                    continue
                data = fh.read()
            for m in pattern.finditer(data):
                best = max(best, tuple(int(x) for x in m.group(1).split(b".")))
    return ".".join(map(str, best)) if best else None


def _copy_tree(src: Path, dst: Path) -> None:
    """Copy a tree keeping symlinks; hard-link files when possible (160 MB, no copy)."""
    def link_or_copy(s: str, d: str) -> object:
        try:
            os.link(s, d)
            return d
        except OSError:
            return shutil.copy2(s, d)

    shutil.copytree(src, dst, symlinks=True, copy_function=link_or_copy)


LINUX = PACKAGING / "linux"  # postinst, postrm, the /usr/bin wrapper


DEB_MAINTAINER = "nopflow developers <nopflow@users.noreply.github.com>"


def build_deb(bundle: Path, icons: Path, man: Path, out: Path, compression: str) -> Path:
    """Lay out /opt/nopflow, /usr/bin, /usr/share/... and pack it with dpkg-deb."""
    if not shutil.which("dpkg-deb"):
        raise SystemExit("build.py: dpkg-deb not found (apt-get install dpkg)")
    ver, arch = version(), deb_arch()
    stage = out / "deb" / f"{APP}_{ver}_{arch}"
    shutil.rmtree(out / "deb", ignore_errors=True)
    _copy_tree(bundle, stage / "opt" / APP)

    def put(rel: str, data: bytes | str, mode: int = 0o644) -> None:
        p = stage / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        p.chmod(mode)

    res = ROOT / "resources"
    put("usr/bin/nopflow", (LINUX / "nopflow-wrapper.sh").read_bytes(), 0o755)
    put(f"usr/share/applications/{APP}.desktop", (res / "nopflow.desktop").read_bytes())
    put(f"usr/share/mime/packages/{APP}.xml", (res / "mime" / "nopflow.xml").read_bytes())
    svg = (res / "icons" / "nopflow.svg").read_bytes()
    mime_icon = MIME_TYPE.replace("/", "-")
    put(f"usr/share/icons/hicolor/scalable/apps/{APP}.svg", svg)
    put(f"usr/share/icons/hicolor/scalable/mimetypes/{mime_icon}.svg", svg)
    for png in sorted((icons / "png").glob("*.png")):
        s = png.stem
        put(f"usr/share/icons/hicolor/{s}x{s}/apps/{APP}.png", png.read_bytes())
        put(f"usr/share/icons/hicolor/{s}x{s}/mimetypes/{mime_icon}.png", png.read_bytes())
    put(f"usr/share/doc/{APP}/copyright",
        "nopflow\n\nFiles: *\nLicense: MIT\n\n" + (ROOT / "LICENSE").read_text(encoding="utf-8")
        + "\nThe bundle in /opt/nopflow also contains Python, Qt (LGPLv3, via PySide6) and\n"
        "other libraries; their licences are listed in nopflow's Help -> About and in\n"
        "/opt/nopflow/_internal/*.dist-info.\n")
    put(f"usr/share/man/man1/{APP}.1.gz", gzip_n(man.read_bytes()))
    put(f"usr/share/doc/{APP}/changelog.Debian.gz", gzip_n(debian_changelog(ver).encode()))
    installed_kib = (tree_size(stage) + 1023) // 1024
    glibc = glibc_minimum(bundle)
    depends = (f"libc6 (>= {glibc}), " if glibc else "libc6, ") + DEB_DEPENDS
    control = (
        f"Package: {APP}\nVersion: {ver}\nArchitecture: {arch}\n"
        f"Maintainer: {DEB_MAINTAINER}\n"
        f"Installed-Size: {installed_kib}\nDepends: {depends}\n"
        f"Recommends: {DEB_RECOMMENDS}\nSection: utils\nPriority: optional\n"
        "Homepage: https://github.com/nopflow/nopflow\n"
        "Description: visual workflow automation (node-graph editor and runner)\n"
        " Drag blocks onto a canvas, wire them into a graph and run it live; Python\n"
        " script blocks run in sandboxed child processes using the bundled Python.\n"
        " The same engine runs headless: nopflow run FILE.\n"
    )
    put("DEBIAN/control", control)
    put("DEBIAN/postinst", (LINUX / "postinst").read_bytes(), 0o755)
    put("DEBIAN/postrm", (LINUX / "postrm").read_bytes(), 0o755)
    deb = out / f"{APP}_{ver}_{arch}.deb"
    deb.unlink(missing_ok=True)
    # zstd/gzip: xz would take minutes on a 160 MB payload for a few MB of savings.
    run(["dpkg-deb", "--root-owner-group", f"-Z{compression}", "--build", stage, deb])
    shutil.rmtree(out / "deb", ignore_errors=True)
    return deb


# --------------------------------------------------------------------------- Windows / macOS
def find_iscc() -> str | None:
    """Inno Setup's compiler: on PATH or in its default install folders."""
    found = shutil.which("iscc")
    if found:
        return found
    for base in (os.environ.get("ProgramFiles(x86)"), os.environ.get("ProgramFiles")):
        if base:
            cand = Path(base) / "Inno Setup 6" / "ISCC.exe"
            if cand.exists():
                return str(cand)
    return None


def build_windows_installer(bundle: Path, icons: Path, out: Path) -> Path:
    """Compile packaging/windows/nopflow.iss against the bundle (Windows only)."""
    iscc = find_iscc()
    if not iscc:
        raise SystemExit("build.py: Inno Setup 6 (iscc) not found; choco install innosetup")
    run([iscc, f"/DAppVersion={version()}", f"/DSourceDir={bundle}", f"/DOutputDir={out}",
         f"/DIconFile={icons / 'nopflow.ico'}", PACKAGING / "windows" / "nopflow.iss"])
    return out / f"{APP}-{version()}-setup.exe"


def build_dmg(app: Path, out: Path) -> Path:
    """Wrap nopflow.app in a compressed .dmg with an /Applications link (macOS only)."""
    dmg = out / f"{APP}-{version()}.dmg"
    run(["sh", PACKAGING / "macos" / "make_dmg.sh", app, dmg, version()])
    return dmg


# --------------------------------------------------------------------------- main
@contextlib.contextmanager
def build_lock(out: Path) -> Iterator[None]:
    """One build per output folder at a time (two test sessions must not interleave)."""
    if IS_WIN:
        yield
        return
    import fcntl

    with open(out / ".build.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options and build; prints a JSON summary (also saved as build-info.json)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", choices=["bundle", "deb", "windows", "macos"],
                    default=HOST_TARGET, help=f"what to build (default here: {HOST_TARGET})")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter the clean build venv is created from")
    ap.add_argument("--reuse", action="store_true",
                    help="skip PyInstaller when the inputs are unchanged since the last build")
    ap.add_argument("--compression", choices=["zstd", "gzip"], default="zstd",
                    help=".deb compression (never xz: minutes on this payload)")
    args = ap.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with build_lock(out):
        return _build(args, out)


def _build(args: argparse.Namespace, out: Path) -> int:
    """The build proper (see the module docstring)."""
    t0 = time.monotonic()
    info: dict[str, object] = {"version": version(), "target": args.target}
    os_target = {"windows": "windows", "macos": "macos"}.get(args.target, "linux")
    # Hash the inputs *before* installing them: an edit made during the build then
    # invalidates the stamp instead of being recorded as built.
    key = inputs_hash(_venv_key(args.python) + os_target)

    py = ensure_venv(out, args.python)
    info["venv_s"] = round(time.monotonic() - t0, 1)
    icons = render_icons(py, out)

    stamp = out / f"bundle-{os_target}.inputs"  # `bundle` and `deb` share the Linux bundle
    bundle = out / "dist" / (f"{APP}.app" if args.target == "macos" else APP)
    t1 = time.monotonic()
    if args.reuse and stamp.exists() and stamp.read_text() == key and bundle_exe(bundle).exists():
        log(f"inputs unchanged: reusing {bundle}")
        info["bundle_reused"] = True
    else:
        stamp.unlink(missing_ok=True)
        bundle = build_bundle(py, out, args.target, icons)
        stamp.write_text(key)
        info["bundle_reused"] = False
    info["pyinstaller_s"] = round(time.monotonic() - t1, 1)
    info["bundle"] = str(bundle)
    info["bundle_bytes"] = tree_size(bundle)
    info["smoke"] = smoke_test(bundle)
    log(f"bundle {bundle}: {mib(tree_size(bundle))} ({info['smoke']})")

    t2 = time.monotonic()
    artefact: Path | None = None
    if args.target == "deb":
        artefact = build_deb(bundle, icons, render_manpage(py, out), out, args.compression)
    elif args.target == "windows":
        artefact = build_windows_installer(bundle, icons, out)
    elif args.target == "macos":
        artefact = build_dmg(bundle, out)
    if artefact is not None:
        info["package"] = str(artefact)
        info["package_bytes"] = artefact.stat().st_size
        info["package_s"] = round(time.monotonic() - t2, 1)
        log(f"package {artefact}: {mib(artefact.stat().st_size)}")
    info["total_s"] = round(time.monotonic() - t0, 1)
    (out / "build-info.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
