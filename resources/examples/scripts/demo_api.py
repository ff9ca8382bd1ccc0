"""A small JSON web API on 127.0.0.1 that stands in for a real one in web-api.nopflow.json.

It listens on a free port, writes the port to .demo-api-port for the "Wait for the API"
step, and serves until a POST /shutdown (or 120 s without one). It prints on stdout what it
served, so the run shows the requests the HTTP steps made.
"""

import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PORT_FILE = Path(".demo-api-port")
STATIONS = [
    {"id": "oslo", "city": "Oslo", "country": "NO", "temp_c": 4.5, "wind_kmh": 12},
    {"id": "lisbon", "city": "Lisbon", "country": "PT", "temp_c": 17.2, "wind_kmh": 20},
    {"id": "cairo", "city": "Cairo", "country": "EG", "temp_c": 24.8, "wind_kmh": 9},
    {"id": "reykjavik", "city": "Reykjavik", "country": "IS", "temp_c": 1.3, "wind_kmh": 31},
    {"id": "singapore", "city": "Singapore", "country": "SG", "temp_c": 30.1, "wind_kmh": 7},
    {"id": "quito", "city": "Quito", "country": "EC", "temp_c": 13.9, "wind_kmh": 11},
]
served: list[str] = []
reports: list[object] = []


class Api(BaseHTTPRequestHandler):
    def log_message(self, fmt: str, *args: object) -> None:
        print(f"demo API: {self.command} {self.path}", file=sys.stderr, flush=True)

    def _send(self, status: int, doc: object) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        served.append(f"GET {url.path}")
        if url.path != "/stations":
            self._send(404, {"error": f"no such resource: {url.path}"})
            return
        query = parse_qs(url.query)
        warmer = float(query.get("min_temp", ["-100"])[0])
        self._send(200, [s for s in STATIONS if s["temp_c"] >= warmer])

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        served.append(f"POST {url.path}")
        length = int(self.headers.get("Content-Length") or 0)
        doc = json.loads(self.rfile.read(length) or b"null")
        if url.path == "/reports":
            reports.append(doc)
            self._send(201, {"id": len(reports), "stations": len(doc.get("stations", []))})
        elif url.path == "/shutdown":
            self._send(200, {"bye": True})
            threading.Thread(target=self.server.shutdown, daemon=True).start()
        else:
            self._send(404, {"error": f"no such resource: {url.path}"})


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # cancelled: still clean up
    idle = threading.Timer(120, server.shutdown)
    idle.daemon = True  # it must not keep the step alive after /shutdown
    idle.start()
    tmp = PORT_FILE.with_suffix(".tmp")
    tmp.write_text(str(server.server_address[1]))
    os.replace(tmp, PORT_FILE)
    print(f"demo API listening on 127.0.0.1:{server.server_address[1]}", file=sys.stderr,
          flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        PORT_FILE.unlink(missing_ok=True)
    print(json.dumps({"requests": served, "reports": len(reports)}))


if __name__ == "__main__":
    main()
