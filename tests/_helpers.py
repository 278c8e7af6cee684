"""Test helpers: signed headers, a tiny echo app, a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import uvicorn
from _secrets import secret

from hmac_asgi import create_signature

SECRET = secret("destiny client")
CLIENT_ID = uuid.UUID("6234ddc9-6b49-4e45-9c0f-e91d2c381222")


def signed_headers(
    body: bytes = b"",
    *,
    secret: str = SECRET,
    client_id: uuid.UUID | str = CLIENT_ID,
    timestamp: float | str | None = None,
) -> dict[str, str]:
    """The three headers for ``body``, signed now (or at ``timestamp``)."""
    ts = f"{time.time()}" if timestamp is None else str(timestamp)
    return {
        "Authorization": f"Signature {create_signature(secret, body, client_id, ts)}",
        "X-Client-Id": str(client_id),
        "X-Request-Timestamp": ts,
    }


async def read_body(receive: Any) -> bytes:
    """What a raw ASGI app reads: every body message up to the last."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    """Raw ASGI app: answers JSON with the body it read and the verified client id."""
    assert scope["type"] == "http"
    body = await read_body(receive)
    state = scope.get("state", {})
    payload = json.dumps(
        {"client_id": str(state.get("hmac_client_id")), "body_len": len(body)}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"x-body-echo", b"1")],
        }
    )
    await send({"type": "http.response.body", "body": payload + b"\n" + body})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(app: Any, **config: Any) -> Iterator[str]:
    """Run ``app`` under a real uvicorn on 127.0.0.1 in a thread; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **config)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
