"""RedisReplayCache's auto-pipelining, against a real redis-server.

Concurrent ``add_once`` calls on one event loop share one round trip; each caller still
gets its own answer, or ``ReplayCacheUnavailable`` within ``timeout`` of its own call.
Round trips are counted on the server: ``INFO stats``' ``total_reads_processed`` (socket
reads) and ``total_connections_received``, and ``MONITOR`` for what was sent.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio
from _asgi import echo_app
from _redis import RedisServer, redis_server
from _signing import SECRET, signed

from hmac_asgi import HMACMiddleware, RedisReplayCache, ReplayCacheUnavailable
from hmac_asgi._redis_batch import MAX_BATCH

PREFIX = "hmac_asgi:replay:"


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with redis_server() as started:
        yield started


@pytest.fixture
async def cache(server: RedisServer) -> AsyncIterator[RedisReplayCache]:
    replay_cache = RedisReplayCache.from_url(server.url)
    yield replay_cache
    await replay_cache.aclose()


@pytest.fixture
async def probe(server: RedisServer) -> AsyncIterator[redis.asyncio.Redis]:
    """A connection of its own, to read the server's counters."""
    client = redis.asyncio.Redis.from_url(server.url)
    await client.ping()
    yield client
    await client.aclose()


async def counters(probe: redis.asyncio.Redis) -> dict[str, int]:
    """Socket reads and connections so far (the INFO call's own read included), and SETs."""
    stats = await probe.info("stats")
    sets = (await probe.info("commandstats")).get("cmdstat_set", {}).get("calls", 0)
    reads, accepted = stats["total_reads_processed"], stats["total_connections_received"]
    return {"reads": reads, "connections": accepted, "sets": sets}


async def since(probe: redis.asyncio.Redis, before: dict[str, int]) -> dict[str, int]:
    after = await counters(probe)
    # Less the reads of the two INFO commands made by `counters` after `before`.
    return {k: after[k] - before[k] - (2 if k == "reads" else 0) for k in after}


def keys(n: int, tag: str = "k") -> list[str]:
    return [f"{tag}-{i}-{time.monotonic_ns()}" for i in range(n)]


@pytest.mark.anyio
async def test_concurrent_calls_share_one_round_trip(
    cache: RedisReplayCache, probe: redis.asyncio.Redis
) -> None:
    assert await cache.add_once("warm-up", 5) is True  # the pool's connection, made once
    before = await counters(probe)
    answers = await asyncio.gather(*(cache.add_once(key, 5) for key in keys(100)))
    assert answers == [True] * 100
    # 100 SETs on the pooled connection, read by the server at once: one round trip.
    # Unpipelined, they would be 100 reads on 99 new connections.
    assert await since(probe, before) == {"reads": 1, "connections": 0, "sets": 100}


@pytest.mark.anyio
async def test_calls_in_separate_turns_get_separate_round_trips(
    cache: RedisReplayCache, probe: redis.asyncio.Redis
) -> None:
    assert await cache.add_once("warm-up", 5) is True
    before = await counters(probe)
    for key in keys(5):
        assert await cache.add_once(key, 5) is True
    assert await since(probe, before) == {"reads": 5, "connections": 0, "sets": 5}


@pytest.mark.anyio
async def test_more_callers_than_a_batch_holds_open_another(
    cache: RedisReplayCache, probe: redis.asyncio.Redis
) -> None:
    n = MAX_BATCH + 44
    assert await asyncio.gather(*(cache.add_once(k, 5) for k in keys(n, "warm"))) == [True] * n
    before = await counters(probe)
    answers = await asyncio.gather(*(cache.add_once(key, 5) for key in keys(n)))
    assert answers == [True] * n
    delta = await since(probe, before)
    # Two batches in flight at once, on the two pooled connections; a batch of 256 SETs
    # (19 KB) may take the server two reads of 16 KB.
    assert delta["sets"] == n and delta["connections"] == 0
    assert 2 <= delta["reads"] <= 4


@pytest.mark.anyio
async def test_a_batch_is_plain_sets_not_a_transaction(
    cache: RedisReplayCache, server: RedisServer
) -> None:
    monitor_client = redis.asyncio.Redis.from_url(server.url)
    seen: list[str] = []
    async with monitor_client.monitor() as monitor:
        assert await cache.add_once("one", 5) is True  # alone: the same command as ever
        assert await asyncio.gather(*(cache.add_once(k, 2.0001) for k in "abc")) == [True] * 3
        while len(seen) < 4 or any(c.startswith(("MULTI", "EXEC")) for c in seen[-1:]):
            command = (await asyncio.wait_for(monitor.next_command(), 5))["command"]
            if command.startswith(("SET", "MULTI", "EXEC")):
                seen.append(command)
    await monitor_client.aclose()
    assert seen == [
        f"SET {PREFIX}one 1 NX PX 5000",
        *(f"SET {PREFIX}{k} 1 NX PX 2001" for k in "abc"),  # TTL rounded up, as before
    ]


