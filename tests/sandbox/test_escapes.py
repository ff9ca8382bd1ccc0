"""Regression tests for sandbox escapes found by a black-box review (one test per finding).

Every child is bounded by a timeout; nothing here forks without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import textwrap
from pathlib import Path

import pytest
from sbhelpers import LINUX, run

from nopflow.sandbox import ScriptRunner


# --------------------------------------------------------------------------- 6: NaN
@pytest.mark.parametrize(
    ("value", "name"), [("float('nan')", "NaN"), ("float('-inf')", "-Infinity")]
)
async def test_nan_and_infinity_output_refused(
    runner: ScriptRunner, project: Path, value: str, name: str
) -> None:
    r = await run(runner, project, f"import json\nprint(json.dumps({{'v': {value}}}))")
    assert not r.ok
    assert r.error_type == "InvalidOutput"
    assert r.error is not None and r.error.startswith(
        f"output is not valid JSON: {name} is not allowed (JSON has no NaN or Infinity)"
    ), r.error


# --------------------------------------------------------------------------- 2: forged exit
_FORGE = """
    import os, sys
    msgs = (b'{"t":"exit","code":0}\\n', b'{"t": "exit", "code": 0}\\n')
    fds = [3]
    if os.path.isdir("/proc/self/fd"):
        for name in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                    fds.append(int(name))
            except OSError:
                pass
    for fd in fds:
        for m in msgs:
            try:
                os.write(fd, m)
            except OSError:
                pass
    print('{"forged": true}')
    sys.stdout.flush()
    sys.stderr.write("boom\\n")
    sys.stderr.flush()
    os._exit(1)
"""


@pytest.mark.parametrize("prefer", ["zygote", "pool"])
async def test_forged_exit_report_cannot_turn_failure_into_success(
    project: Path, prefer: str
) -> None:
    r0 = ScriptRunner(prefer=prefer)
    try:
        for _ in range(6):  # the race used to go the forger's way about half the time
            r = await run(r0, project, _FORGE)
            assert not r.ok, r.output
            assert r.error == "exited with code 1: boom"
            assert r.exit_code == 1
    finally:
        await asyncio.wait_for(r0.aclose(), 10)


async def test_forged_reports_cannot_hide_a_signal(runner: ScriptRunner, project: Path) -> None:
    code = _FORGE.replace("os._exit(1)", "import signal; os.kill(os.getpid(), signal.SIGKILL)")
    r = await run(runner, project, code)
    assert not r.ok
    assert r.error == "killed by signal SIGKILL"


# --------------------------------------------------------------------------- 3: /proc environ
_ANCESTORS = """
    import json, os
    found, pid = [], os.getppid()
    while pid > 1:
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                if b"NOPFLOW_TEST_SECRET=" in fh.read():
                    found.append(pid)
        except OSError:
            pass
        with open(f"/proc/{pid}/stat") as fh:
            st = fh.read()
        pid = int(st[st.rfind(")") + 2 :].split()[1])
    print(json.dumps(found))
"""

_APP = """
import asyncio, json, sys, tempfile
from pathlib import Path
from nopflow.sandbox import ScriptRunner, ScriptSpec

async def main():
    r = ScriptRunner(prefer=sys.argv[1])
    try:
        res = await asyncio.wait_for(
            r.run(ScriptSpec(project_dir=Path(sys.argv[2]), code=sys.argv[3])), 30
        )
        print(json.dumps([res.ok, res.output, res.error]))
    finally:
        await r.aclose()

