"""A real Secret Service for credential tests: a private D-Bus session with gnome-keyring.

Each test that asks for `secret_service` gets its own session bus and an unlocked
gnome-keyring-daemon in a temporary HOME, exactly what a user's desktop provides; the
environment it returns points `keyring` (in this process and in CLI subprocesses) at it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL_HINT = "apt-get install dbus gnome-keyring (the Secret Service used by the tests)"


def _need(binary: str) -> str:
    found = shutil.which(binary)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{binary} not found: {INSTALL_HINT}")
        pytest.skip(f"{binary} not found: {INSTALL_HINT}")
    return found


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def secret_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Start dbus-daemon + an unlocked gnome-keyring; yields the environment to use."""
    dbus = _need("dbus-daemon")
    gkd = _need("gnome-keyring-daemon")
    home = tmp_path / "home"
    (home / ".local" / "share").mkdir(parents=True)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    bus = subprocess.Popen(
        [dbus, "--session", "--nofork", "--nopidfile", "--print-address=1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    keyring_proc: subprocess.Popen[bytes] | None = None
    try:
        assert bus.stdout is not None
        address = bus.stdout.readline().decode().strip()
        assert address, "dbus-daemon printed no address"
        env = {
            "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "DBUS_SESSION_BUS_ADDRESS": address,
        }
        keyring_proc = subprocess.Popen(
            [gkd, "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, **env})
        assert keyring_proc.stdin is not None
        keyring_proc.stdin.write(b"test-login-password")
        keyring_proc.stdin.close()
        _wait_for_secret_service(env)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        _reset_keyring_backend()
        yield env
    finally:
        if keyring_proc is not None:
            _stop(keyring_proc)
        _stop(bus)


def _reset_keyring_backend() -> None:
    """`keyring` picks its backend once per process: pick again for this test's bus."""
    import keyring.core

    keyring.core.init_backend()


def _wait_for_secret_service(env: dict[str, str], timeout: float = 15.0) -> None:
    """Until the keyring answers a real round trip through the `keyring` library."""
    probe = (
        "import keyring; keyring.set_password('nopflow-probe','u','probe');"
        "assert keyring.get_password('nopflow-probe','u')=='probe';"
        "keyring.delete_password('nopflow-probe','u')"
    )
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        proc = subprocess.run([sys.executable, "-c", probe], env={**os.environ, **env},
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode == 0:
            return
        last = proc.stderr.strip().splitlines()[-1:] or [""]
        time.sleep(0.2)
    pytest.fail(f"the Secret Service did not come up: {last}")