@pytest.mark.anyio
async def test_copies_at_two_instances_one_true(server: RedisServer) -> None:
    caches = [RedisReplayCache.from_url(server.url) for _ in range(2)]
    answers = await asyncio.gather(*(caches[i % 2].add_once("same", 5) for i in range(100)))
    assert answers.count(True) == 1 and answers.count(False) == 99
    for cache in caches:
        await cache.aclose()


@pytest.mark.anyio
async def test_copies_through_two_middlewares_one_passes(server: RedisServer) -> None:
    import httpx

    caches = [RedisReplayCache.from_url(server.url) for _ in range(2)]
    apps = [HMACMiddleware(echo_app, secret_key=SECRET, replay_cache=c) for c in caches]
    body = b'{"pay": 1}'
    headers = signed("destiny", body).httpx
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        for app in apps
    ]
    responses = await asyncio.gather(
        *(clients[i % 2].post("/", content=body, headers=headers) for i in range(100))
    )
    for client in clients:
        await client.aclose()
    for cache in caches:
        await cache.aclose()
    assert sorted(r.status_code for r in responses) == [200] + [401] * 99


@pytest.mark.anyio
async def test_a_refused_set_answers_only_its_caller(server: RedisServer) -> None:
    # An ACL that lets this user SET only keys under `ok`: the other SET's NOPERM error
    # comes back in its place in the pipeline, and fails its caller alone.
    admin = redis.asyncio.Redis.from_url(server.url)
    await admin.acl_setuser(
        "limited",
        enabled=True,
        nopass=True,
        keys=[f"{PREFIX}ok*"],
        commands=["+set", "+@connection"],
    )
    await admin.aclose()
    cache = RedisReplayCache.from_url(server.url, username="limited", password="")
    answers = await asyncio.gather(
        cache.add_once("ok-1", 5), cache.add_once("no-1", 5), cache.add_once("ok-2", 5),
        return_exceptions=True,
    )  # fmt: skip
    assert answers[0] is True and answers[2] is True
    assert isinstance(answers[1], ReplayCacheUnavailable)
    assert "NoPermissionError" in str(answers[1])
    await cache.aclose()


@pytest.mark.anyio
async def test_paused_server_fails_the_batch_within_timeout_then_next_passes(
    server: RedisServer,
) -> None:
    client = redis.asyncio.Redis(host="127.0.0.1", port=server.port, socket_timeout=5)
    cache = RedisReplayCache(client, timeout=0.3)
    assert await cache.add_once("warm-up", 5) is True
    with server.paused():
        started = time.monotonic()
        answers = await asyncio.gather(
            *(cache.add_once(key, 5) for key in keys(20)), return_exceptions=True
        )
        elapsed = time.monotonic() - started
    assert all(isinstance(a, ReplayCacheUnavailable) for a in answers), answers
    assert {str(a) for a in answers} == {"redis: TimeoutError: no answer within 0.3 s"}
    assert 0.25 < elapsed < 1.5
    # The stuck connection was dropped: the next batch gets a fresh one and passes.
    answers = await asyncio.gather(*(cache.add_once(key, 5) for key in keys(20, "after")))
    assert answers == [True] * 20
    await cache.aclose()


@pytest.mark.anyio
async def test_cancelled_caller_does_not_cancel_the_batch(
    cache: RedisReplayCache, server: RedisServer
) -> None:
    assert await cache.add_once("warm-up", 5) is True
    with server.paused():  # the batch is in flight while a caller goes away
        tasks = [asyncio.create_task(cache.add_once(f"c{i}", 5)) for i in range(10)]
        await asyncio.sleep(0.05)
        tasks[3].cancel()
        await asyncio.sleep(0.05)
    answers = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(answers[3], asyncio.CancelledError)
    assert answers[:3] + answers[4:] == [True] * 9
    assert await cache.client.exists(f"{PREFIX}c3") == 1  # its SET went out with the rest


@pytest.mark.anyio
async def test_a_cancelled_round_trip_answers_its_callers(
    cache: RedisReplayCache, server: RedisServer
) -> None:
    # The batch's own task cancelled (its event loop shutting down): every caller still
    # gets an answer, ReplayCacheUnavailable, never a hang or the task's CancelledError.
    assert await cache.add_once("warm-up", 5) is True
    here = cache._loops[asyncio.get_running_loop()]
    with server.paused():
        callers = [asyncio.create_task(cache.add_once(f"x{i}", 5)) for i in range(3)]
        await asyncio.sleep(0.05)
        (sending,) = here.sending
        sending.cancel()
        answers = await asyncio.wait_for(asyncio.gather(*callers, return_exceptions=True), 5)
    for answer in answers:
        assert isinstance(answer, ReplayCacheUnavailable)
        assert str(answer) == "redis: the round trip was cancelled"
    assert await cache.add_once("after", 5) is True


