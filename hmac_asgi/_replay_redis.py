"""``RedisReplayCache``: one replay cache shared by every worker and every machine.

``redis`` is an optional extra (``pip install 'hmac-asgi[redis]'``); it is only
imported when a Redis cache is built, so ``import hmac_asgi`` works without it.

Auto-pipelining: the first ``add_once`` in a turn of the event loop opens a
batch and schedules the task that sends it; the calls made before that task
runs (up to 256) join the batch. The task sends the batch as one
non-transactional pipeline (one per node, in a cluster) under the first
caller's deadline and answers each caller's future. A caller that is cancelled
drops its own future only. redis-py clients are bound to the event loop they
first ran on, so each loop has its own client and its own batches.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Union, cast

from ._checks import number, type_name
from ._replay import ReplayCacheUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

    Client = Union[Redis, RedisCluster]

__all__ = ["RedisReplayCache"]

_INSTALL_HINT = "RedisReplayCache needs redis-py: pip install 'hmac-asgi[redis]'"
MAX_BATCH = 256  # SETs per round trip; more callers in one turn open another batch
_Command = tuple[Any, ...]
_Future = asyncio.Future[Any]


def _store_errors() -> tuple[type[BaseException], ...]:
    """What "the store did not answer" looks like; anything else is a bug and propagates."""
    try:
        from redis.exceptions import RedisClusterException, RedisError
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    # ConnectionError and TimeoutError are OSErrors; asyncio's differs before 3.11.
    # RedisClusterException (e.g. no node serves a slot) is not a RedisError.
    return (RedisError, RedisClusterException, OSError, asyncio.TimeoutError)


class _Batch:
    """The SETs of one round trip, and the futures of their callers."""

    __slots__ = ("commands", "deadline", "futures")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline  # the first caller's: the others came later
        self.commands: list[_Command] = []
        self.futures: list[_Future] = []


class _Loop:
    """One event loop's client, its batch still taking callers, its batches in flight."""

    __slots__ = ("batch", "client", "cluster", "sending")

    def __init__(self, client: Client) -> None:
        from redis.asyncio.cluster import RedisCluster

        self.client = client
        self.cluster = isinstance(client, RedisCluster)
        self.batch: _Batch | None = None
        self.sending: set[asyncio.Task[None]] = set()  # the loop holds tasks weakly


