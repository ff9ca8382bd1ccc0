"""Wait until the demo API of web-api.nopflow.json listens; print its base URL.

The port file may be left over from an earlier run, so a port counts only once something
accepts connections on it.
"""

import json
import socket
import sys
import time
from pathlib import Path

PORT_FILE = Path(".demo-api-port")
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    try:
        port = int(PORT_FILE.read_text())
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            break
    except (OSError, ValueError):
        time.sleep(0.05)
else:
    sys.exit("the demo API did not start within 20 s (see the 'Demo API' step's log)")
print(json.dumps({"base_url": f"http://127.0.0.1:{port}"}))
