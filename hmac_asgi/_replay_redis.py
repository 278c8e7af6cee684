"""``RedisReplayCache``: one replay cache shared by every worker and every machine.

``redis`` is an optional extra (``pip install 'hmac-asgi[redis]'``), imported only when
a Redis cache is built. Concurrent calls share round trips (:mod:`._redis_batch`). A
redis-py client is bound to the event loop it first ran on, so each loop has a client
and batches of its own.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Union, cast

from ._checks import number, type_name
from ._redis_batch import Loop, join
from ._replay import ReplayCacheUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

    Client = Union[Redis, RedisCluster]

__all__ = ["RedisReplayCache"]

_INSTALL_HINT = "RedisReplayCache needs redis-py: pip install 'hmac-asgi[redis]'"
PREFIX = "hmac_asgi:replay:"


def _redis() -> Any:
    """The ``redis`` package, its asyncio cluster client imported; or how to install it."""
    try:
        import redis.asyncio.cluster
        import redis.exceptions
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return redis


class RedisReplayCache:
    """Replay cache in Redis: one atomic ``SET key 1 NX PX ttl`` per verified request.

    Every worker and machine using the same Redis or Redis Cluster shares it, so a
    signature is accepted once across the deployment. Requests arriving together on one
    event loop share a round trip (a pipeline; each ``SET`` stays atomic on its own). A
    Redis that is down or not answering makes :meth:`add_once` raise
    :class:`ReplayCacheUnavailable` within ``timeout`` of the call: the middleware answers
    503 (or lets the request through if ``replay_fail_open=True``) until Redis is back.

    Parameters:
        client: a ``redis.asyncio.Redis`` or ``redis.asyncio.cluster.RedisCluster``, with
            ``socket_timeout`` and ``socket_connect_timeout`` (a stuck connection is then
            dropped, not reused). It serves the first event loop that uses the cache;
            :meth:`from_url` and :meth:`from_nodes` make a client for each loop.
        prefix: prepended to every key, to share a Redis database safely.
        timeout: seconds one ``add_once`` may take before Redis counts as down.

    Raises:
        ImportError: redis-py is not installed.
        TypeError: ``prefix`` is not a str.
        ValueError: ``timeout`` is not a finite number > 0.
    """

    __slots__ = ("_client", "_errors", "_lock", "_loops", "_make", "_owner", "_prefix", "_timeout")

    def __init__(self, client: Client, *, prefix: str = PREFIX, timeout: float = 0.5) -> None:
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {type_name(prefix)}")
        self._timeout = number("timeout", timeout)
        errors = _redis().exceptions  # "the store did not answer"; anything else is a bug.
        # Connection and timeout errors are OSErrors (asyncio's timeout is not, before
        # 3.11); RedisClusterException (e.g. no node serves a slot) is not a RedisError.
        self._errors: tuple[type[BaseException], ...] = (errors.RedisError, OSError)
        self._errors += (errors.RedisClusterException, asyncio.TimeoutError)
        self._client, self._prefix = client, prefix
        self._make: Callable[[], Client] | None = None  # a client for one more loop
        self._owner: asyncio.AbstractEventLoop | None = None  # the loop ``client`` serves
        self._loops: dict[asyncio.AbstractEventLoop, Loop] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = PREFIX,
        timeout: float = 0.5,
        cluster: bool = False,
        **client_kwargs: Any,
    ) -> RedisReplayCache:
        """Connect with ``redis.asyncio.Redis.from_url(url, **client_kwargs)``, or with
        ``RedisCluster.from_url`` when ``cluster=True`` (``url`` names any node of the
        cluster; the others are discovered from it). ``socket_timeout`` and
        ``socket_connect_timeout`` default to ``timeout``; the connection is made lazily,
        at the first request.

        Raises:
            ImportError: redis-py is not installed.
        """
        redis = _redis().asyncio
        kind = redis.cluster.RedisCluster if cluster else redis.Redis
        return cls._built(
            lambda: kind.from_url(url, **client_kwargs), client_kwargs, prefix, timeout
        )

    @classmethod
    def from_nodes(
        cls,
        nodes: Iterable[str | tuple[str, int]],
        *,
        prefix: str = PREFIX,
        timeout: float = 0.5,
        **client_kwargs: Any,
    ) -> RedisReplayCache:
        """Connect to a Redis Cluster through any of ``nodes`` (each ``"host:port"`` or
        ``(host, port)``): ``RedisCluster(startup_nodes=..., **client_kwargs)``, whose
        socket timeouts default to ``timeout``.

        Raises:
            ImportError: redis-py is not installed.
            ValueError: ``nodes`` is empty, or a node is not ``host:port``.
        """
        cluster = _redis().asyncio.cluster
        addresses = [_address(node) for node in nodes]
        if not addresses:
            raise ValueError("nodes must name at least one node of the cluster")

        def make() -> Client:  # new ClusterNodes each time: they hold connections
            startup = [cluster.ClusterNode(host, port) for host, port in addresses]
            return cast("Client", cluster.RedisCluster(startup_nodes=startup, **client_kwargs))

        return cls._built(make, client_kwargs, prefix, timeout)

    @classmethod
    def _built(
        cls, make: Callable[[], Client], kw: dict[str, Any], prefix: str, timeout: float
    ) -> RedisReplayCache:
        kw.setdefault("socket_timeout", timeout)  # read by ``make`` at each call
        kw.setdefault("socket_connect_timeout", timeout)
        cache = cls(make(), prefix=prefix, timeout=timeout)
        cache._make = make
        return cache

    @property
    def client(self) -> Client:
        """The running event loop's client (outside a loop, the first one)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return self._client
        return self._here(loop).client

    def _here(self, loop: asyncio.AbstractEventLoop) -> Loop:
        """``loop``'s client and batches, made at its first call."""
        here = self._loops.get(loop)
        if here is not None:
            return here
        with self._lock:  # two threads' loops may come at once
            if loop not in self._loops:
                for closed in [old for old in self._loops if old.is_closed()]:
                    del self._loops[closed]
                if self._owner is None or self._owner is loop:
                    self._owner, client = loop, self._client
                elif self._make is not None:
                    client = self._make()
                else:
                    raise RuntimeError(
                        "this RedisReplayCache's client serves another event loop, and a"
                        " redis-py client cannot be shared between loops: build the cache"
                        " with RedisReplayCache.from_url() or from_nodes() (a client per loop)"
                    )
                cluster = isinstance(client, _redis().asyncio.cluster.RedisCluster)
                self._loops[loop] = Loop(client, cluster)
            return self._loops[loop]

    async def add_once(self, key: str, ttl: float) -> bool:
        """Set ``prefix + key`` unless it exists, expiring in ``ttl`` seconds (rounded up).

        Raises:
            ReplayCacheUnavailable: Redis failed or did not answer within ``timeout``.
            ValueError: ``ttl`` is not a finite number > 0.
        """
        if not 0.0 < ttl < math.inf:  # NaN too
            number("ttl", ttl)  # raises, saying why
        ttl_ms = max(1, math.ceil(ttl * 1000))
        loop = asyncio.get_running_loop()
        here = self._loops.get(loop) or self._here(loop)
        command = ("SET", (self._prefix + key).encode(), b"1", b"NX", b"PX", b"%d" % ttl_ms)
        try:
            created = await join(here, command, self._timeout)  # its own future only
        except self._errors as exc:
            why = str(exc) or f"no answer within {self._timeout} s"
            raise ReplayCacheUnavailable(f"redis: {type(exc).__name__}: {why}") from exc
        return bool(created)

    async def aclose(self) -> None:
        """Close the running event loop's client (each loop that used the cache closes its
        own; the first client is closed from any loop if none has used it)."""
        with self._lock:
            here = self._loops.pop(asyncio.get_running_loop(), None)
        if here is not None:
            await here.client.aclose()
        elif self._owner is None:
            await self._client.aclose()


def _address(node: str | tuple[str, int]) -> tuple[str, int]:
    """``"host:port"`` (``"[::1]:7000"`` for IPv6) or ``(host, port)``, as ``(host, port)``."""
    try:
        host, port = node.rpartition(":")[::2] if isinstance(node, str) else node
        return str(host).strip("[]"), int(port)
    except (TypeError, ValueError):
        raise ValueError("each node must be 'host:port' or (host, port)") from None
