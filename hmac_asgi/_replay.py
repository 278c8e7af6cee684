"""Replay caches: a verified signature may be used once within its freshness window."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["MemoryReplayCache", "RedisReplayCache", "ReplayCache", "ReplayCacheUnavailable"]


@runtime_checkable
class ReplayCache(Protocol):
    """Remembers keys for a while; the middleware asks it once per verified request."""

    async def add_once(self, key: str, ttl: float) -> bool:
        """Record ``key`` for ``ttl`` seconds; ``True`` if it was new, ``False`` if seen.

        Raises:
            ReplayCacheUnavailable: the store cannot answer (the middleware then
                fails closed with 503, or open when configured so).
        """
        ...  # pragma: no cover


class ReplayCacheUnavailable(Exception):
    """The replay cache's store could not answer in time (e.g. Redis is down)."""


class MemoryReplayCache:
    """In-process replay cache (being built)."""


class RedisReplayCache:
    """Redis-shared replay cache (being built)."""
