"""Replay caches: a verified signature is accepted once, by every server that shares the cache.

The middleware asks the cache once per verified request, with a key that names
the signature and a lifetime long enough to outlast every server's window for
it (see ``HMACMiddleware``). This module holds the protocol and the in-process
cache; :mod:`._replay_redis` the one shared through Redis.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from ._checks import number

__all__ = ["MemoryReplayCache", "ReplayCache", "ReplayCacheUnavailable"]


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
    """In-process replay cache: a dict, bounded, O(1) per request.

    Entries expire on the wall clock, the clock freshness is judged by (give the
    cache the same ``clock`` as the middleware): a wall clock stepping back
    keeps an entry longer, never shorter, than the window it guards.

    Each key is kept until ``max(now + ttl, latest expiry so far)``: at least as
    long as asked, sometimes a little longer, and so in exactly the order it was
    inserted. The keys sit in a dict (key to expiry) and, in that order, in a
    queue; expired ones are purged from the front of the queue, and when the
    cache is full the front one (the soonest to expire) is evicted. ``add_once``
    never awaits between its check and its insert, so concurrent requests on one
    event loop cannot both see a key as new.

    Limits: it covers **one process**. With several workers or machines, each
    has its own memory and a request replayed to another worker passes; use
    :class:`RedisReplayCache` there. Under a flood of more than ``max_entries``
    distinct valid requests per entry lifetime, eviction forgets signatures
    early, re-opening a replay window for them; size ``max_entries`` to your
    peak requests per ``2 * max_age + body_timeout``.

    Parameters:
        max_entries: how many signatures to remember at most (about 280 bytes
            each).
        clock: seconds since the epoch (``time.time``); injectable for tests.

    Raises:
        TypeError: ``max_entries`` is not an int, or ``clock`` is not callable.
        ValueError: ``max_entries`` < 1.
    """

    __slots__ = ("_clock", "_entries", "_last_expiry", "_max_entries", "_order")

    def __init__(self, max_entries: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self._max_entries = number("max_entries", max_entries, integer=True, minimum=1)
        if not callable(clock):
            raise TypeError("clock must be a callable returning seconds since the epoch")
        self._clock = clock
        self._entries: set[str] = set()  # the keys held; their expiries are in _order
        # (expiry, key) in insertion order, which is expiry order: the front goes first.
        # (An insertion-ordered dict alone would do, but finding its first item is
        # O(deleted slots); a deque's is O(1).)
        self._order: deque[tuple[float, str]] = deque()
        self._last_expiry = -math.inf

    @property
    def clock(self) -> Callable[[], float]:
        """The clock entries expire on: the wall clock unless another was given."""
        return self._clock

    def __len__(self) -> int:
        return len(self._entries)

    async def add_once(self, key: str, ttl: float) -> bool:
        """Record ``key`` for at least ``ttl`` seconds; ``False`` if it is already there.

        Raises:
            ValueError: ``ttl`` is not a finite number > 0.
        """
        return self.add(key, ttl)

    def add(self, key: str, ttl: float) -> bool:
        """:meth:`add_once` without the ``await`` (the middleware calls this one directly).

        Raises:
            ValueError: ``ttl`` is not a finite number > 0.
        """
        if not 0.0 < ttl < math.inf:  # NaN too
            number("ttl", ttl)  # raises, saying why
        now = self._clock()
        entries, order = self._entries, self._order
        while order and order[0][0] <= now:
            entries.remove(order.popleft()[1])
        if key in entries:
            return False
        if len(entries) >= self._max_entries:
            entries.remove(order.popleft()[1])  # the soonest to expire
        expiry = now + ttl
        if expiry < self._last_expiry:
            expiry = self._last_expiry  # never before an earlier entry: the order holds
        self._last_expiry = expiry
        entries.add(key)
        order.append((expiry, key))
        return True
