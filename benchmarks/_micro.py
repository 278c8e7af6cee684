"""Micro-timings of each step of the 1 KiB path, next to cheaper alternatives.

Each row is timed inside a running event loop, so loop-bound steps
(``call_later``) are real: best of 7 repeats, each made of batches of 100 calls
with one pass of the event loop between batches (as a server's loop runs between
requests, which clears cancelled timers; without it the timer heap would grow
without bound and inflate the timer rows). Rows that need a private name of
hmac_asgi that has moved are reported as n/a instead of failing the run.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import uuid
from collections.abc import Callable, Coroutine
from time import perf_counter
from typing import Any

from _asgi import CLIENT_ID, SECRET, Exchange, make_body, sign

from hmac_asgi import HMACAuthorizationHeaders, HMACMiddleware

__all__ = ["micro_rows"]

Row = tuple[str, Callable[[], object] | None, str]


def _drive(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends, without an event-loop round trip."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("the coroutine suspended")


def _fast_uuid(raw: bytes) -> uuid.UUID:
    """A UUID from already-validated canonical text, skipping UUID.__init__'s parsing."""
    value = object.__new__(uuid.UUID)
    object.__setattr__(value, "int", int(raw.replace(b"-", b""), 16))
    object.__setattr__(value, "is_safe", uuid.SafeUUID.unknown)
    return value


_FIELDS = frozenset({"signature", "client_id", "timestamp"})


def _fast_construct(signature: str, client_id: uuid.UUID, timestamp: float) -> Any:
    """What ``model_construct`` leaves behind, set directly (no defaults/validators to run)."""
    model = HMACAuthorizationHeaders.__new__(HMACAuthorizationHeaders)
    fields = {"signature": signature, "client_id": client_id, "timestamp": timestamp}
    object.__setattr__(model, "__dict__", fields)
    object.__setattr__(model, "__pydantic_fields_set__", set(_FIELDS))
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


class _Slotted:
    __slots__ = ("client_id", "signature", "timestamp")

    def __init__(self, signature: str, client_id: uuid.UUID, timestamp: float) -> None:
        self.signature, self.client_id, self.timestamp = signature, client_id, timestamp


