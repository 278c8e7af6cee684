"""The signing primitive: the one place that knows the destiny-sdk wire format.

    message   = body + b":" + UUID(client_id).bytes + b":" + repr(float(timestamp))
    signature = hex(HMAC-SHA256(secret_key.encode("utf-8"), message))

The body comes first, so a verifier can feed it into the HMAC chunk by chunk as it
arrives and add the fixed-size suffix at the end: one pass, no joined copy.
Pure functions, no framework, no I/O; the middleware, the dependency, the httpx
Auth and the transport all sign and verify through here.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Protocol

__all__ = [
    "Mac",
    "client_uuid",
    "create_signature",
    "finish_signature",
    "new_mac",
    "signed_suffix",
    "timestamp_text",
]

_SHA256 = hashlib.sha256


def client_uuid(value: uuid.UUID | str) -> uuid.UUID:
    """A client id as a UUIDv4/v7, from a ``uuid.UUID`` or any text ``uuid.UUID`` accepts.

    Raises:
        ValueError: "not a UUID" or "a version N UUID, not a UUIDv4 or UUIDv7". The
            value itself is never echoed: a secret passed where a client id belongs
            must not reach an error message, and from there a log.
    """
    try:
        parsed = value if isinstance(value, uuid.UUID) else uuid.UUID(value)
    except ValueError:
        raise ValueError("not a UUID") from None
    if parsed.version not in (4, 7):  # None for a non-RFC 4122 variant
        kind = f"version {parsed.version}" if parsed.version else "non-RFC 4122"
        raise ValueError(f"a {kind} UUID, not a UUIDv4 or UUIDv7")
    return parsed


def timestamp_text(timestamp: float | str) -> str:
    """The timestamp exactly as it is signed: Python's ``repr(float(...))``."""
    return repr(float(timestamp))


def signed_suffix(client_id: uuid.UUID | str, timestamp: float | str) -> bytes:
    """What follows the body in the signed message: ``:<16 uuid bytes>:<timestamp>``."""
    if not isinstance(client_id, uuid.UUID):
        client_id = uuid.UUID(client_id)
    return b":" + client_id.bytes + b":" + timestamp_text(timestamp).encode("ascii")


class Mac(Protocol):
    """A running HMAC: ``hmac.HMAC``, or the OpenSSL object inside it."""

    def copy(self) -> Mac: ...
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


def new_mac(secret_key: str | bytes) -> Mac:
    """A fresh HMAC-SHA256 keyed with the secret (text is encoded as UTF-8).

    Where ``hmac.HMAC`` wraps OpenSSL's HMAC object (CPython 3.10-3.13, as its
    ``_hmac``), that object itself: the same MAC, but ``copy``, ``update`` and
    ``hexdigest`` skip a Python layer, about 0.4 us of a verified request.
    Anywhere else (no such attribute, one without those methods, or a build
    without OpenSSL) the ``hmac.HMAC``. The name is private to CPython, so no
    more than that is relied on: the vectors are checked through every path.
    """
    key = secret_key.encode("utf-8") if isinstance(secret_key, str) else secret_key
    mac = hmac.new(key, digestmod=_SHA256)
    native: Mac | None = getattr(mac, "_hmac", None)
    methods = ("copy", "update", "hexdigest")
    if native is not None and all(callable(getattr(native, name, None)) for name in methods):
        return native
    return mac


def finish_signature(mac: Mac, suffix: bytes) -> str:
    """Complete a MAC that has been fed the whole body; returns the hex signature."""
    mac.update(suffix)
    return mac.hexdigest()


def create_signature(
    secret_key: str | bytes,
    request_body: bytes,
    client_id: uuid.UUID | str,
    timestamp: float | str,
) -> str:
    """Sign one request, byte for byte as ``destiny_sdk.auth.create_signature`` does.

    Parameters:
        secret_key: the shared secret (``str`` is UTF-8 encoded).
        request_body: the exact raw body (``b""`` when there is none).
        client_id: a ``uuid.UUID`` or its text.
        timestamp: seconds since the epoch, a float or the header text.

    Returns:
        64 lowercase hex characters.
    """
    mac = new_mac(secret_key)
    mac.update(request_body)
    return finish_signature(mac, signed_suffix(client_id, timestamp))
