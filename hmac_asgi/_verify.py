"""What decides, shared by the middleware and the ``HMACAuth`` dependency.

headers → freshness → key → (body, fed by the caller) → compare → replay. The
front ends differ only in how they get the headers and the body; a wire format
is a :class:`~hmac_asgi.schemes.Scheme` and is only reached through it.

The replay guarantee: a signature accepted once is refused by every server
sharing the cache for as long as any of them could still accept it. A server
accepts a request whose timestamp was within ``max_age`` of its clock when the
headers arrived and whose body then arrived within ``body_timeout``
(without a body deadline, the timestamp must still be fresh once the body is
in). Allowing server clocks to differ by up to ``max_age``, the last moment
any server can accept it is, on this server's clock, ``created + max_age +
body time + max_age``: the replay entry lives until then.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.authentication import AuthCredentials
from starlette.types import Scope

from ._checks import number
from ._errors import AuthException, failure
from ._replay import MemoryReplayCache, ReplayCache, ReplayCacheUnavailable
from .schemes import BodyCheck, Claim, Scheme, Verified

__all__ = ["Clock", "Explaining", "Verifier"]

Clock = Callable[[], float]

logger = logging.getLogger("hmac_asgi")


class Verifier:
    """One scheme's verification, configured once; the methods are the pipeline's steps.

    Parameters:
        scheme: the wire format and its keys.
        max_age: seconds a timestamp stays valid, in the past and the future.
        body_time: the longest a body read may take after the headers were
            checked (``None``: unbounded, so freshness is checked again after it).
        replay_cache: where verified signatures are recorded, if anywhere.
        replay_fail_open: when the cache cannot answer, let the request through
            (logged) instead of answering 503.
        clock: seconds since the epoch.
    """

    __slots__ = (
        "_body_time",
        "_clock",
        "_credentials",
        "_fail_open",
        "_in_memory",
        "_lifetime",
        "is_static",
        "max_age",
        "replay",
        "scheme",
    )

    def __init__(
        self,
        scheme: Scheme[Any],
        *,
        max_age: float = 300.0,
        body_time: float | None = None,
        replay_cache: ReplayCache | None = None,
        replay_fail_open: bool = False,
        clock: Clock = time.time,
    ) -> None:
        self.max_age = number("max_age", max_age)
        if not callable(clock):
            raise TypeError("clock must be a callable returning seconds since the epoch")
        if replay_cache is not None and not isinstance(replay_cache, ReplayCache):
            raise TypeError("replay_cache must have `async add_once(key, ttl) -> bool`")
        self.scheme = scheme
        self.is_static = scheme.keys.is_static
        self._clock = clock
        self._body_time = body_time
        self._credentials = AuthCredentials(["authenticated", scheme.name])
        self.replay = replay_cache
        self._in_memory = replay_cache if isinstance(replay_cache, MemoryReplayCache) else None
        self._fail_open = bool(replay_fail_open)
        # created + _lifetime: the last moment any server could still accept it.
        self._lifetime = 2 * self.max_age + (body_time or 0.0)

    def claim(self, scope: Scope) -> Claim:
        """headers → freshness: the request's claim, if it is fresh.

        Raises:
            AuthException: 401, headers missing or malformed, expired or too far ahead.
        """
        claim: Claim = self.scheme.parse(scope)
        now = self._clock()
        age = now - claim.created  # check_fresh, inline: it runs on every request
        if age > self.max_age or (claim.expires is not None and now > claim.expires):
            raise failure("expired")
        if -age > self.max_age:
            raise failure("future_timestamp")
        return claim

    def check_fresh(self, claim: Claim) -> None:
        """Raises: AuthException: 401 ``Token is expired.`` or a future-timestamp refusal."""
        now = self._clock()
        age = now - claim.created
        if age > self.max_age or (claim.expires is not None and now > claim.expires):
            raise failure("expired")
        if -age > self.max_age:
            raise failure("future_timestamp")

    def begin_static(self, claim: Claim) -> BodyCheck:
        """key: the verification to feed the body into, for keys held in memory."""
        keys, known = self.scheme.keys.static_keys(claim.key_id)
        return self.scheme.begin(claim, keys, known)

    async def begin(self, claim: Claim) -> BodyCheck:
        """key: like :meth:`begin_static`, awaiting the key lookup when there is one."""
        keys, known = await self.scheme.keys.keys(claim.key_id)
        return self.scheme.begin(claim, keys, known)

    def accept(self, claim: Claim, scope: Scope, set_user: bool) -> Verified:
        """app: who signed it at ``scope["state"]["hmac"]`` (and what the format adds),
        and, with ``set_user``, as ``scope["user"]`` with ``scope["auth"]``'s scopes
        ``["authenticated", <scheme name>]``, as Starlette's authentication does."""
        state = scope.setdefault("state", {})
        verified = state["hmac"] = self.scheme.accept(claim, state)
        if set_user:
            scope["user"] = verified
            scope["auth"] = self._credentials  # one per scheme: read it, do not change it
        return verified

    def verify(self, claim: Claim, check: BodyCheck) -> None:
        """compare, once the whole body has been fed in (then :meth:`record`, if :attr:`replay`).

        Raises:
            AuthException: 401 bad signature, or expired by now (no body deadline).
        """
        check.verify()
        if self._body_time is None:
            self.check_fresh(claim)  # the body took unbounded time: still fresh?

    def record(self, claim: Claim) -> Awaitable[None] | None:
        """replay: record a verified signature; a second use is refused while any server
        could still accept it. In memory that is done at once (``None``); otherwise
        the returned awaitable does it.

        Raises:
            AuthException: 401 replayed; 503 replay cache down (fail closed).
        """
        ttl = max(claim.created + self._lifetime - self._clock(), 0.001)
        key = self.scheme.replay_key(claim)
        if self._in_memory is not None:  # no await: a dict lookup should cost one
            if not self._in_memory.add(key, ttl):
                raise failure("replayed")
            return None
        return self._record(key, ttl)

    async def _record(self, key: str, ttl: float) -> None:
        assert self.replay is not None  # noqa: S101 - only called when there is one
        try:
            first_use = await self.replay.add_once(key, ttl)
        except ReplayCacheUnavailable as exc:
            if not self._fail_open:
                logger.error("replay cache unavailable, refusing requests (fail closed): %s", exc)
                raise failure("unavailable", what="replay cache") from exc
            logger.error("replay cache unavailable, NOT checking replays (fail open): %s", exc)
            return
        if not first_use:
            raise failure("replayed")


# The refusals an explanation helps with: the signature did not verify over these bytes.
_EXPLAINED = frozenset({"invalid_signature", "digest_mismatch", "unsigned_body"})


class Explaining:
    """A :class:`BodyCheck` that also notes the body's length and SHA-256, and tells a
    refusal what the server signed (``explain_failures=True``)."""

    __slots__ = ("_check", "_claim", "_digest", "_length", "_scheme")

    def __init__(self, check: BodyCheck, scheme: Scheme[Any], claim: Claim) -> None:
        self._check, self._scheme, self._claim = check, scheme, claim
        self._digest = hashlib.sha256()
        self._length = 0

    def update(self, chunk: bytes) -> None:
        self._check.update(chunk)
        self._digest.update(chunk)
        self._length += len(chunk)

    def verify(self) -> None:
        try:
            self._check.verify()
        except AuthException as refusal:
            if refusal.code in _EXPLAINED:
                refusal.explain = {
                    "body_length": self._length,
                    "body_sha256": self._digest.hexdigest(),
                    **self._scheme.explain(self._claim),
                }
            raise
