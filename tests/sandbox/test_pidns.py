"""A script cannot see or touch processes outside its own tree, and nothing it starts
outlives it (docs/security.md): real children, every wait bounded, no fork bomb."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sbhelpers import LINUX, PIDS_SNIPPET, ns_alive, run, wait_ns_gone

from nopflow.sandbox import ScriptRunner, ScriptSpec, validate_interpreter

pytestmark = pytest.mark.skipif(not LINUX, reason="PID namespaces are Linux-only")

REPO = Path(__file__).resolve().parents[2]

# Tries every way to reach each pid in TARGETS; prints the errno names it got.
_REACH = """
    import ctypes, errno, json, os, resource, signal, subprocess
    libc = ctypes.CDLL(None, use_errno=True)
    child = subprocess.Popen(["sleep", "30"])
    out = {}
    for name, pid in TARGETS.items():
        got = []
        try:
            resource.prlimit(pid, resource.RLIMIT_NOFILE)  # reading is enough to show it
            got.append("prlimit ok")
        except OSError as exc:
            got.append(errno.errorcode[exc.errno])
        try:
            os.kill(pid, 0)
            got.append("kill ok")
        except OSError as exc:
            got.append(errno.errorcode[exc.errno])
        if libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH
            got.append("ptrace ok")
            libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
        else:
            got.append(errno.errorcode[ctypes.get_errno()])
        got.append(os.path.exists(f"/proc/{pid}"))
        out[name] = got
    out["proc"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    out["me"], out["child"] = os.getpid(), child.pid
    child.kill()
    print(json.dumps(out))
"""


def _job_pid(handle_pid: int) -> int:
    """Host pid of the job process of a running script (pid 2 of its namespace: the
    handle's pid is ns init, or the worker outside whose children are in there)."""
    deadline = time.monotonic() + 10  # (a fresh spare or worker may still be starting)
    while time.monotonic() < deadline:
        ns = os.readlink(f"/proc/{handle_pid}/ns/pid_for_children")
        if ns != os.readlink("/proc/self/ns/pid"):
            for name in os.listdir("/proc"):
                if name.isdigit():
                    try:
                        if os.readlink(f"/proc/{name}/ns/pid") != ns:
                            continue
                        status = Path(f"/proc/{name}/status").read_text()
                    except OSError:
                        continue
                    nspid = [ln for ln in status.splitlines() if ln.startswith("NSpid:")]
                    if nspid and nspid[0].split()[-1] == "2":
                        return int(name)
        time.sleep(0.02)
    raise AssertionError("no job process found")


@pytest.mark.parametrize("prefer", ["zygote", "pool"])
async def test_outside_processes_are_invisible(project: Path, prefer: str) -> None:
    """prlimit, kill and ptrace of the app, the zygote and a sibling script all fail
    with "no such process", and /proc lists only the script's own tree."""
    r0 = ScriptRunner(prefer=prefer)
    try:
        await r0.warm_up()
        sleeper = ScriptSpec(project_dir=project, code="import time\ntime.sleep(20)")
        sibling = await r0.start(sleeper)
        targets = {"app": os.getpid(), "sibling": _job_pid(sibling.pid)}
        if r0.zygote_pid is not None:
            targets["zygote"] = r0.zygote_pid
        code = f"TARGETS = {targets!r}\n" + textwrap.dedent(_REACH)
        r = await run(r0, project, code)
        await sibling.cancel()
        assert r.ok, (r.error, r.stderr_tail)
        out = r.output
        assert isinstance(out, dict)
        for name in targets:
            assert out[name] == ["ESRCH", "ESRCH", "ESRCH", False], (name, out[name])
        # ns init (1), the script itself and the child it started: nothing else
        assert out["proc"] == sorted([1, out["me"], out["child"]])
        assert "pidns" in r0.tier
    finally:
        await asyncio.wait_for(r0.aclose(), 10)


_DAEMON = """
    import json, os, subprocess, time
    r, w = os.pipe()
    if os.fork() == 0:  # a classic daemon: setsid, then a double fork
        os.setsid()
        if os.fork() == 0:
            grand = subprocess.Popen(["sleep", "60"])  # and the daemon's own child
            os.write(w, json.dumps([os.getpid(), grand.pid]).encode())
            time.sleep(60)
        os._exit(0)
    os.wait()
    pids = json.loads(os.read(r, 100))
    with open(OUT, "w") as fh:
        json.dump([_NS, os.getpid(), *pids], fh)
"""


@pytest.mark.parametrize("prefer", ["zygote", "pool"])
@pytest.mark.parametrize("ending", ["exit", "timeout", "cancel"])
async def test_daemons_die_when_the_script_ends(project: Path, prefer: str, ending: str) -> None:
    code = PIDS_SNIPPET + "OUT = 'pids.json'\n" + textwrap.dedent(_DAEMON)
    if ending != "exit":
        code += "time.sleep(30)\n"
    r0 = ScriptRunner(prefer=prefer)
    try:
        timeout = 2 if ending == "timeout" else 30
        spec = ScriptSpec(project_dir=project, code=code, timeout_s=timeout)
        h = await r0.start(spec)
        if ending == "cancel":
            for _ in range(200):
                if (project / "pids.json").exists():
                    break
                await asyncio.sleep(0.02)
            await asyncio.wait_for(h.cancel(), 5)
        r = await asyncio.wait_for(h.wait(), 20)
        want = {"exit": None, "timeout": "timed out after 2 s", "cancel": "cancelled"}[ending]
        assert r.error == want, r.stderr_tail
        ns, *pids = json.loads((project / "pids.json").read_text())
        assert len(pids) == 3
        assert await wait_ns_gone(ns, pids) == []
    finally:
        await asyncio.wait_for(r0.aclose(), 10)


_APP = """
import asyncio, sys
from pathlib import Path
from nopflow.sandbox import ScriptRunner, ScriptSpec

async def main():
    runner = ScriptRunner(prefer=sys.argv[2])
    await runner.start(ScriptSpec(project_dir=Path(sys.argv[1]), code=sys.argv[3]))
    await asyncio.sleep(60)  # killed long before

asyncio.run(main())
"""


async def _wait_file(path: Path, proc: subprocess.Popen[bytes], within: float = 20) -> list:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            assert proc.poll() is None, "the app ended before its script wrote its pids"
            await asyncio.sleep(0.05)
    raise AssertionError(f"no {path.name} within {within} s")


def _zygote_of(app_pid: int) -> list[int]:
    """Host pids whose parent is `app_pid` (its zygote / workers)."""
    kids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2 :].split()[1]) == app_pid:
                kids.append(int(name))
    return kids