def _rows(loop: asyncio.AbstractEventLoop) -> list[Row]:
    body = make_body(1024)
    auth = sign(body)
    exchange = Exchange(None, body, auth)  # type: ignore[arg-type]  # only for its scope
    scope = {**exchange._template, "state": {}}
    raw = dict(auth)
    signature_raw = raw[b"authorization"].partition(b" ")[2]
    client_raw, stamp_raw = raw[b"x-client-id"], raw[b"x-request-timestamp"]
    headers = HMACAuthorizationHeaders.from_scope(scope)
    signature, timestamp = headers.signature, headers.timestamp
    assert _fast_uuid(client_raw) == uuid.UUID(client_raw.decode()) == CLIENT_ID
    assert _fast_construct(signature, CLIENT_ID, timestamp) == headers
    middleware = HMACMiddleware(lambda s, r, x: None, secret_key=SECRET)  # type: ignore[arg-type]
    verifier = middleware._verifier
    key = SECRET.encode()
    proto = hmac.new(key, digestmod=hashlib.sha256)
    c_proto = proto._hmac  # type: ignore[attr-defined]  # OpenSSL's HMAC object
    suffix = b":" + CLIENT_ID.bytes + b":" + repr(timestamp).encode("ascii")
    hex64 = re.compile(rb"[0-9a-f]{64}")
    uuid_re = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
    stamp_re = re.compile(rb"[0-9]{1,15}(?:\.[0-9]{1,30})?")

    def scan() -> None:
        for name, _value in scope["headers"]:
            if name in (b"authorization", b"x-client-id", b"x-request-timestamp"):
                pass

    def content_length_scan() -> None:
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > 1 << 30:
                raise AssertionError

    def three_regexes() -> None:
        hex64.fullmatch(signature_raw)
        uuid_re.fullmatch(client_raw)
        stamp_re.fullmatch(stamp_raw)

    def with_copy(factory: Callable[[], Any]) -> Callable[[], str]:
        def run() -> str:
            mac = factory()
            mac.update(body)
            mac.update(suffix)
            return str(mac.hexdigest())

        return run

    def watchdog() -> Callable[[], object]:
        from hmac_asgi._deadline import Watchdog

        dog = Watchdog(30.0)
        return lambda: dog.disarm(dog.arm())  # type: ignore[arg-type]

    def start() -> Callable[[], object]:
        if hasattr(verifier, "start_static"):
            return lambda: verifier.start_static(headers)
        return lambda: _drive(verifier.start(headers))

    async def nothing() -> None:
        return None

    async def with_timeout() -> None:
        async with asyncio.timeout(30.0):
            return None

    def optional(build: Callable[[], Callable[[], object]]) -> Callable[[], object] | None:
        try:
            return build()
        except (ImportError, AttributeError):
            return None

    return [
        (
            "**headers**: `HMACAuthorizationHeaders.from_scope` (all of it)",
            lambda: HMACAuthorizationHeaders.from_scope(scope),
            "",
        ),
        ("· scan of the 8 request headers", scan, "loop only"),
        ("· 3 x `re.fullmatch`", three_regexes, ""),
        ("· `uuid.UUID(text)`", lambda: uuid.UUID(client_raw.decode("ascii")), ""),
        (
            "  → `_fast_uuid` (int from validated hex)",
            lambda: _fast_uuid(client_raw),
            "alternative",
        ),
        ("· `float(header)`", lambda: float(stamp_raw), ""),
        (
            "· `model_construct(...)`",
            lambda: HMACAuthorizationHeaders.model_construct(
                signature=signature, client_id=CLIENT_ID, timestamp=timestamp
            ),
            "",
        ),
        (
            "  → `__new__` + set `__dict__`/fields_set",
            lambda: _fast_construct(signature, CLIENT_ID, timestamp),
            "alternative, same model",
        ),
        (
            "  → plain `__slots__` class",
            lambda: _Slotted(signature, CLIENT_ID, timestamp),
            "alternative, internal type",
        ),
        (
            "**start**: `Verifier.start[_static]` (clock, freshness, keys, copy)",
            optional(start),
            "",
        ),
        ("· `hmac.HMAC.copy()` of the keyed prototype", proto.copy, ""),
        ("  → copy OpenSSL's HMAC (`mac._hmac.copy()`)", c_proto.copy, "alternative"),
        (
            "  → `hmac.new(key, digestmod=sha256)`",
            lambda: hmac.new(key, digestmod=hashlib.sha256),
            "no prototype",
        ),
        (
            "**body**: a separate Content-Length pass over the headers",
            content_length_scan,
            "what a 2nd pass costs",
        ),
        (
            "· deadline: `Watchdog.arm()` + `disarm()`",
            optional(watchdog),
            "body_timeout",
        ),
        (
            "  → bare `loop.call_later(30, f).cancel()`",
            lambda: loop.call_later(30.0, print).cancel(),
            "the timer alone",
        ),
        (
            "  → `asyncio.timeout(30)` around a no-op",
            lambda: _drive(with_timeout()),
            "for reference",
        ),
        ("· no-op coroutine await (per extra `async def` hop)", lambda: _drive(nothing()), ""),
        ("**HMAC** over 1 KiB + suffix, hexdigest (via `HMAC.copy`)", with_copy(proto.copy), ""),
        ("  → same via the OpenSSL object", with_copy(c_proto.copy), "alternative"),
        (
            "  → one-shot `hmac.new(key, body+suffix, sha256)`",
            lambda: hmac.new(key, body + suffix, hashlib.sha256).hexdigest(),
            "what results.md calls HMAC alone",
        ),
        (
            "**verify**: signed suffix (`uuid.bytes`, `repr(float)`)",
            lambda: b":" + CLIENT_ID.bytes + b":" + repr(timestamp).encode("ascii"),
            "",
        ),
        (
            "· `hmac.compare_digest(hex, hex)`",
            lambda: hmac.compare_digest(signature, signature),
            "",
        ),
        (
            "**app call**: `scope.setdefault('state', {})[...] = id`",
            lambda: scope.setdefault("state", {}).__setitem__("hmac_client_id", CLIENT_ID),
            "",
        ),
    ]


async def _repeat(fn: Callable[[], object], batches: int) -> float:
    total = 0.0
    for _ in range(batches):
        start = perf_counter()
        for _ in range(100):
            fn()
        total += perf_counter() - start
        await asyncio.sleep(0)
    return total


async def micro_rows(quick: bool = False) -> list[str]:
    loop = asyncio.get_running_loop()
    batches = 20 if quick else 200
    lines = ["| step | µs | note |", "|---|---|---|"]
    for label, fn, note in _rows(loop):
        if fn is None:
            lines.append(f"| {label} | n/a | moved or renamed |")
            continue
        best = min([await _repeat(fn, batches) for _ in range(7)]) / (batches * 100) * 1e6
        lines.append(f"| {label} | {best:.3f} | {note} |")
    return lines
