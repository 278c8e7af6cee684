"""``RedisReplayCache``: one replay cache shared by every worker and every machine.

``redis`` is an optional extra (``pip install 'hmac-asgi[redis]'``); it is only
imported when a Redis cache is built, so ``import hmac_asgi`` works without it.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Any

from ._checks import number, type_name
from ._replay import ReplayCacheUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisReplayCache"]

_INSTALL_HINT = "RedisReplayCache needs redis-py: pip install 'hmac-asgi[redis]'"


def _store_errors() -> tuple[type[BaseException], ...]:
    """What "the store did not answer" looks like; anything else is a bug and propagates."""
    try:
        from redis.exceptions import RedisError
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    # ConnectionError and TimeoutError are OSErrors; asyncio's differs before 3.11.
    return (RedisError, OSError, asyncio.TimeoutError)


class RedisReplayCache:
    """Replay cache in Redis: one atomic ``SET key 1 NX PX ttl`` per verified request.

    Every worker and machine pointing at the same Redis shares it, so a signature
    is accepted once across the whole deployment. Each call is bounded by
    ``timeout``: a Redis that is down, or up but not answering, makes
    :meth:`add_once` raise :class:`ReplayCacheUnavailable` within ``timeout``
    seconds, and the middleware answers 503 (or lets the request through when
    ``replay_fail_open=True``). When Redis comes back, requests pass again.

    Parameters:
        client: a ``redis.asyncio.Redis``. Give it ``socket_timeout`` and
            ``socket_connect_timeout`` (:meth:`from_url` does), so that a stuck
            connection is dropped rather than reused.
        prefix: prepended to every key, to share a Redis database safely.
        timeout: seconds one ``add_once`` may take before Redis counts as down.

    Raises:
        ImportError: redis-py is not installed.
        TypeError: ``prefix`` is not a str.
        ValueError: ``timeout`` is not a finite number > 0.
    """

    __slots__ = ("_client", "_errors", "_prefix", "_timeout")

    def __init__(
        self, client: Redis, *, prefix: str = "hmac_asgi:replay:", timeout: float = 0.5
    ) -> None:
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {type_name(prefix)}")
        self._timeout = number("timeout", timeout)
        self._errors = _store_errors()
        self._client = client
        self._prefix = prefix

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "hmac_asgi:replay:",
        timeout: float = 0.5,
        **client_kwargs: Any,
    ) -> RedisReplayCache:
        """Connect with ``redis.asyncio.Redis.from_url(url, **client_kwargs)``.

        ``socket_timeout`` and ``socket_connect_timeout`` default to ``timeout``.
        The connection is made lazily, at the first request.

        Raises:
            ImportError: redis-py is not installed.
        """
        try:
            import redis.asyncio
        except ImportError as exc:
            raise ImportError(_INSTALL_HINT) from exc
        client_kwargs.setdefault("socket_timeout", timeout)
        client_kwargs.setdefault("socket_connect_timeout", timeout)
        client = redis.asyncio.Redis.from_url(url, **client_kwargs)
        return cls(client, prefix=prefix, timeout=timeout)

    @property
    def client(self) -> Redis:
        """The ``redis.asyncio.Redis`` in use."""
        return self._client

    async def add_once(self, key: str, ttl: float) -> bool:
        """Set ``prefix + key`` unless it exists, expiring in ``ttl`` seconds (rounded up).

        Raises:
            ReplayCacheUnavailable: Redis failed or did not answer within ``timeout``.
            ValueError: ``ttl`` is not a finite number > 0.
        """
        if not 0.0 < ttl < math.inf:  # NaN too
            number("ttl", ttl)  # raises, saying why
        ttl_ms = max(1, math.ceil(ttl * 1000))
        command = self._client.set(self._prefix + key, b"1", nx=True, px=ttl_ms)
        try:
            created = await asyncio.wait_for(command, self._timeout)
        except self._errors as exc:
            why = str(exc) or f"no answer within {self._timeout} s"
            raise ReplayCacheUnavailable(f"redis: {type(exc).__name__}: {why}") from exc
        return bool(created)

    async def aclose(self) -> None:
        """Close the client and its connection pool."""
        await self._client.aclose()
