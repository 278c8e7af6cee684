"""RedisReplayCache against a real redis-server: shared, atomic, bounded, fail-closed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio
from _asgi import echo_app, free_port
from _redis import RedisServer, redis_server
from _signing import CLIENT_ID, SECRET, signed

from hmac_asgi import HMACMiddleware, RedisReplayCache, ReplayCache, ReplayCacheUnavailable

ROOT = Path(__file__).resolve().parent.parent
UNAVAILABLE = {
    "detail": "Authentication is temporarily unavailable (replay cache).",
    "code": "unavailable",
}


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with redis_server() as started:
        yield started


@pytest.fixture
async def cache(server: RedisServer) -> AsyncIterator[RedisReplayCache]:
    replay_cache = RedisReplayCache.from_url(server.url)
    yield replay_cache
    await replay_cache.aclose()


def client_for(app: HMACMiddleware) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


# The cache on its own.


@pytest.mark.anyio
async def test_add_once_true_then_false(cache: RedisReplayCache) -> None:
    assert isinstance(cache, ReplayCache)
    assert await cache.add_once("k", 5) is True
    assert await cache.add_once("k", 5) is False
    assert await cache.add_once("other", 5) is True
    pttl = await cache.client.pttl("hmac_asgi:replay:k")
    assert 4000 < pttl <= 5000


@pytest.mark.anyio
async def test_sub_millisecond_ttl_rounds_up_to_one_ms(cache: RedisReplayCache) -> None:
    # PX 0 is an error in Redis: the TTL must be rounded up, never down to 0.
    assert await cache.add_once("tiny", 0.0004) is True


@pytest.mark.anyio
@pytest.mark.parametrize("ttl", [0, -1, math.nan, math.inf])
async def test_bad_ttl_is_a_value_error_not_unavailable(
    cache: RedisReplayCache, ttl: float
) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await cache.add_once("k", ttl)


@pytest.mark.anyio
async def test_connection_refused_is_unavailable_quickly() -> None:
    cache = RedisReplayCache.from_url(f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    with pytest.raises(ReplayCacheUnavailable) as info:
        await cache.add_once("k", 5)
    assert time.monotonic() - started < 2
    assert isinstance(info.value.__cause__, redis.exceptions.ConnectionError)
    await cache.aclose()


@pytest.mark.anyio
async def test_from_url_sets_socket_timeouts(server: RedisServer) -> None:
    cache = RedisReplayCache.from_url(server.url, timeout=0.25, socket_connect_timeout=1.0)
    kwargs = cache.client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 0.25
    assert kwargs["socket_connect_timeout"] == 1.0
    await cache.aclose()
    cache = RedisReplayCache.from_url(server.url, timeout=0.25)
    kwargs = cache.client.connection_pool.connection_kwargs
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (0.25, 0.25)
    await cache.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"timeout": 0}, ValueError),
        ({"timeout": math.nan}, ValueError),
        ({"timeout": True}, TypeError),
        ({"prefix": b"x:"}, TypeError),
    ],
)
async def test_constructor_errors(kwargs: dict[str, Any], error: type[Exception]) -> None:
    client = redis.asyncio.Redis()
    with pytest.raises(error):
        RedisReplayCache(client, **kwargs)
    await client.aclose()


def test_without_redis_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("redis", "redis.asyncio", "redis.exceptions"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import name` fail
    with pytest.raises(ImportError, match=r"pip install 'hmac-asgi\[redis\]'"):
        RedisReplayCache.from_url("redis://127.0.0.1:6379/0")
    with pytest.raises(ImportError, match=r"pip install 'hmac-asgi\[redis\]'"):
        RedisReplayCache(object())  # type: ignore[arg-type]


def test_import_hmac_asgi_does_not_need_redis() -> None:
    code = "import sys; sys.modules['redis'] = None; import hmac_asgi; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
    assert result.stdout.strip() == b"ok", result.stderr.decode()


# Through the middleware.


@pytest.mark.anyio
async def test_key_has_prefix_and_ttl_within_window(server: RedisServer) -> None:
    cache = RedisReplayCache.from_url(server.url, prefix="myapp:replay:")
    app = HMACMiddleware(echo_app, secret_key=SECRET, replay_cache=cache, max_age=5)
    headers = signed("destiny", b"body").httpx
    async with client_for(app) as client:
        assert (await client.post("/", content=b"body", headers=headers)).status_code == 200
    signature = headers["Authorization"].removeprefix("Signature ")
    keys = await cache.client.keys("*")
    assert keys == [f"myapp:replay:{CLIENT_ID}:{signature}".encode()]
    pttl = await cache.client.pttl(keys[0])
    # Kept while any server could still accept it: 2 * max_age (clock differences
    # between servers up to max_age) plus the longest body read (30 s + 1 s tick).
    assert (2 * 5 + 30) * 1000 < pttl <= (2 * 5 + 31) * 1000
    await cache.aclose()


@pytest.mark.anyio
async def test_future_dated_request_is_remembered_until_its_own_expiry(
    server: RedisServer,
) -> None:
    # Dated almost max_age ahead, a request stays fresh for almost 2 * max_age: its key
    # must live at least until timestamp + max_age, not max_age from now. Redis expires
    # keys on its own clock: its PTTL says when, with no need to wait for it.
    cache = RedisReplayCache.from_url(server.url)
    app = HMACMiddleware(echo_app, secret_key=SECRET, replay_cache=cache, max_age=30)
    timestamp = time.time() + 29.5
    headers = signed("destiny", at=f"{timestamp}").httpx
    async with client_for(app) as client:
        assert (await client.get("/", headers=headers)).status_code == 200
        replay = await client.get("/", headers=headers)
        assert (replay.status_code, replay.json().get("code")) == (401, "replayed")
    (key,) = await cache.client.keys("*")
    expires = time.time() + await cache.client.pttl(key) / 1000
    assert expires >= timestamp + 30
    await cache.aclose()


@pytest.mark.anyio
async def test_concurrent_copies_at_two_instances_exactly_one_passes(
    server: RedisServer,
) -> None:
    caches = [RedisReplayCache.from_url(server.url) for _ in range(2)]
    apps = [HMACMiddleware(echo_app, secret_key=SECRET, replay_cache=c) for c in caches]
    body = b'{"transfer": 100}'
    headers = signed("destiny", body).httpx
    async with client_for(apps[0]) as one, client_for(apps[1]) as two:
        responses = await asyncio.gather(
            *((one if i % 2 else two).post("/", content=body, headers=headers) for i in range(20))
        )
    for cache in caches:
        await cache.aclose()
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [401] * 19
    assert {r.json()["code"] for r in responses if r.status_code == 401} == {"replayed"}


@pytest.mark.anyio
async def test_redis_stopped_fails_closed_then_resumes(server: RedisServer) -> None:
    cache = RedisReplayCache.from_url(server.url)
    app = HMACMiddleware(echo_app, secret_key=SECRET, replay_cache=cache)
    async with client_for(app) as client:
        assert (await client.get("/", headers=signed("destiny").httpx)).status_code == 200
        server.stop()
        started = time.monotonic()
        refused = await client.get("/", headers=signed("destiny").httpx)
        elapsed = time.monotonic() - started
        assert refused.status_code == 503
        assert refused.json() == UNAVAILABLE
        assert elapsed < 2
        server.start()  # same port
        headers = signed("destiny", b"again").httpx
        assert (await client.post("/", content=b"again", headers=headers)).status_code == 200
        replay = await client.post("/", content=b"again", headers=headers)
        assert replay.json()["code"] == "replayed"
    await cache.aclose()


@pytest.mark.anyio
async def test_redis_not_answering_is_bounded_by_timeout(server: RedisServer) -> None:
    # The socket timeout is long: only the cache's own timeout bounds the call.
    client = redis.asyncio.Redis(host="127.0.0.1", port=server.port, socket_timeout=5)
    cache = RedisReplayCache(client, timeout=0.3)
    app = HMACMiddleware(echo_app, secret_key=SECRET, replay_cache=cache)
    async with client_for(app) as http:
        assert (await http.get("/", headers=signed("destiny").httpx)).status_code == 200
        with server.paused():
            started = time.monotonic()
            refused = await http.get("/", headers=signed("destiny").httpx)
            elapsed = time.monotonic() - started
        assert refused.status_code == 503
        assert refused.json() == UNAVAILABLE
        assert 0.25 < elapsed < 2
        resumed = await http.post("/", content=b"x", headers=signed("destiny", b"x").httpx)
        assert resumed.status_code == 200
    await cache.aclose()


@pytest.mark.anyio
async def test_fail_open_lets_requests_through_and_logs_error(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    cache = RedisReplayCache.from_url(server.url)
    app = HMACMiddleware(echo_app, secret_key=SECRET, replay_cache=cache, replay_fail_open=True)
    server.stop()
    with caplog.at_level(logging.ERROR, logger="hmac_asgi"):
        async with client_for(app) as client:
            response = await client.get("/", headers=signed("destiny").httpx)
    assert response.status_code == 200
    errors = [r for r in caplog.records if r.name == "hmac_asgi" and r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "fail open" in errors[0].getMessage()
    await cache.aclose()


# Two real uvicorn worker processes sharing one Redis.


def _worker_pids(base_url: str, proc: subprocess.Popen[bytes], timeout: float) -> set[int]:
    """Poll /health on fresh connections until both workers have answered."""
    pids: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(pids) < 2 and time.monotonic() < deadline and proc.poll() is None:
        try:
            pids.add(httpx.get(f"{base_url}/health", timeout=1).json()["pid"])
        except httpx.TransportError:
            time.sleep(0.1)
    return pids


@contextlib.contextmanager
def uvicorn_workers(redis_url: str) -> Iterator[tuple[str, set[int]]]:
    """``uvicorn --workers 2`` serving examples/multiworker_redis.py; always terminated."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "REDIS_URL": redis_url, "HMAC_SECRET_KEY": SECRET}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "examples.multiworker_redis:create_app"]
    cmd += ["--workers", "2", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--log-level", "warning", "--app-dir", str(ROOT)]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )
        try:
            pids = _worker_pids(base_url, proc, timeout=30)
            log.seek(0)
            assert len(pids) == 2, f"workers not ready: {pids}\n{log.read().decode()}"
            yield base_url, pids
        finally:
            proc.terminate()  # uvicorn's supervisor stops its workers
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # our own session: parent and workers
                proc.wait(5)


@pytest.mark.anyio
async def test_two_uvicorn_workers_accept_a_request_once(server: RedisServer) -> None:
    body = b'{"order": 42}'
    headers = signed("destiny", body).httpx
    with uvicorn_workers(server.url) as (base_url, pids):
        clients = [httpx.AsyncClient(base_url=base_url, timeout=10) for _ in range(4)]
        try:
            responses = await asyncio.gather(
                *(clients[i % 4].post("/whoami", content=body, headers=headers) for i in range(20))
            )
        finally:
            for client in clients:
                await client.aclose()
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [401] * 19, statuses
    assert {r.json()["code"] for r in responses if r.status_code == 401} == {"replayed"}
    winner = next(r for r in responses if r.status_code == 200).json()
    assert winner["client_id"] == str(CLIENT_ID) and winner["pid"] in pids
