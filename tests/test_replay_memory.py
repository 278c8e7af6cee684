"""MemoryReplayCache: once per key, bounded, expiring, and wired into the middleware."""

from __future__ import annotations

import asyncio
import math
import random
import time
from typing import Any

import httpx
import pytest
from _asgi import echo_app
from _secrets import secret
from _signing import SECRET, signed

from hmac_asgi import HMACMiddleware, MemoryReplayCache, ReplayCache


class FakeClock:
    """Seconds that move only when a test says so."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_is_a_replay_cache() -> None:
    assert isinstance(MemoryReplayCache(), ReplayCache)


@pytest.mark.anyio
async def test_first_use_true_second_false() -> None:
    cache = MemoryReplayCache()
    assert await cache.add_once("a", 60) is True
    assert await cache.add_once("a", 60) is False
    assert await cache.add_once("b", 60) is True
    assert len(cache) == 2


@pytest.mark.anyio
async def test_concurrent_same_key_exactly_one_wins() -> None:
    cache = MemoryReplayCache()
    results = await asyncio.gather(*(cache.add_once("k", 60) for _ in range(50)))
    assert results.count(True) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("max_entries", [1, 7, 1000, 100_000])
async def test_bound_respected_under_100k_distinct_keys(max_entries: int) -> None:
    cache = MemoryReplayCache(max_entries=max_entries, clock=FakeClock())
    n = 100_001
    peak = 0
    for i in range(n):
        assert await cache.add_once(f"key-{i}", 60) is True
        peak = max(peak, len(cache))
    assert peak == min(n, max_entries)
    # The newest keys are still remembered; the evicted oldest one is not (the
    # documented flood trade-off), unless nothing had to be evicted.
    assert await cache.add_once(f"key-{n - 1}", 60) is False
    assert len(cache) == min(n, max_entries)


@pytest.mark.anyio
async def test_eviction_drops_the_soonest_to_expire() -> None:
    cache = MemoryReplayCache(max_entries=2, clock=FakeClock())
    for key in ("a", "b", "c"):
        assert await cache.add_once(key, 60)
    assert len(cache) == 2
    assert await cache.add_once("c", 60) is False
    assert await cache.add_once("b", 60) is False
    assert await cache.add_once("a", 60) is True  # evicted, so forgotten


@pytest.mark.anyio
async def test_entries_expire_after_their_window() -> None:
    clock = FakeClock()
    cache = MemoryReplayCache(clock=clock)
    assert await cache.add_once("a", 10)
    clock.now += 9.999
    assert await cache.add_once("a", 10) is False
    clock.now += 0.001
    assert await cache.add_once("a", 10) is True  # expired, purged, new again
    assert len(cache) == 1


@pytest.mark.anyio
async def test_expired_entries_are_purged_without_being_asked_about() -> None:
    clock = FakeClock()
    cache = MemoryReplayCache(clock=clock)
    for i in range(100):
        await cache.add_once(f"old-{i}", 1)
    clock.now += 2
    await cache.add_once("new", 1)
    assert len(cache) == 1


@pytest.mark.anyio
async def test_mixed_ttls_are_kept_at_least_as_long_as_asked() -> None:
    clock = FakeClock()
    cache = MemoryReplayCache(clock=clock)
    assert await cache.add_once("long", 100)
    assert await cache.add_once("short", 1)  # kept until "long" expires (t+100)
    clock.now += 50
    assert await cache.add_once("short", 1) is False
    assert await cache.add_once("long", 100) is False
    clock.now += 50
    assert await cache.add_once("short", 1) is True
    assert await cache.add_once("long", 100) is True


@pytest.mark.anyio
async def test_short_then_long_expire_in_their_own_time() -> None:
    clock = FakeClock()
    cache = MemoryReplayCache(clock=clock)
    assert await cache.add_once("short", 1)
    assert await cache.add_once("long", 100)
    clock.now += 2
    assert await cache.add_once("short", 1) is True
    assert await cache.add_once("long", 100) is False


@pytest.mark.anyio
async def test_random_ttls_never_forgotten_early() -> None:
    rng = random.Random(4)
    clock = FakeClock()
    cache = MemoryReplayCache(clock=clock)
    asked: dict[str, float] = {}  # key -> the expiry it asked for
    for i in range(3000):
        clock.now += rng.random() * 0.5
        ttl = rng.choice([0.001, 0.5, 3.0, 20.0]) * rng.random() + 0.001
        key = f"k{rng.randrange(400)}"
        new = await cache.add_once(key, ttl)
        if key in asked and clock.now < asked[key]:
            assert new is False, (i, key)
        if new:
            asked[key] = clock.now + ttl


@pytest.mark.anyio
@pytest.mark.parametrize("ttl", [0, -1, math.nan, math.inf])
async def test_bad_ttl_is_a_value_error(ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await MemoryReplayCache().add_once("a", ttl)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_entries": 0}, ValueError),
        ({"max_entries": True}, TypeError),
        ({"max_entries": "10"}, TypeError),
        ({"clock": 5}, TypeError),
    ],
)
def test_constructor_errors(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        MemoryReplayCache(**kwargs)


# Through the middleware.


def client_for(app: HMACMiddleware) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.anyio
async def test_same_signed_request_twice_is_replayed() -> None:
    cache = MemoryReplayCache()
    app = HMACMiddleware(echo_app, secret_key=SECRET, replay_cache=cache)
    body = b'{"n": 1}'
    headers = signed("destiny", body).httpx
    async with client_for(app) as client:
        first = await client.post("/x", content=body, headers=headers)
        second = await client.post("/x", content=body, headers=headers)
        other_body = body + b" "
        other = await client.post(
            "/x", content=other_body, headers=signed("destiny", other_body).httpx
        )
    assert first.status_code == 200
    assert second.status_code == 401
    assert second.json() == {"detail": "Request has already been used.", "code": "replayed"}
    assert second.headers["www-authenticate"] == "Signature"
    assert other.status_code == 200
    assert len(cache) == 2


@pytest.mark.anyio
async def test_forged_requests_do_not_enter_the_cache() -> None:
    cache = MemoryReplayCache(max_entries=1)
    app = HMACMiddleware(echo_app, secret_key=SECRET, replay_cache=cache)
    genuine = signed("destiny", b"hello").httpx
    async with client_for(app) as client:
        for i in range(20):
            forged = signed("destiny", b"hello", secret=secret(f"forger {i}")).httpx
            response = await client.post("/", content=b"hello", headers=forged)
            assert response.json()["code"] == "invalid_signature"
        assert len(cache) == 0
        assert (await client.post("/", content=b"hello", headers=genuine)).status_code == 200
        assert len(cache) == 1
        replay = await client.post("/", content=b"hello", headers=genuine)
    assert replay.json()["code"] == "replayed"


@pytest.mark.anyio
async def test_remembered_for_the_whole_freshness_window() -> None:
    clock = FakeClock(time.time())
    cache = MemoryReplayCache(clock=clock)
    app = HMACMiddleware(echo_app, secret_key=SECRET, replay_cache=cache, max_age=30, clock=clock)
    headers = signed("destiny", at=f"{clock.now}").httpx
    async with client_for(app) as client:
        assert (await client.get("/", headers=headers)).status_code == 200
        clock.now += 29.9  # still fresh: only the cache stands in the way
        assert (await client.get("/", headers=headers)).json()["code"] == "replayed"
        clock.now += 0.2  # past the window: now refused as expired
        assert (await client.get("/", headers=headers)).json()["code"] == "expired"


@pytest.mark.anyio
async def test_future_dated_request_is_remembered_until_its_own_expiry() -> None:
    # Dated almost max_age ahead, a request stays fresh for almost 2 * max_age: its
    # replay entry must last until timestamp + max_age, not max_age from now.
    clock = FakeClock(time.time())
    cache = MemoryReplayCache(clock=clock)
    app = HMACMiddleware(echo_app, secret_key=SECRET, replay_cache=cache, max_age=30, clock=clock)
    first_use = clock.now
    timestamp = first_use + 29.5
    headers = signed("destiny", at=f"{timestamp}").httpx
    async with client_for(app) as client:
        assert (await client.get("/", headers=headers)).status_code == 200
        for later in (30.5, 45.0, 59.4):  # past max_age from the first use, still fresh
            clock.now = first_use + later
            replay = await client.get("/", headers=headers)
            assert (replay.status_code, replay.json().get("code")) == (401, "replayed"), later
        clock.now = timestamp + 30.1  # the timestamp itself has expired
        assert (await client.get("/", headers=headers)).json()["code"] == "expired"