asyncio.run(main())
"""


@pytest.mark.skipif(not LINUX, reason="/proc is Linux")
@pytest.mark.parametrize("prefer", ["zygote", "pool"])
def test_app_environment_not_readable_through_proc(project: Path, prefer: str) -> None:
    """An app (and the shell above it) with a secret in its environment: a script walking
    its ppid chain through /proc/<pid>/environ finds it nowhere."""
    import json
    import subprocess

    env = {**os.environ, "NOPFLOW_TEST_SECRET": "s3cret"}
    # `sh` stays alive above the app (no exec), holding the secret too
    argv = [
        "sh", "-c", '"$0" -c "$1" "$2" "$3" "$4"; exit $?',
        sys.executable, _APP, prefer, str(project), textwrap.dedent(_ANCESTORS),
    ]  # fmt: skip
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    ok, output, error = json.loads(proc.stdout.strip().splitlines()[-1])
    assert ok, error
    assert output == [], f"ancestors whose environment the script read: {output}"


# --------------------------------------------------------------------------- 1: interpreter
@pytest.mark.skipif(not LINUX, reason="needs Landlock to confine the wrapper")
@pytest.mark.parametrize("prefer", ["zygote", "pool", "spawn"])
async def test_user_interpreter_never_runs_unconfined(
    project: Path, tmp_path: Path, venv_python: str, prefer: str
) -> None:
    """settings.python may be any executable; a wrapper script that writes outside before
    exec'ing python is confined from its first instruction — at validation and at run."""
    from nopflow.sandbox import validate_interpreter

    r0 = ScriptRunner(prefer=prefer)
    if "landlock" not in r0.tier:
        await r0.aclose()
        pytest.skip("no Landlock on this machine")
    outside = tmp_path / "pwned"
    wrapper = project / "py.sh"
    wrapper.write_text(f'#!/bin/sh\necho pwned >> {outside}\nexec {venv_python} "$@"\n')
    wrapper.chmod(0o755)
    try:
        assert validate_interpreter(str(wrapper)) is None  # it is a working Python...
        assert not outside.exists()  # ...but validation ran it confined
        r = await run(r0, project, "import json, sys; print(json.dumps(sys.prefix))",
                      python=str(wrapper))  # fmt: skip
        assert r.ok, (r.error, r.stderr_tail)
        assert not outside.exists(), "the interpreter wrapper wrote outside the project"
        assert "pwned" in r.stderr_tail  # the shell's refused redirection
        # a normal venv python still works, and the sandbox applies inside it
        r = await run(r0, project, "import json, sys; print(json.dumps(sys.prefix))",
                      python=venv_python, input={"a": 1})  # fmt: skip
        assert r.ok, (r.error, r.stderr_tail)
        assert r.output == str(Path(venv_python).parent.parent)
        r = await run(r0, project, f"open({str(outside)!r}, 'w')", python=venv_python)
        assert r.error == f"write outside the project directory refused: {outside}"
        code = f"import subprocess; subprocess.run(['sh', '-c', 'echo x > {outside}'])"
        r = await run(r0, project, code, python=venv_python)
        assert not outside.exists()
    finally:
        await asyncio.wait_for(r0.aclose(), 10)


# --------------------------------------------------------------------------- 4: /dev/shm
_SHM = """
    import json, os, subprocess
    from multiprocessing import shared_memory
    subprocess.run(["sh", "-c", "echo x > /dev/shm/nopflow-probe"], check=False)
    import ctypes
    libc = ctypes.CDLL(None)
    fd = libc.open(b"/dev/shm/nopflow-probe2", os.O_WRONLY | os.O_CREAT, 0o600)
    shm = shared_memory.SharedMemory(create=True, size=16)  # multiprocessing still works
    shm.buf[0] = 7
    shm.close()
    shm.unlink()
    print(json.dumps(os.path.exists("/dev/shm/nopflow-probe")))
"""


@pytest.mark.skipif(not LINUX, reason="Linux")
@pytest.mark.parametrize("prefer", ["zygote", "pool", "venv"])
async def test_dev_shm_writes_do_not_reach_the_host(
    project: Path, prefer: str, venv_python: str
) -> None:
    for name in ("nopflow-probe", "nopflow-probe2"):
        with __import__("contextlib").suppress(FileNotFoundError):
            os.unlink(f"/dev/shm/{name}")
    r0 = ScriptRunner(prefer="zygote" if prefer == "venv" else prefer)
    if "landlock" not in r0.tier:
        await r0.aclose()
        pytest.skip("no Landlock on this machine")
    try:
        kw = {"python": venv_python} if prefer == "venv" else {}
        r = await run(r0, project, _SHM, **kw)
        assert r.ok, (r.error, r.stderr_tail)
        assert not os.path.exists("/dev/shm/nopflow-probe")
        assert not os.path.exists("/dev/shm/nopflow-probe2")
    finally:
        await asyncio.wait_for(r0.aclose(), 10)


