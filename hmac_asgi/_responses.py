"""Sending a failure as raw ASGI messages: 401/413/503 JSON, or a refused handshake."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import Scope, Send

from ._errors import AuthException

__all__ = ["send_failure"]

# RFC 6455 close code "policy violation": the closest to "not authorised".
_WS_POLICY_VIOLATION = 1008


async def send_failure(
    scope: Scope, send: Send, exc: AuthException, extra: Mapping[str, str] | None = None
) -> None:
    """Answer ``exc`` (plus ``extra`` headers) on this connection; the app is never called."""
    body = exc.json_body()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    headers += [
        (k.lower().encode("latin-1"), v.encode("latin-1"))
        for k, v in {**(exc.headers or {}), **(extra or {})}.items()
    ]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif "websocket.http.response" in (scope.get("extensions") or {}):
        # The server can answer the handshake with a real HTTP response: use it,
        # so a WebSocket client sees the same 401 JSON as an HTTP one.
        await send(
            {"type": "websocket.http.response.start", "status": exc.status_code, "headers": headers}
        )
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        # Close before accept: the server refuses the handshake (uvicorn sends 403).
        await send(
            {"type": "websocket.close", "code": _WS_POLICY_VIOLATION, "reason": exc.detail or ""}
        )
