"""The verifier both front ends share: freshness, keys, HMAC over the body, compare.

The middleware and the ``HMACAuth`` dependency differ only in how they get the
headers and the body; everything that decides goes through here.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable

from ._errors import Failure
from ._headers import HMACAuthorizationHeaders
from ._keys import KeyRing
from ._signing import Mac, finish_signature, signed_suffix

__all__ = ["Clock", "Verification", "Verifier"]

Clock = Callable[[], float]


class Verification:
    """One request in flight: feed it the body chunk by chunk, then :meth:`verify`."""

    __slots__ = ("_known", "_macs", "headers")

    def __init__(self, headers: HMACAuthorizationHeaders, macs: list[Mac], known: bool):
        self.headers = headers
        self._macs = macs
        self._known = known

    def update(self, chunk: bytes) -> None:
        """Feed the next piece of the body into every candidate key's HMAC."""
        for mac in self._macs:
            mac.update(chunk)

    def verify(self) -> None:
        """Raises: AuthException: 401 ``Signature is invalid.`` (also for an unknown client)."""
        headers = self.headers
        suffix = signed_suffix(headers.client_id, headers.timestamp)
        matched = False
        for mac in self._macs:
            # compare_digest decides, in constant time; every candidate is computed.
            matched |= hmac.compare_digest(finish_signature(mac, suffix), headers.signature)
        if not (matched and self._known):
            raise Failure.invalid_signature()


class Verifier:
    """Configuration validated once; :meth:`start` begins verifying one request."""

    __slots__ = ("_clock", "keys", "max_age")

    def __init__(self, keys: KeyRing, max_age: float = 300.0, clock: Clock = time.time) -> None:
        if isinstance(max_age, bool) or not isinstance(max_age, (int, float)):
            raise TypeError(f"max_age must be a number of seconds, not {type(max_age).__name__}")
        if not (math.isfinite(max_age) and max_age > 0):
            raise ValueError(f"max_age must be a finite number of seconds > 0, not {max_age!r}")
        if not callable(clock):
            raise TypeError("clock must be a callable returning seconds since the epoch")
        self.keys = keys
        self.max_age = float(max_age)
        self._clock = clock

    def check_fresh(self, timestamp: float) -> None:
        """Refuse a timestamp more than ``max_age`` in the past or the future.

        Raises:
            AuthException: 401 ``Token is expired.`` or a future-timestamp refusal.
        """
        age = self._clock() - timestamp
        if age > self.max_age:
            raise Failure.expired()
        if -age > self.max_age:
            raise Failure.future_timestamp()

    def window_left(self, timestamp: float) -> float:
        """Seconds until a request with this timestamp expires (how long to remember it)."""
        return timestamp + self.max_age - self._clock()

    def start_static(self, headers: HMACAuthorizationHeaders) -> Verification:
        """:meth:`start` without an ``await``, for keys known in memory (``keys.is_static``)."""
        self.check_fresh(headers.timestamp)
        prototypes, known = self.keys.static_macs(headers.client_id)
        return Verification(headers, [mac.copy() for mac in prototypes], known)

    async def start(self, headers: HMACAuthorizationHeaders) -> Verification:
        """Check freshness and resolve the client's keys: headers → freshness → key."""
        if self.keys.is_static:
            return self.start_static(headers)
        self.check_fresh(headers.timestamp)
        prototypes, known = await self.keys.macs(headers.client_id)
        return Verification(headers, [mac.copy() for mac in prototypes], known)
