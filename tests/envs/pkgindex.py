"""Tiny wheels built in the test and a real PEP 503 package index serving them on 127.0.0.1.

No network: uv resolves and downloads from this server exactly as from PyPI.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import threading
import zipfile
from collections.abc import Iterator, Mapping
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(
        b"=").decode()


def make_wheel(folder: Path, name: str, version: str, files: Mapping[str, str],
               requires: tuple[str, ...] = ()) -> Path:
    """A pure-Python wheel `name-version-py3-none-any.whl` holding `files` (path → text)."""
    dist = re.sub(r"[-_.]+", "_", name)
    info = f"{dist}-{version}.dist-info"
    meta = "Metadata-Version: 2.1\n" f"Name: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires)
    wheel = ("Wheel-Version: 1.0\nGenerator: nopflow-tests\nRoot-Is-Purelib: true\n"
             "Tag: py3-none-any\n")
    entries = {**files, f"{info}/METADATA": meta, f"{info}/WHEEL": wheel}
    record = "".join(f"{p},{_digest(t.encode())},{len(t.encode())}\n" for p, t in entries.items())
    entries[f"{info}/RECORD"] = record + f"{info}/RECORD,,\n"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for p, text in entries.items():
            zf.writestr(p, text)
    return path


class _Handler(SimpleHTTPRequestHandler):
    """`/simple/` and `/simple/<name>/` pages generated from the wheels in the folder."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        root = Path(self.directory)
        wheels = sorted(root.glob("*.whl"))
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        if parts[:1] == ["simple"]:
            names = {re.sub(r"[-_.]+", "-", w.name.split("-")[0]).lower() for w in wheels}
            if len(parts) == 1:
                body = "".join(f'<a href="/simple/{n}/">{n}</a>\n' for n in sorted(names))
            elif parts[1] in names:
                body = "".join(
                    f'<a href="/files/{html.escape(w.name)}#sha256='
                    f'{hashlib.sha256(w.read_bytes()).hexdigest()}">{html.escape(w.name)}</a>\n'
                    for w in wheels
                    if re.sub(r"[-_.]+", "-", w.name.split("-")[0]).lower() == parts[1])
            else:
                self.send_error(404)
                return
            data = f"<!DOCTYPE html><html><body>\n{body}</body></html>\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if parts[:1] == ["files"] and len(parts) == 2:
            self.path = "/" + parts[1]
            super().do_GET()
            return
        self.send_error(404)


class PackageIndex:
    """A running index over `folder`'s wheels; `url` is its /simple/ address."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.requests = 0
        handler = partial(_Handler, directory=str(folder))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# fixtures (imported by the conftest and the editor's package tests)


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    make_wheel(folder, "tinycalc", "1.0",
               {"tinycalc/__init__.py": "def double(x):\n    return 2 * x\n"})
    make_wheel(folder, "tinycalc", "1.1", {
        "tinycalc/__init__.py": "def double(x):\n    return x + x\nVERSION = '1.1'\n"})
    make_wheel(folder, "tinyfmt", "2.0", {"tinyfmt.py": "import tinycalc\n"
                                          "def show(x):\n    return f'<{tinycalc.double(x)}>'\n"},
               requires=("tinycalc>=1",))
    return folder


@pytest.fixture
def index(wheels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PackageIndex]:
    """A real index on 127.0.0.1; uv (in this process and in children) uses only it."""
    idx = PackageIndex(wheels)
    monkeypatch.setenv("UV_INDEX_URL", idx.url)
    monkeypatch.setenv("UV_DEFAULT_INDEX", idx.url)
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")  # a stopped index fails at once
    monkeypatch.delenv("UV_OFFLINE", raising=False)
    yield idx
    idx.stop()
