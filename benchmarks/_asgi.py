"""An in-process ASGI "server": uvicorn-like scopes, 64 KiB body messages, no network.

The signing here is written out from the pinned wire format (DESIGN.md §2) rather
than imported from ``hmac_asgi``, so the benchmark does not trust the code it measures.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message

from hmac_asgi import create_signature

__all__ = ["CHUNK", "CLIENT_ID", "SECRET", "Exchange", "Headers", "human_size", "make_body", "sign"]

CHUNK = 64 * 1024
SECRET = "benchmark-secret-0123456789abcdef-0123456789abcdef"  # >= 32 bytes: no warning
CLIENT_ID = uuid.UUID("6f1c8a52-4b0e-4d3a-9c57-2b8e7f0d1a94")

Headers = list[tuple[bytes, bytes]]


def make_body(size: int) -> bytes:
    """``size`` bytes of ASCII (HMAC cost does not depend on the content)."""
    return (b"0123456789abcdef" * (size // 16 + 1))[:size]


def human_size(size: int) -> str:
    """``16 MiB``, ``1 KiB``, ``0 B``."""
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} B"


def sign(body: bytes, *, secret: str = SECRET, client_id: uuid.UUID = CLIENT_ID) -> Headers:
    """The three auth headers for ``body``, timestamped now, signed by the one primitive."""
    timestamp = f"{time.time()}"
    signature = create_signature(secret, body, client_id, timestamp)
    return [
        (b"authorization", b"Signature " + signature.encode("ascii")),
        (b"x-client-id", str(client_id).encode("ascii")),
        (b"x-request-timestamp", timestamp.encode("ascii")),
    ]


def _scope(path: str, headers: Headers) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "POST",
        "root_path": "",
        "path": path,
        "raw_path": path.encode("ascii"),
        "query_string": b"",
        "headers": headers,
    }


class Exchange:
    """One prepared POST: each call is a fresh request, as uvicorn would make it.

    Fresh scope, headers list and ``state`` per call; the body arrives as fresh
    64 KiB ``http.request`` slices; after the body, ``receive`` waits for the
    response to complete and then says ``http.disconnect`` (uvicorn's behaviour);
    ``send`` keeps only the status (and, when asked, the body).
    """

    def __init__(self, app: ASGIApp, body: bytes, auth: Headers, path: str = "/echo") -> None:
        self.app = app
        self.body = body
        headers = [
            (b"host", b"127.0.0.1:8000"),
            (b"user-agent", b"hmac-asgi-bench"),
            (b"accept", b"*/*"),
            (b"content-type", b"application/octet-stream"),
            (b"content-length", str(len(body)).encode("ascii")),
            *auth,
        ]
        self._template = _scope(path, headers)
        self._headers = headers

    async def __call__(self, keep_body: bool = False) -> tuple[int, bytes]:
        """Run one request; returns ``(status, response body or b"")``."""
        body, size = self.body, len(self.body)
        pos = 0
        body_sent = response_complete = False
        status = 0
        chunks: list[bytes] = []
        waiter: asyncio.Future[None] | None = None

        async def receive() -> Message:
            nonlocal pos, body_sent, waiter
            if not body_sent:
                end = pos + CHUNK
                chunk = body[pos:end]
                pos = end
                body_sent = end >= size
                return {"type": "http.request", "body": chunk, "more_body": not body_sent}
            if not response_complete:
                waiter = asyncio.get_running_loop().create_future()
                await waiter
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status, response_complete
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
            elif kind == "http.response.body":
                if keep_body:
                    chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    response_complete = True
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)

        scope = dict(self._template)
        scope["headers"] = list(self._headers)
        scope["state"] = {}
        await self.app(scope, receive, send)
        return status, b"".join(chunks)
