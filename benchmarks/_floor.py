"""A floor sketch, for PROFILE.md only: the fewest steps that make the same checks.

Not a product and not a proposal to copy as is: no key rotation, replay cache,
size limit, body deadline, websocket or error catalogue. It parses the three
headers in the one pass over ``scope["headers"]``, validates them with the same
regular expressions, checks freshness both ways, copies OpenSSL's keyed HMAC
(``hmac.HMAC._hmac``, a private name), feeds the body messages as they arrive,
compares in constant time and replays the messages. What it costs above a bare
app is about the least a pure-Python verifier of this wire format can cost.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BufferAndHash", "BufferOnly", "FloorSketch"]

_SIGNATURE = re.compile(rb"Signature ([0-9a-f]{64})")
_CLIENT_ID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_TIMESTAMP = re.compile(rb"[0-9]{1,15}(?:\.[0-9]{1,30})?")
_UNAUTHORIZED = [(b"content-type", b"application/json"), (b"www-authenticate", b"Signature")]


async def _refuse(send: Send) -> None:
    await send({"type": "http.response.start", "status": 401, "headers": _UNAUTHORIZED})
    await send({"type": "http.response.body", "body": b'{"detail": "Signature is invalid."}'})


class FloorSketch:
    def __init__(self, app: ASGIApp, secret_key: str, max_age: float = 300.0) -> None:
        self.app = app
        self._mac = hmac.new(secret_key.encode(), digestmod=hashlib.sha256)._hmac  # type: ignore[attr-defined]
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


class BufferOnly:
    """The structure alone: buffer the body, then replay it to the app. No checks.

    Any pure-ASGI middleware that must see the whole body before the app runs
    pays at least this: its own coroutine, the loop over ``receive`` and a
    replaying ``receive`` for the app.
    """

    def __init__(self, app: ASGIApp, **_: object) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if not message.get("more_body", False):
                break
        pending = iter(messages)

        async def replay() -> Message:
            return next(pending, None) or await receive()

        await self.app(scope, replay, send)


class BufferAndHash(BufferOnly):
    """:class:`BufferOnly` plus the keyed HMAC of the body, copied from a prototype:
    the structure and the hashing, and still not one header looked at."""

    def __init__(self, app: ASGIApp, secret_key: str, **_: object) -> None:
        super().__init__(app)
        self._mac = hmac.new(secret_key.encode(), digestmod=hashlib.sha256)._hmac  # type: ignore[attr-defined]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        mac = self._mac.copy()
        messages: list[Message] = []
        while True:
            message = await receive()
            mac.update(message.get("body", b""))
            messages.append(message)
            if not message.get("more_body", False):
                break
        mac.update(b":0123456789abcdef:1700000000.0")
        if not hmac.compare_digest(mac.hexdigest().encode(), b"0" * 64):
            pass  # measures the compare, never refuses
        pending = iter(messages)

        async def replay() -> Message:
            return next(pending, None) or await receive()

        await self.app(scope, replay, send)
