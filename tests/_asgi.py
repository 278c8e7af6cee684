"""A raw ASGI driver for edge cases: exact header bytes, chosen chunking, disconnects."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message


@dataclass
class Outcome:
    """What the server saw: the messages sent, and what the app was given."""

    sent: list[Message] = field(default_factory=list)
    app_calls: int = 0
    app_body: bytes | None = None
    app_scope: dict[str, Any] | None = None

    @property
    def status(self) -> int | None:
        for message in self.sent:
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                return int(message["status"])
        return None

    @property
    def headers(self) -> dict[bytes, bytes]:
        for message in self.sent:
            if message["type"].endswith("response.start"):
                return dict(message["headers"])
        return {}

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"].endswith("body"))

    def json(self) -> Any:
        return json.loads(self.body)


def http_scope(headers: list[tuple[bytes, bytes]], path: str = "/", **extra: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        **extra,
    }


def recording_app(outcome: Outcome) -> ASGIApp:
    """An app that reads the whole body, records it, and answers 200."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        outcome.app_calls += 1
        outcome.app_scope = scope
        body = b""
        while True:
            message = await receive()
            assert message["type"] == "http.request"
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        outcome.app_body = body
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def drive(
    app: ASGIApp, scope: dict[str, Any], messages: list[Message], outcome: Outcome
) -> Outcome:
    """Run ``app`` with the given incoming messages; then ``http.disconnect`` forever."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        outcome.sent.append(message)

    await app(scope, receive, send)
    return outcome


def chunks(body: bytes, size: int) -> list[Message]:
    """``body`` as http.request messages of ``size`` bytes (one empty one for b"")."""
    if not body:
        return [{"type": "http.request", "body": b"", "more_body": False}]
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
