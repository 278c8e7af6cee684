"""`make demo`: serve examples/app.py with uvicorn on 127.0.0.1, call it signed and unsigned.

Prints both answers, stops the server, and exits non-zero unless the signed call
got 200 and the unsigned one 401.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from hmac_asgi import HMACSigningTransport

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from app import DEMO_CLIENT_ID, DEV_SECRET  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"uvicorn exited early with code {server.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("uvicorn did not come up within 20 s")


def show(label: str, response: httpx.Response) -> None:
    print(f"--- {label}: {response.request.method} {response.request.url.path}")
    for name in ("Authorization", "X-Client-Id", "X-Request-Timestamp"):
        if name in response.request.headers:
            print(f"    {name}: {response.request.headers[name]}")
    print(f"    -> {response.status_code} {json.dumps(response.json())}")


def main() -> int:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    print(f"Serving examples/app.py with uvicorn on {url} (development secret, demo only)")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(HERE),
            "app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
    )
    try:
        wait_until_up(url, server)
        order = {"item": "widget", "quantity": 3}
        transport = HMACSigningTransport(secret_key=DEV_SECRET, client_id=DEMO_CLIENT_ID)
        with httpx.Client(base_url=url, transport=transport) as signed_client:
            signed = signed_client.post("/orders", json=order)
        unsigned = httpx.post(f"{url}/orders", json=order)
        show("signed call", signed)
        show("unsigned call", unsigned)
    finally:
        server.terminate()
        server.wait(10)
    print("Server stopped.")
    ok = signed.status_code == 200 and unsigned.status_code == 401
    print("Demo OK: signed 200, unsigned 401." if ok else "Demo FAILED.")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
