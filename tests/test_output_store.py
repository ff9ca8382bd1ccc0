"""The output store (docs/partial-runs.md): atomic writes, damaged entries, the size bound."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from nopflow.storage.outputs import OutputStore, max_bytes

WRITER = """
import sys
from nopflow.storage.outputs import OutputStore
OutputStore(sys.argv[1]).put("wf", [{"row": i, "text": "y" * 200} for i in range(3_000_000)])
"""


def objects(root: Path) -> list[Path]:
    return sorted(root.glob("*/objects/*/*.json"))


def test_kill_during_a_write_leaves_no_entry(tmp_path: Path) -> None:
    root = tmp_path / "outputs"
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(root)])
    try:
        deadline = time.monotonic() + 60
        temps: list[Path] = []
        while time.monotonic() < deadline:
            temps = [t for t in root.glob("*/objects/.tmp-*") if t.stat().st_size > 1 << 20]
            if temps:
                break
            assert child.poll() is None, "the writer ended before it could be killed"
            time.sleep(0.02)
        assert temps, "no temp file appeared"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    assert objects(root) == []  # nothing half-written under an object name
    store = OutputStore(root)
    old = time.time() - 3600
    for t in temps:
        os.utime(t, (old, old))
    store.collect(lambda _wf: set(), bound=max_bytes())
    assert list(root.glob("*/objects/.tmp-*")) == []
    digest, _size = store.put("wf", {"ok": True})
    assert store.get("wf", digest) == (True, {"ok": True})


def test_damaged_object_is_ignored_with_a_warning(tmp_path: Path) -> None:
    store = OutputStore(tmp_path / "outputs")
    digest, _ = store.put("wf", {"value": 1})
    (path,) = objects(tmp_path / "outputs")
    path.write_text('{"value": 2}')
    assert store.get("wf", digest) == (False, None)
    assert any("damaged" in w and str(path) in w for w in store.warnings)
    assert not path.exists()
    # a seed falls back to an older run that has a sound copy
    good, _ = store.put("wf", {"value": 3})
    store.write_manifest("wf", "new", {"a": {"digest": digest}}, {})
    store.write_manifest("wf", "old", {"a": {"digest": good}}, {})
    seed = store.seed_finder("wf", ["new", "old"])("a")
    assert seed is not None and seed.run_id == "old" and seed.output == {"value": 3}


def test_damaged_manifest_is_ignored(tmp_path: Path) -> None:
    store = OutputStore(tmp_path / "outputs")
    man = store.write_manifest("wf", "r1", {}, {})
    man.write_text("{not json")
    assert store.kept_nodes("wf", "r1") == {}
    assert any("damaged" in w for w in store.warnings)


def test_bound_drops_least_recently_used_but_never_a_kept_run(tmp_path: Path) -> None:
    store = OutputStore(tmp_path / "outputs")
    values = [{"n": i, "pad": "z" * 10_000} for i in range(6)]
    digests = []
    for i, v in enumerate(values):
        d, _ = store.put("wf", v)
        digests.append(d)
        stamp = time.time() - 1000 + i  # put order = use order
        path = store.folder("wf") / "objects" / d[:2] / f"{d}.json"
        os.utime(path, (stamp, stamp))
    # run r0 (still in history) keeps the oldest object; reading object 1 makes it recent
    store.write_manifest("wf", "r0", {"a": {"digest": digests[0]}}, {})
    assert store.get("wf", digests[1])[0]
    # a run that left history: its manifest goes, its object is fair game
    gone = store.write_manifest("wf", "gone", {"a": {"digest": digests[2]}}, {})
    os.utime(gone, (time.time() - 3600,) * 2)
    size = store.total_bytes() // 6
    freed = store.collect(lambda _wf: {"r0"}, bound=3 * size + 10)
    assert freed >= 3 * size
    left = {p.stem for p in objects(tmp_path / "outputs")}
    assert digests[0] in left  # named by a run in history: never dropped
    assert digests[1] in left  # used most recently
    assert digests[2] not in left and digests[3] not in left
    assert not gone.exists()
    assert store.total_bytes() <= 3 * size + 10


def test_bound_is_a_setting(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert max_bytes() == 1024 * 2**20
    config = Path(os.environ["NOPFLOW_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "nopflow.ini").write_text("[outputs]\nmax_mb=5\n")
    assert max_bytes() == 5 * 2**20
    monkeypatch.setenv("NOPFLOW_OUTPUT_STORE_MB", "2")
    assert max_bytes() == 2 * 2**20


def test_output_is_streamed_with_its_digest(tmp_path: Path) -> None:
    store = OutputStore(tmp_path / "outputs")
    value = {"text": "é\ud800", "nan": float("nan"), "list": list(range(100_000))}
    digest, size = store.put("wf", value)
    (path,) = objects(tmp_path / "outputs")
    assert path.stat().st_size == size and path.stem == digest
    ok, back = store.get("wf", digest)
    assert ok and back["text"] == "é\ud800" and back["list"] == value["list"]
    assert json.loads(path.read_text())["list"][-1] == 99_999
