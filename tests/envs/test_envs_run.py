"""Scripts that declare packages, run by `nopflow run` as a user runs it: real uv, real
installs from a real index on 127.0.0.1, the lock beside the workflow, the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pkgindex import PackageIndex, make_wheel


def header(*deps: str) -> str:
    return "# /// script\n# dependencies = [" + ", ".join(f'"{d}"' for d in deps) + "]\n# ///\n"


SHOW = "import json, sys, tinyfmt\nprint(json.dumps({'s': tinyfmt.show(21)}))\n"
VERSION = ("import json, tinycalc\n"
           "print(json.dumps({'v': getattr(tinycalc, 'VERSION', '1.0')}))\n")


def write_flow(folder: Path, codes: dict[str, str]) -> Path:
    nodes = [{"id": "start", "type": "start"}] + [
        {"id": nid, "type": "python", "config": {"code": code}} for nid, code in codes.items()]
    edges = [{"id": f"e{i}", "source": "start", "source_port": "out", "target": nid}
             for i, nid in enumerate(codes)]
    path = folder / "flow.nopflow.json"
    path.write_text(json.dumps({"format": "nopflow/workflow", "version": 1, "id": "pk-flow",
                                "name": "packages", "nodes": nodes, "edges": edges}))
    return path


def nopflow(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nopflow", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def run_json(flow: Path) -> tuple[dict[str, Any], str]:
    proc = nopflow("run", str(flow), "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def envs() -> list[dict[str, Any]]:
    proc = nopflow("envs", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_header_builds_an_environment_before_the_run_and_the_script_uses_it(
        index: PackageIndex, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, {"p": header("tinyfmt") + SHOW})
    result, stderr = run_json(flow)
    assert result["nodes"]["p"]["output"] == {"s": "<42>"}
    # one progress line per step, all before the first node starts
    build = stderr.index("packages: building environment")
    assert stderr.index("packages: resolving tinyfmt (node p)") < build
    assert build < stderr.index("start running")
    assert "tinycalc==1.1, tinyfmt==2.0" in stderr
    lock = json.loads((tmp_path / "flow.nopflow.lock").read_text())
    (entry,) = lock["environments"].values()
    assert entry["dependencies"] == ["tinyfmt"]
    assert entry["requirements"][0] == "tinycalc==1.1 \\"
    assert entry["requirements"][1].strip().startswith("--hash=sha256:")


def test_identical_sets_share_one_environment_and_a_second_run_builds_nothing(
        index: PackageIndex, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, {"a": header("tinyfmt") + SHOW,
                                 "b": header("tinyfmt") + "import sys\n" + SHOW,
                                 "c": header("tinycalc") + VERSION})
    result, stderr = run_json(flow)
    assert stderr.count("packages: building environment") == 2
    assert "for nodes a, b" in stderr
    assert result["nodes"]["b"]["output"] == {"s": "<42>"}
    assert len(envs()) == 2
    result, stderr = run_json(flow)
    assert "packages:" not in stderr
    assert result["nodes"]["c"]["output"] == {"v": "1.1"}


def test_the_lock_keeps_versions_until_nopflow_lock_refreshes_it(
        index: PackageIndex, tmp_path: Path) -> None:
    (index.folder / "tinycalc-1.1-py3-none-any.whl").unlink()
    flow = write_flow(tmp_path, {"p": header("tinycalc") + VERSION})
    assert run_json(flow)[0]["nodes"]["p"]["output"] == {"v": "1.0"}
    make_wheel(index.folder, "tinycalc", "1.1", {"tinycalc/__init__.py": "VERSION = '1.1'\n"})
    # next month, with a newer release on the index: the locked version still
    assert run_json(flow)[0]["nodes"]["p"]["output"] == {"v": "1.0"}
    proc = nopflow("lock", str(flow))
    assert proc.returncode == 0, proc.stderr
    assert "flow.nopflow.lock: 1 environment (tinycalc==1.1)" in proc.stderr
    result, stderr = run_json(flow)
    assert result["nodes"]["p"]["output"] == {"v": "1.1"}
    assert "packages: building environment" in stderr and "resolving" not in stderr


def test_validate_reports_a_lock_that_no_longer_matches_the_header(
        index: PackageIndex, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, {"p": header("tinycalc") + VERSION})
    assert nopflow("lock", str(flow)).returncode == 0
    assert nopflow("validate", str(flow)).returncode == 0
    write_flow(tmp_path, {"p": header("tinycalc", "tinyfmt") + VERSION})
    proc = nopflow("validate", str(flow))
    assert proc.returncode == 2
    assert ("node p: flow.nopflow.lock has no entry for its packages (tinycalc, tinyfmt): "
            f"run `nopflow lock {flow}`") in proc.stdout


def test_a_bad_header_is_a_problem_naming_the_node_and_line(tmp_path: Path) -> None:
    flow = write_flow(tmp_path, {"p": '# /// script\n# dependencies = ["tiny calc"]\n# ///\n'})
    proc = nopflow("validate", str(flow))
    assert proc.returncode == 2
    assert "node p" in proc.stdout and "config.code: line 1: dependency 'tiny calc'" in proc.stdout


def test_an_unknown_package_names_node_and_package_and_nothing_runs(
        index: PackageIndex, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, {"p": header("tinyfmt") + SHOW,
                                 "q": header("nosuchpkg") + "print('{}')\n"})
    proc = nopflow("run", str(flow))
    assert proc.returncode == 1
    assert "node q: package nosuchpkg could not be resolved" in proc.stderr
    assert "nothing was run" in proc.stderr and "start running" not in proc.stderr
    assert not (tmp_path / "flow.nopflow.lock").exists()  # no half-written lock
    assert nopflow("history", str(flow), "--json").stdout.strip() in ("[]", "")


def test_no_matching_version_and_no_network_are_clear_errors(
        index: PackageIndex, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, {"p": header("tinycalc>=9") + VERSION})
    proc = nopflow("run", str(flow))
    assert proc.returncode == 1
    assert "node p: package tinycalc could not be resolved" in proc.stderr
    assert "tinycalc>=9" in proc.stderr
    index.stop()
    write_flow(tmp_path, {"p": header("tinycalc") + VERSION})
    proc = nopflow("run", str(flow))
    assert proc.returncode == 1
    assert ("node p: package tinycalc could not be resolved: the package index could not be "
            "reached (no network?)") in proc.stderr


def test_offline_with_a_warm_cache_works(index: PackageIndex, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, {"p": header("tinyfmt") + SHOW})
    run_json(flow)
    index.stop()  # no index from here on
    assert run_json(flow)[0]["nodes"]["p"]["output"] == {"s": "<42>"}
    # even with the environment gone, the lock and uv's cache rebuild it offline
    assert nopflow("envs", "prune", "--all").returncode == 0
    assert envs() == []
    result, stderr = run_json(flow)
    assert result["nodes"]["p"]["output"] == {"s": "<42>"}
    assert "packages: building environment" in stderr


def test_envs_list_and_prune_by_age_and_size(index: PackageIndex, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, {"a": header("tinyfmt") + SHOW, "b": header("tinycalc") + VERSION})
    run_json(flow)
    listed = envs()
    assert sorted(e["packages"] for e in listed) == [
        ["tinycalc==1.1"], ["tinycalc==1.1", "tinyfmt==2.0"]]
    old = next(e for e in listed if e["dependencies"] == ["tinycalc"])
    stamp = Path(old["path"]) / "last-used"
    os.utime(stamp, (time.time() - 40 * 86400,) * 2)
    dry = nopflow("envs", "prune", "--dry-run")
    assert f"would remove {old['key']} (tinycalc==1.1)" in dry.stdout
    assert len(envs()) == 2
    proc = nopflow("envs", "prune")
    assert f"removed {old['key']}" in proc.stdout and not Path(old["path"]).exists()
    assert [e["dependencies"] for e in envs()] == [["tinyfmt"]]
    # over the size bound, environments used within the hour stay (a run may use them)
    assert "removed 0 environments" in nopflow("envs", "prune", "--max-size", "0").stderr
    (remaining,) = envs()
    os.utime(Path(remaining["path"]) / "last-used", (time.time() - 2 * 3600,) * 2)
    assert f"removed {remaining['key']}" in nopflow("envs", "prune", "--max-size", "0").stdout


def test_a_dependencys_own_code_runs_inside_the_sandbox(index: PackageIndex,
                                                        tmp_path: Path) -> None:
    outside = tmp_path.parent / f"outside-{os.getpid()}.txt"
    make_wheel(index.folder, "sneaky", "1.0", {"sneaky.py": (
        "def leak(path):\n    with open(path, 'w') as fh:\n        fh.write('escaped')\n")})
    project = tmp_path / "project"
    project.mkdir()
    flow = write_flow(project, {"p": header("sneaky") + (
        f"import sneaky\nsneaky.leak({str(outside)!r})\nprint('{{}}')\n")})
    proc = nopflow("run", str(flow), "--json")
    assert proc.returncode == 1, proc.stderr
    error = json.loads(proc.stdout)["nodes"]["p"]["error"]
    assert "write outside the project directory refused" in error
    assert not outside.exists()


def test_a_dependencys_pth_file_runs_only_confined(index: PackageIndex, tmp_path: Path) -> None:
    """Environments get a zygote of their own, started without site: a `.pth` line runs
    only in the confined job, where writing outside the project is refused."""
    outside = tmp_path.parent / f"pth-outside-{os.getpid()}.txt"
    make_wheel(index.folder, "pthpkg", "1.0", {
        "pthpkg.py": "", "pthpkg.pth": f"import os; open({str(outside)!r}, 'w').write('x')\n"})
    project = tmp_path / "project"
    project.mkdir()
    flow = write_flow(project, {"p": header("pthpkg") + (
        "import json, sys, pthpkg\nprint(json.dumps({'site': any('site-packages' in p "
        "for p in sys.path)}))\n")})
    proc = nopflow("run", str(flow), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["nodes"]["p"]["output"] == {"site": True}
    assert not outside.exists()


def test_requires_python_that_the_interpreter_does_not_meet_is_a_clear_error(
        index: PackageIndex, tmp_path: Path) -> None:
    code = ('# /// script\n# requires-python = ">=3.99"\n# dependencies = ["tinycalc"]\n'
            "# ///\n" + VERSION)
    flow = write_flow(tmp_path, {"p": code})
    proc = nopflow("run", str(flow))
    assert proc.returncode == 1
    mine = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert (f"node p: the script needs Python >=3.99, the interpreter is {mine}: set "
            "settings.python to a matching one") in proc.stderr
