"""The reference floors, deliberately not importing hmac_asgi: what it is measured against.

:class:`FloorSketch` makes the same checks in the fewest steps: the three headers
in one pass, the same regular expressions, freshness both ways, OpenSSL's keyed
HMAC copied (``hmac.HMAC._hmac``, a private name) and fed the body as it arrives,
a constant-time compare. No rotation, replay cache, limits, websocket or error
catalogue: not a product, but about the least a pure-Python verifier of this
wire format can cost. :class:`BufferAndHash` is less still: no header read.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SIGNATURE = re.compile(rb"Signature ([0-9a-f]{64})")
_CLIENT_ID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_TIMESTAMP = re.compile(rb"[0-9]{1,15}(?:\.[0-9]{1,30})?")
_UNAUTHORIZED = [(b"content-type", b"application/json"), (b"www-authenticate", b"Signature")]


def _keyed(secret_key: str) -> Any:
    """OpenSSL's keyed HMAC object inside ``hmac.HMAC``: copying it skips a Python layer."""
    return hmac.new(secret_key.encode(), digestmod=hashlib.sha256)._hmac  # type: ignore[attr-defined]


async def _refuse(send: Send) -> None:
    await send({"type": "http.response.start", "status": 401, "headers": _UNAUTHORIZED})
    await send({"type": "http.response.body", "body": b'{"detail": "Signature is invalid."}'})


class FloorSketch:
    """The fewest steps that make the same checks as the middleware (see above)."""

    def __init__(self, app: ASGIApp, secret_key: str, max_age: float = 300.0) -> None:
        self.app = app
        self._mac = _keyed(secret_key)
        self._max_age = max_age

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in (b"authorization", b"x-client-id", b"x-request-timestamp"):
                if name in found:
                    await _refuse(send)
                    return
                found[name] = value
        signature = _SIGNATURE.fullmatch(found.get(b"authorization", b""))
        client_id = found.get(b"x-client-id", b"")
        stamp = found.get(b"x-request-timestamp", b"")
        if not (signature and _CLIENT_ID.fullmatch(client_id) and _TIMESTAMP.fullmatch(stamp)):
            await _refuse(send)
            return
        timestamp = float(stamp)
        if abs(time.time() - timestamp) > self._max_age:
            await _refuse(send)
            return
        uid = object.__new__(uuid.UUID)
        object.__setattr__(uid, "int", int(client_id.replace(b"-", b""), 16))
        object.__setattr__(uid, "is_safe", uuid.SafeUUID.unknown)
        mac = self._mac.copy()
        messages: list[Message] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            mac.update(message.get("body", b""))
            messages.append(message)
            if not message.get("more_body", False):
                break
        mac.update(b":" + uid.bytes + b":" + repr(timestamp).encode())
        if not hmac.compare_digest(mac.hexdigest().encode(), signature[1]):
            await _refuse(send)
            return
        scope.setdefault("state", {})["hmac_client_id"] = uid
        pending = iter(messages)

        async def replay() -> Message:
            return next(pending, None) or await receive()

        await self.app(scope, replay, send)


class BufferAndHash:
    """Buffer the body and replay it (what any middleware that reads the body first pays),
    and with a ``secret_key`` also its keyed HMAC and a compare; no header is read."""

    def __init__(self, app: ASGIApp, secret_key: str | None = None) -> None:
        self.app = app
        self._mac = _keyed(secret_key) if secret_key is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        mac = self._mac.copy() if self._mac is not None else None
        messages: list[Message] = []
        while True:
            message = await receive()
            if mac is not None:
                mac.update(message.get("body", b""))
            messages.append(message)
            if not message.get("more_body", False):
                break
        if mac is not None:
            mac.update(b":0123456789abcdef:1700000000.0")
            hmac.compare_digest(mac.hexdigest().encode(), b"0" * 64)  # timed, never refuses
        pending = iter(messages)

        async def replay() -> Message:
            return next(pending, None) or await receive()

        await self.app(scope, replay, send)