@pytest.mark.parametrize("prefer", ["zygote", "pool"])
async def test_daemons_die_when_the_app_is_killed(project: Path, prefer: str) -> None:
    """kill -9 of the app: the script, its setsid daemon and the daemon's child die."""
    out = project / "pids.json"
    code = PIDS_SNIPPET + f"OUT = {str(out)!r}\n" + textwrap.dedent(_DAEMON) + "time.sleep(60)\n"
    proc = subprocess.Popen([sys.executable, "-c", _APP, str(project), prefer, code], cwd=REPO)
    try:
        ns, *pids = await _wait_file(out, proc)
        helpers = _zygote_of(proc.pid)
        assert ns_alive(ns, pids) == pids  # all running before the kill
        proc.kill()
        proc.wait(10)
        assert await wait_ns_gone(ns, None, within=5) == []
        assert await _gone(helpers)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def _gone(pids: list[int], within: float = 5) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not [p for p in pids if Path(f"/proc/{p}").exists()]:
            return True
        await asyncio.sleep(0.05)
    return False


def _workflow(folder: Path, code: str) -> Path:
    doc = {
        "format": "nopflow/workflow", "version": 1, "id": "daemon-wf", "name": "Daemon",
        "nodes": [
            {"id": "start", "type": "start"},
            {"id": "py", "type": "python", "config": {"code": code, "timeout_s": 60}},
        ],
        "edges": [{"id": "e1", "source": "start", "source_port": "out", "target": "py"}],
    }  # fmt: skip
    path = folder / "flow.nopflow.json"
    path.write_text(json.dumps(doc))
    return path


async def test_kill_9_of_nopflow_run_leaves_no_process(project: Path, tmp_path: Path) -> None:
    """The CLI, as a user runs it, killed by SIGKILL mid-run: nothing of the run survives."""
    out = project / "pids.json"
    code = PIDS_SNIPPET + f"OUT = {str(out)!r}\n" + textwrap.dedent(_DAEMON) + "time.sleep(60)\n"
    wf = _workflow(project, code)
    env = {**os.environ, "NOPFLOW_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nopflow", "run", str(wf)], cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        ns, *pids = await _wait_file(out, proc, within=30)
        helpers = _zygote_of(proc.pid)
        assert helpers, "the CLI started no zygote?"
        assert ns_alive(ns, pids) == pids
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert await wait_ns_gone(ns, None, within=5) == []
        assert await _gone(helpers)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


# --------------------------------------------------------------------------- item 4
def _procs_with(marker: str) -> list[int]:
    """Host pids whose command line contains `marker`."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cmd = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmd:
                found.append(int(name))
    return found


def test_interpreter_check_is_confined_and_cleaned_up(tmp_path: Path, venv_python: str) -> None:
    """Validating settings.python runs it under the read-only mounts, with no writable
    directory, in its own PID namespace: chmod/touch outside fail, a background process
    it leaves dies with it."""
    victim = tmp_path / "victim.txt"
    victim.write_text("x")
    victim.chmod(0o644)
    before = victim.stat()
    marker = f"37.{os.getpid() % 10000:04d}{time.monotonic_ns() % 1000:03d}"
    wrapper = tmp_path / "py.sh"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"chmod 600 {victim} 2>/dev/null\n"
        f"touch -d 2001-01-01 {victim} 2>/dev/null\n"
        f"sleep {marker} &\n"
        f'exec {venv_python} "$@"\n'
    )
    wrapper.chmod(0o755)
    try:
        t0 = time.monotonic()
        assert validate_interpreter(str(wrapper)) is None
        assert time.monotonic() - t0 < 10  # not held up by the sleeper's stdout
        after = victim.stat()
        assert (after.st_mode, after.st_mtime) == (before.st_mode, before.st_mtime)
        deadline = time.monotonic() + 5
        while _procs_with(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _procs_with(marker) == []
    finally:
        for p in _procs_with(marker):
            os.kill(p, signal.SIGKILL)


async def test_user_interpreter_daemons_die_with_the_job(project: Path, venv_python: str) -> None:
    """A job run by a user-chosen interpreter: its setsid daemon dies when it ends."""
    code = PIDS_SNIPPET + "OUT = 'pids.json'\n" + textwrap.dedent(_DAEMON)
    r0 = ScriptRunner()
    try:
        r = await run(r0, project, code, python=venv_python)
        assert r.ok, (r.error, r.stderr_tail)
        ns, *pids = json.loads((project / "pids.json").read_text())
        assert ns != os.readlink("/proc/self/ns/pid")
        assert await wait_ns_gone(ns, pids) == []
    finally:
        await asyncio.wait_for(r0.aclose(), 10)