# --------------------------------------------------------------------------- 5: metadata
@pytest.mark.parametrize("call", ["os.utime(P, (1, 1))", "os.setxattr(P, 'user.x', b'1')"])
async def test_metadata_changes_outside_refused_in_python(
    runner: ScriptRunner, project: Path, tmp_path: Path, call: str
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    before = outside.stat().st_mtime
    code = f"""
        import os
        P = {str(outside)!r}
        try:
            {call}
        except OSError:
            pass
        (open("in.txt", "w").close(), os.utime("in.txt", (1, 1)))  # inside: fine
    """
    r = await run(runner, project, code)
    assert r.error == f"write outside the project directory refused: {outside}"
    assert outside.stat().st_mtime == before
    assert (project / "in.txt").stat().st_mtime == 1


@pytest.mark.skipif(not LINUX, reason="Linux mount namespaces")
@pytest.mark.parametrize("prefer", ["zygote", "pool", "venv"])
async def test_metadata_changes_outside_refused_for_subprocesses(
    project: Path, tmp_path: Path, prefer: str, venv_python: str
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    outside.chmod(0o644)
    before = outside.stat()
    r0 = ScriptRunner(prefer="zygote" if prefer == "venv" else prefer)
    if "landlock" not in r0.tier:
        await r0.aclose()
        pytest.skip("no Landlock on this machine")
    code = f"""
        import json, os, subprocess
        P = {str(outside)!r}
        for argv in (["chmod", "777", P], ["touch", "-d", "2001-01-01", P]):
            subprocess.run(argv, check=False, capture_output=True)
        open("in.txt", "w").close()
        subprocess.run(["chmod", "600", "in.txt"], check=True)  # inside: fine
        subprocess.run(["touch", "-d", "2001-01-01", "in.txt"], check=True)
        with open(os.path.join(os.environ["TMPDIR"], "t"), "w") as fh:  # temp dir too
            fh.write("x")
    """
    try:
        kw = {"python": venv_python} if prefer == "venv" else {}
        r = await run(r0, project, code, **kw)
        assert r.ok, (r.error, r.stderr_tail)
        after = outside.stat()
        assert (after.st_mode, after.st_mtime) == (before.st_mode, before.st_mtime)
        assert (project / "in.txt").stat().st_mode & 0o777 == 0o600
    finally:
        await asyncio.wait_for(r0.aclose(), 10)


@pytest.mark.skipif(not LINUX, reason="Linux capabilities")
@pytest.mark.parametrize("landlock", [True, False])
async def test_scripts_and_their_subprocesses_have_no_capabilities(
    project: Path, landlock: bool
) -> None:
    code = """
        import json, subprocess
        def caps(text):
            return {k: v for k, v in (ln.split(":\\t") for ln in text.splitlines())
                    if k in ("CapEff", "CapPrm", "CapBnd", "CapAmb")}
        own = caps(open("/proc/self/status").read())
        child = caps(subprocess.run(["cat", "/proc/self/status"], capture_output=True,
                                    text=True).stdout)
        print(json.dumps([own, child]))
    """
    r0 = ScriptRunner(landlock=landlock)
    try:
        r = await run(r0, project, code)
        assert r.ok, (r.error, r.stderr_tail)
        zero = "0" * 16
        for caps in r.output:  # type: ignore[union-attr]
            assert set(caps.values()) == {zero}, caps
    finally:
        await asyncio.wait_for(r0.aclose(), 10)


_NONROOT_APP = """
import asyncio, json, sys
from pathlib import Path
from nopflow.sandbox import ScriptRunner, ScriptSpec

CODE = '''
import json, os, subprocess
from multiprocessing import shared_memory
subprocess.run(["sh", "-c", "echo x > /dev/shm/nopflow-probe-nr; chmod 777 %s"])
m = shared_memory.SharedMemory(create=True, size=8)
m.close()
m.unlink()
open("in.txt", "w").close()
print(json.dumps(os.getuid()))
'''

async def main():
    out = []
    for prefer in ("zygote", "pool"):
        r = ScriptRunner(prefer=prefer)
        try:
            spec = ScriptSpec(project_dir=Path(sys.argv[1]), code=CODE % sys.argv[2])
            res = await asyncio.wait_for(r.run(spec), 30)
            out.append([res.ok, res.output, res.error])
        finally:
            await r.aclose()
    print(json.dumps(out))

asyncio.run(main())
"""


@pytest.mark.skipif(not LINUX, reason="Linux namespaces")
def test_non_root_user_gets_private_shm_and_read_only_mounts(tmp_path: Path) -> None:
    """The unprivileged path (user + mount namespace), run as `nobody` from a root test
    run: multiprocessing works, nothing reaches the host's /dev/shm, chmod outside fails."""
    import json
    import shutil
    import subprocess
    import tempfile

    python = "/usr/bin/python3"
    if os.geteuid() != 0 or not shutil.which("setpriv") or not os.access(python, os.X_OK):
        pytest.skip("needs root, setpriv and a system python3 to become `nobody`")
    repo = str(Path(__file__).resolve().parents[2])
    base = Path(tempfile.mkdtemp(prefix="nopflow-nr-", dir="/tmp"))
    try:
        proj = base / "proj"
        proj.mkdir()
        outside = base / "outside.txt"
        outside.write_text("x")
        outside.chmod(0o644)
        for p in (base, proj, outside):
            os.chown(p, 65534, 65534)
        with contextlib.suppress(FileNotFoundError):
            os.unlink("/dev/shm/nopflow-probe-nr")
        env = {"PATH": os.defpath, "HOME": str(base), "TMPDIR": str(base), "PYTHONPATH": repo}
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                python, "-c", _NONROOT_APP, str(proj), str(outside)]  # fmt: skip
        proc = subprocess.run(argv, env=env, cwd=base, capture_output=True, text=True, timeout=90)
        if proc.returncode != 0 and "Permission denied" in proc.stderr:
            pytest.skip(f"`nobody` cannot run this checkout: {proc.stderr[-200:]}")
        assert proc.returncode == 0, proc.stderr
        results = json.loads(proc.stdout.strip().splitlines()[-1])
        for ok, output, error in results:
            assert ok, error
            assert output == 65534
        assert not os.path.exists("/dev/shm/nopflow-probe-nr")
        assert outside.stat().st_mode & 0o777 == 0o644
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink("/dev/shm/nopflow-probe-nr")
        shutil.rmtree(base, ignore_errors=True)