class RedisReplayCache:
    """Replay cache in Redis: one atomic ``SET key 1 NX PX ttl`` per verified request.

    Every worker and machine pointing at the same Redis or Redis Cluster shares
    it, so a signature is accepted once across the whole deployment. Requests
    arriving together on one event loop share a round trip (a pipeline; each
    ``SET`` stays atomic on its own). Each call is bounded by ``timeout``: a
    Redis that is down, or up but not answering, makes :meth:`add_once` raise
    :class:`ReplayCacheUnavailable` within ``timeout`` seconds of the call, and
    the middleware answers 503 (or lets the request through when
    ``replay_fail_open=True``). When Redis comes back, requests pass again.

    Parameters:
        client: a ``redis.asyncio.Redis`` or ``redis.asyncio.cluster.RedisCluster``,
            with ``socket_timeout`` and ``socket_connect_timeout`` (so that a stuck
            connection is dropped rather than reused). A redis-py client serves one
            event loop, the first to use the cache; :meth:`from_url` and
            :meth:`from_nodes` make one client per loop instead.
        prefix: prepended to every key, to share a Redis database safely.
        timeout: seconds one ``add_once`` may take before Redis counts as down.

    Raises:
        ImportError: redis-py is not installed.
        TypeError: ``prefix`` is not a str.
        ValueError: ``timeout`` is not a finite number > 0.
    """

    __slots__ = ("_client", "_errors", "_lock", "_loops", "_make", "_owner", "_prefix", "_timeout")

    def __init__(
        self, client: Client, *, prefix: str = "hmac_asgi:replay:", timeout: float = 0.5
    ) -> None:
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {type_name(prefix)}")
        self._timeout = number("timeout", timeout)
        self._errors = _store_errors()
        self._client, self._prefix = client, prefix
        self._make: Callable[[], Client] | None = None  # a client for one more loop
        self._owner: asyncio.AbstractEventLoop | None = None  # the loop ``client`` serves
        self._loops: dict[asyncio.AbstractEventLoop, _Loop] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "hmac_asgi:replay:",
        timeout: float = 0.5,
        cluster: bool = False,
        **client_kwargs: Any,
    ) -> RedisReplayCache:
        """Connect with ``redis.asyncio.Redis.from_url(url, **client_kwargs)``, or with
        ``RedisCluster.from_url`` when ``cluster=True`` (``url`` names one node of the
        cluster; the others are discovered from it).

        ``socket_timeout`` and ``socket_connect_timeout`` default to ``timeout``.
        The connection is made lazily, at the first request.

        Raises:
            ImportError: redis-py is not installed.
        """
        try:
            from redis.asyncio import Redis
            from redis.asyncio.cluster import RedisCluster
        except ImportError as exc:
            raise ImportError(_INSTALL_HINT) from exc
        client_kwargs.setdefault("socket_timeout", timeout)
        client_kwargs.setdefault("socket_connect_timeout", timeout)
        kind = RedisCluster if cluster else Redis
        return cls._built(lambda: kind.from_url(url, **client_kwargs), prefix, timeout)

    @classmethod
    def from_nodes(
        cls,
        nodes: Iterable[str | tuple[str, int]],
        *,
        prefix: str = "hmac_asgi:replay:",
        timeout: float = 0.5,
        **client_kwargs: Any,
    ) -> RedisReplayCache:
        """Connect to a Redis Cluster through any of ``nodes`` (``"host:port"`` or
        ``(host, port)`` each): ``RedisCluster(startup_nodes=..., **client_kwargs)``.

        ``socket_timeout`` and ``socket_connect_timeout`` default to ``timeout``.

        Raises:
            ImportError: redis-py is not installed.
            ValueError: ``nodes`` is empty, or a node is not ``host:port``.
        """
        try:
            from redis.asyncio.cluster import ClusterNode, RedisCluster
        except ImportError as exc:
            raise ImportError(_INSTALL_HINT) from exc
        addresses = [_address(node) for node in nodes]
        if not addresses:
            raise ValueError("nodes must name at least one node of the cluster")
        client_kwargs.setdefault("socket_timeout", timeout)
        client_kwargs.setdefault("socket_connect_timeout", timeout)

        def make() -> Client:  # new ClusterNodes each time: they hold connections
            startup = [ClusterNode(host, port) for host, port in addresses]
            return RedisCluster(startup_nodes=startup, **client_kwargs)

        return cls._built(make, prefix, timeout)

    @classmethod
    def _built(cls, make: Callable[[], Client], prefix: str, timeout: float) -> RedisReplayCache:
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

    def _here(self, loop: asyncio.AbstractEventLoop) -> _Loop:
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
                self._loops[loop] = _Loop(client)
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
        batch = here.batch
        if batch is None or len(batch.futures) >= MAX_BATCH:
            batch = here.batch = _Batch(loop.time() + self._timeout)
            task = loop.create_task(self._send(here, batch))  # runs at the loop's next turn
            here.sending.add(task)
            task.add_done_callback(here.sending.discard)
        future = loop.create_future()
        batch.commands.append(("SET", self._prefix + key, b"1", "NX", "PX", ttl_ms))
        batch.futures.append(future)
        try:
            created = await future  # cancelling this call cancels its future, not the batch
        except self._errors as exc:
            why = str(exc) or f"no answer within {self._timeout} s"
            raise ReplayCacheUnavailable(f"redis: {type(exc).__name__}: {why}") from exc
        return bool(created)

    async def _send(self, here: _Loop, batch: _Batch) -> None:
        """Answer every caller in the batch, whatever happens: its reply, the store's error
        (a failed or late batch fails exactly its callers), or a bug's exception."""
        if here.batch is batch:
            here.batch = None  # later callers open the next batch
        remaining = batch.deadline - asyncio.get_running_loop().time()
        try:
            await asyncio.wait_for(_answer(here, batch.commands, batch.futures), remaining)
        except BaseException as exc:
            failure = exc
            if not isinstance(exc, Exception):  # cancelled (the loop is closing...)
                failure = ReplayCacheUnavailable("redis: the round trip was cancelled")
            for future in batch.futures:
                if not future.done():
                    future.set_exception(failure)
            if failure is not exc:
                raise

    async def aclose(self) -> None:
        """Close the running event loop's client (each loop that used the cache closes its
        own; the first client is closed from any loop if none has used it)."""
        with self._lock:
            here = self._loops.pop(asyncio.get_running_loop(), None)
        if here is not None:
            await here.client.aclose()
        elif self._owner is None:
            await self._client.aclose()


async def _answer(here: _Loop, commands: list[_Command], futures: list[_Future]) -> None:
    """Send the batch and answer its futures. In a cluster, one pipeline per node, each
    answered as it returns: a node that is down fails its own keys, not the others'."""
    groups: list[Sequence[int]] = [range(len(commands))]
    if here.cluster:
        cluster = cast("RedisCluster", here.client)
        await cluster.initialize()  # the slot map, at the first call
        by_node: dict[str | None, list[int]] = {}
        for i, command in enumerate(commands):
            try:
                node = cluster.get_node_from_key(command[1])
            except Exception:  # no node serves the slot: its pipeline says so
                node = None
            by_node.setdefault(node.name if node else None, []).append(i)
        groups = list(by_node.values())
    if len(groups) == 1:
        await _round_trip(here.client, commands, futures, groups[0])
    else:
        await asyncio.gather(*(_round_trip(here.client, commands, futures, g) for g in groups))


async def _round_trip(
    client: Client, commands: list[_Command], futures: list[_Future], group: Sequence[int]
) -> None:
    """One non-transactional pipeline, routed by redis-py (a lone SET goes as itself); a
    SET's own error (``raise_on_error=False``) answers its caller only."""
    answers: list[Any]
    try:
        if len(group) == 1:
            answers = [await client.execute_command(*commands[group[0]])]
        else:
            pipe = client.pipeline(transaction=False)
            for i in group:
                pipe.execute_command(*commands[i])
            answers = await pipe.execute(raise_on_error=False)
    except Exception as exc:
        answers = [exc] * len(group)
    for i, answer in zip(group, answers, strict=True):
        if futures[i].done():  # its caller was cancelled
            continue
        if isinstance(answer, Exception):
            futures[i].set_exception(answer)
        else:
            futures[i].set_result(answer)


def _address(node: str | tuple[str, int]) -> tuple[str, int]:
    """``"host:port"`` (``"[::1]:7000"`` for IPv6) or ``(host, port)``, as ``(host, port)``."""
    try:
        if isinstance(node, str):
            host, _, port = node.rpartition(":")
            return host.strip("[]"), int(port)
        host, number = node
        return str(host), int(number)
    except (TypeError, ValueError):
        raise ValueError("each node must be 'host:port' or (host, port)") from None