@pytest.mark.anyio
async def test_cancelled_caller_through_the_middleware(server: RedisServer) -> None:
    # A client that disconnects mid-request cancels its own task only.
    cache = RedisReplayCache.from_url(server.url)
    app = HMACMiddleware(echo_app, secret_key=SECRET, replay_cache=cache)
    import httpx

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        await client.get("/", headers=signed("destiny").httpx)  # warm-up
        with server.paused():
            bodies = [f"b{i}".encode() for i in range(6)]
            tasks = [
                asyncio.create_task(client.post("/", content=b, headers=signed("destiny", b).httpx))
                for b in bodies
            ]
            await asyncio.sleep(0.05)
            tasks[0].cancel()
            await asyncio.sleep(0.05)
        responses = await asyncio.gather(*tasks[1:])
    assert [r.status_code for r in responses] == [200] * 5
    await cache.aclose()


def test_two_event_loops_in_two_threads_share_one_cache(server: RedisServer) -> None:
    cache = RedisReplayCache.from_url(server.url)
    results: dict[str, Any] = {}
    start = threading.Barrier(2)

    def worker(name: str) -> None:
        async def main() -> tuple[list[bool], list[bool], Any]:
            start.wait()
            own = await asyncio.gather(*(cache.add_once(f"{name}-{i}", 5) for i in range(50)))
            shared = await asyncio.gather(*(cache.add_once("shared", 5) for _ in range(50)))
            client = cache.client
            await cache.aclose()
            return own, shared, client

        try:
            results[name] = asyncio.run(main())
        except BaseException as exc:  # reported below, not lost in the thread
            results[name] = exc

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    a, b = results["a"], results["b"]
    assert not isinstance(a, BaseException), a
    assert not isinstance(b, BaseException), b
    assert a[0] == [True] * 50 and b[0] == [True] * 50
    assert (a[1] + b[1]).count(True) == 1  # the shared key: once, across both loops
    assert a[2] is not b[2]  # each loop had a client of its own


@pytest.mark.anyio
async def test_given_client_serves_one_loop(server: RedisServer) -> None:
    cache = RedisReplayCache(redis.asyncio.Redis.from_url(server.url))
    assert await cache.add_once("first-loop", 5) is True

    async def from_another_loop() -> bool:
        return await cache.add_once("second-loop", 5)

    with pytest.raises(RuntimeError, match="from_url"):
        await asyncio.to_thread(asyncio.run, from_another_loop())
    await cache.aclose()


@pytest.mark.anyio
async def test_after_aclose_the_same_loop_can_use_it_again(cache: RedisReplayCache) -> None:
    assert await cache.add_once("before", 5) is True
    await cache.aclose()
    assert await cache.add_once("after", 5) is True
    assert await cache.add_once("before", 5) is False


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_late_batch_fails_only_its_own_callers(server: RedisServer) -> None:
    # Batch A goes out at 0 s, batch B at 0.8 s (on a second connection), both into a
    # frozen server. A's callers fail at their deadline, 1.6 s; the server resumes at
    # 2 s, before B's deadline (2.4 s), and every caller in B gets its answer.
    client = redis.asyncio.Redis(host="127.0.0.1", port=server.port, socket_timeout=10)
    cache = RedisReplayCache(client, timeout=1.6)
    assert await cache.add_once("warm-up", 5) is True
    with server.paused():
        first = [asyncio.create_task(cache.add_once(k, 5)) for k in keys(10, "a")]
        await asyncio.sleep(0.8)
        second = [asyncio.create_task(cache.add_once(k, 5)) for k in keys(10, "b")]
        await asyncio.sleep(1.2)
        assert all(task.done() for task in first)
        assert not any(task.done() for task in second)
    answers = await asyncio.gather(*first, return_exceptions=True)
    assert all(isinstance(a, ReplayCacheUnavailable) for a in answers), answers
    assert await asyncio.gather(*second) == [True] * 10
    await cache.aclose()


@pytest.mark.anyio
async def test_pure_python_parser_too(server: RedisServer) -> None:
    # hiredis comes with the [redis] extra; without it redis-py parses in Python. The
    # RESP2 class is the one every redis-py from 5.0.1 on has (8.x swaps in its RESP3
    # counterpart when the connection speaks RESP3).
    from redis._parsers import _AsyncRESP2Parser

    cache = RedisReplayCache.from_url(server.url, parser_class=_AsyncRESP2Parser)
    names = keys(50)
    assert await asyncio.gather(*(cache.add_once(k, 5) for k in names)) == [True] * 50
    assert await asyncio.gather(*(cache.add_once(k, 5) for k in names)) == [False] * 50
    assert cache.client.connection_pool.connection_kwargs["parser_class"] is _AsyncRESP2Parser
    await cache.aclose()
