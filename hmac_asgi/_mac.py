"""HMAC-SHA256, keyed once and run many times: the MAC every scheme signs and verifies with.

RFC 2104 spelt out over ``hashlib``'s public API::

    HMAC(K, m) = SHA256((K' ^ opad) || SHA256((K' ^ ipad) || m))

where ``K'`` is the key zero-padded to the 64-byte block (a longer key is hashed
first). A :class:`MacKey` hashes the two padded blocks once; each message then
costs a ``copy()`` of each prepared state instead of re-deriving the pads, and
the message can be fed piece by piece as a request body arrives. The result is
``hmac.new(key, message, hashlib.sha256)``'s, byte for byte (the tests check it
against ``hmac`` on every vector), without reaching into ``hmac``'s internals.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

__all__ = ["MacKey", "Running"]

_BLOCK = 64  # SHA-256's block size, in bytes
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


class Running(Protocol):
    """A hash in progress, as ``hashlib.sha256()`` returns."""

    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


class MacKey:
    """One secret, ready to MAC with; it keeps the hashed pads, never the secret itself."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, secret: bytes) -> None:
        if len(secret) > _BLOCK:
            secret = hashlib.sha256(secret).digest()
        secret = secret.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(secret.translate(_IPAD))
        self._outer = hashlib.sha256(secret.translate(_OPAD))

    def __repr__(self) -> str:
        return "MacKey(...)"

    def start(self) -> Running:
        """A running MAC: ``update()`` it with the message, then :meth:`finish` it."""
        return self._inner.copy()

    def finish(self, running: Running) -> bytes:
        """The 32-byte MAC of everything fed into ``running`` (which is left as it was)."""
        outer = self._outer.copy()
        outer.update(running.digest())
        return outer.digest()

    def mac(self, message: bytes) -> bytes:
        """The MAC of one whole message."""
        running = self._inner.copy()
        running.update(message)
        return self.finish(running)
