"""RedisReplayCache on a real Redis Cluster: three masters on 127.0.0.1, no replicas.

Keys spread over the slots of every master; batches go out as one pipeline per node;
redirections (MOVED after a slot moved, ASK during a migration) are followed; a master
that is down or frozen fails its own keys closed (503) within the timeout, and requests
pass again once it is back.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from _asgi import echo_app
from _redis import ClusterNodeServer, ClusterServers, redis_cluster
from _signing import CLIENT_ID, SECRET, signed
from redis.asyncio.cluster import RedisCluster

from hmac_asgi import HMACMiddleware, RedisReplayCache, ReplayCacheUnavailable

PREFIX = "hmac_asgi:replay:"
UNAVAILABLE = {
    "detail": "Authentication is temporarily unavailable (replay cache).",
    "code": "unavailable",
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterServers]:
    with redis_cluster() as started:
        yield started


@pytest.fixture
async def cache(cluster: ClusterServers) -> AsyncIterator[RedisReplayCache]:
    # A generous timeout: these tests check answers, not speed (a MOVED slot map is
    # reloaded in several round trips, slow on a loaded machine); the ones about
    # timeouts make caches of their own.
    replay_cache = RedisReplayCache.from_nodes(cluster.addresses, timeout=5.0)
    yield replay_cache
    await replay_cache.aclose()


def client_for(app: HMACMiddleware) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def unique(n: int, tag: str) -> list[str]:
    return [f"{tag}-{i}-{time.monotonic_ns()}" for i in range(n)]


def dbsizes(cluster: ClusterServers) -> list[int]:
    return [int(node.cli("dbsize")) for node in cluster.nodes]


@pytest.mark.anyio
async def test_keys_spread_over_every_master(
    cache: RedisReplayCache, cluster: ClusterServers
) -> None:
    assert isinstance(cache.client, RedisCluster)
    keys = unique(300, "spread")
    before = dbsizes(cluster)
    assert await asyncio.gather(*(cache.add_once(k, 30) for k in keys)) == [True] * 300
    assert await asyncio.gather(*(cache.add_once(k, 30) for k in keys)) == [False] * 300
    added = [after - was for after, was in zip(dbsizes(cluster), before, strict=True)]
    masters = cluster.masters()
    expected = Counter(cluster.node_of(PREFIX + k, masters).port for k in keys)
    assert added == [expected[node.port] for node in cluster.nodes]
    assert sum(added) == 300 and min(added) > 50  # no hash tag pins them to one slot


@pytest.mark.anyio
async def test_from_url_with_cluster_true(cluster: ClusterServers) -> None:
    cache = RedisReplayCache.from_url(cluster.url, cluster=True, timeout=0.25)
    assert isinstance(cache.client, RedisCluster)
    assert cache.client.get_connection_kwargs()["socket_timeout"] == 0.25
    keys = unique(30, "url")
    assert await asyncio.gather(*(cache.add_once(k, 30) for k in keys)) == [True] * 30
    assert await cache.add_once(keys[0], 30) is False
    await cache.aclose()


@pytest.mark.anyio
async def test_plain_client_on_a_cluster_is_unavailable_not_an_error(
    cluster: ClusterServers,
) -> None:
    # Forgetting cluster=True: the node answers MOVED for the keys of the other masters,
    # which redis-py's plain client does not follow. Those fail closed (503), never 500.
    cache = RedisReplayCache.from_url(cluster.url)
    keys = unique(30, "plain")
    try:
        answers = await asyncio.gather(
            *(cache.add_once(k, 30) for k in keys), return_exceptions=True
        )
    finally:
        await cache.aclose()
    masters, first = cluster.masters(), cluster.nodes[0]
    for key, answer in zip(keys, answers, strict=True):
        if cluster.node_of(PREFIX + key, masters) is first:
            assert answer is True
        else:  # MovedError, or a plain ResponseError from older redis-py with hiredis
            assert isinstance(answer, ReplayCacheUnavailable)
            assert "moved" in str(answer).lower()


@pytest.mark.anyio
async def test_replay_refused_across_two_middlewares(cluster: ClusterServers) -> None:
    caches = [
        RedisReplayCache.from_nodes(cluster.addresses),
        RedisReplayCache.from_url(cluster.url, cluster=True),
    ]
    apps = [HMACMiddleware(echo_app, secret_key=SECRET, replay_cache=c) for c in caches]
    async with client_for(apps[0]) as one, client_for(apps[1]) as two:
        bodies = [f"order {i}".encode() for i in range(30)]
        requests = [(body, signed("destiny", body).httpx) for body in bodies]
        fresh = await asyncio.gather(
            *(
                (one, two)[i % 2].post("/", content=b, headers=h)
                for i, (b, h) in enumerate(requests)
            )
        )
        assert [r.status_code for r in fresh] == [200] * 30
        replays = await asyncio.gather(
            *(
                (two, one)[i % 2].post("/", content=b, headers=h)
                for i, (b, h) in enumerate(requests)
            )
        )
        assert {r.json()["code"] for r in replays} == {"replayed"}
        body = b'{"transfer": 100}'
        headers = signed("destiny", body).httpx
        copies = await asyncio.gather(
            *((one, two)[i % 2].post("/", content=body, headers=headers) for i in range(20))
        )
    assert sorted(r.status_code for r in copies) == [200] + [401] * 19
    for cache in caches:
        await cache.aclose()


def _move_slot(cluster: ClusterServers, slot: int, target: ClusterNodeServer) -> None:
    """Give an empty ``slot`` to ``target`` on every master (what a resharding ends with),
    and wait until gossip has told every node: the tests then check the cache, not Redis."""
    target.cli("cluster", "bumpepoch")
    cluster.wait_consistent()  # every node knows the target's new epoch before the move
    target_id = cluster.node_id(target)
    for node in [target, *(n for n in cluster.nodes if n is not target)]:
        node.cli("cluster", "setslot", str(slot), "node", target_id)
    cluster.wait_consistent()


@pytest.mark.anyio
async def test_moved_slot_is_followed(cache: RedisReplayCache, cluster: ClusterServers) -> None:
    from redis.crc import key_slot

    assert await cache.add_once(unique(1, "map")[0], 30) is True  # the slot map is loaded
    key = unique(1, "moved")[0]
    owner = cluster.node_of(PREFIX + key)
    target = next(node for node in cluster.nodes if node is not owner)
    _move_slot(cluster, key_slot((PREFIX + key).encode()), target)
    # The cache's map is stale: the old owner answers MOVED, redis-py follows it.
    assert await cache.add_once(key, 30) is True
    assert await cache.add_once(key, 30) is False
    assert target.cli("exists", PREFIX + key).strip() == "1"


@pytest.mark.anyio
async def test_ask_during_a_migration_keeps_exactly_once(
    cache: RedisReplayCache, cluster: ClusterServers
) -> None:
    from redis.crc import key_slot

    assert await cache.add_once(unique(1, "map")[0], 30) is True
    key = unique(1, "ask")[0]
    slot = str(key_slot((PREFIX + key).encode()))
    source = cluster.node_of(PREFIX + key)
    target = next(node for node in cluster.nodes if node is not source)
    target.cli("cluster", "setslot", slot, "importing", cluster.node_id(source))
    source.cli("cluster", "setslot", slot, "migrating", cluster.node_id(target))
    try:
        # A key the source does not hold: ASK, then ASKING + SET at the target.
        answers = await asyncio.gather(*(cache.add_once(key, 30) for _ in range(10)))
        assert sorted(answers) == [False] * 9 + [True]
        assert await cache.add_once(key, 30) is False
    finally:
        _move_slot(cluster, int(slot), target)  # the migration ends: the key is the target's
    assert cluster.node_of(PREFIX + key) is target
    assert target.cli("exists", PREFIX + key).strip() == "1"
    assert await cache.add_once(key, 30) is False


# A master going away, in a cluster of its own (slow: it is stopped and restarted).


async def _requests_by_node(
    cluster: ClusterServers, n: int
) -> list[tuple[bytes, dict[str, str], ClusterNodeServer]]:
    """``n`` freshly signed requests, each with the master its replay key lands on."""
    masters, out = cluster.masters(), []
    for i in range(n):
        body = f"request {i} {time.monotonic_ns()}".encode()
        headers = signed("destiny", body).httpx
        signature = headers["Authorization"].removeprefix("Signature ")
        out.append((body, headers, cluster.node_of(f"{PREFIX}{CLIENT_ID}:{signature}", masters)))
    return out


async def _node_away_then_back(how: str) -> None:
    with redis_cluster() as cluster:
        cache = RedisReplayCache.from_nodes(cluster.addresses, timeout=0.5)
        app = HMACMiddleware(echo_app, secret_key=SECRET, replay_cache=cache)
        away = cluster.nodes[1]
        async with client_for(app) as client:

            async def send(requests: list[tuple[bytes, dict[str, str], ClusterNodeServer]]) -> Any:
                return await asyncio.gather(
                    *(client.post("/", content=b, headers=h) for b, h, _ in requests)
                )

            warm = await _requests_by_node(cluster, 30)
            assert [r.status_code for r in await send(warm)] == [200] * 30
            requests = await _requests_by_node(cluster, 30)
            assert any(node is away for *_, node in requests)
            if how == "kill":
                away.stop()
            else:
                assert away.process is not None
                away.process.send_signal(signal.SIGSTOP)
            try:
                started = time.monotonic()
                responses = await send(requests)
                elapsed = time.monotonic() - started
            finally:
                if how == "kill":
                    away.start()  # same port and node file: it rejoins as itself
                else:
                    away.process.send_signal(signal.SIGCONT)
            assert elapsed < 2, elapsed  # the timeout, not a hang
            for (_, _, node), response in zip(requests, responses, strict=True):
                if node is away:
                    assert (response.status_code, response.json()) == (503, UNAVAILABLE)
                elif how == "pause":  # its pipeline is its own: the others pass
                    assert response.status_code == 200
                else:  # redis-py re-reads the cluster after a refused connection, which
                    assert response.status_code in (200, 503)  # can cut the others too
            cluster.wait_ok()
            again = await _requests_by_node(cluster, 30)
            assert [r.status_code for r in await send(again)] == [200] * 30
            assert {r.json()["code"] for r in await send(again)} == {"replayed"}
        await cache.aclose()


@pytest.mark.slow
@pytest.mark.anyio
async def test_master_killed_fails_its_keys_closed_then_recovers() -> None:
    await _node_away_then_back("kill")


@pytest.mark.slow
@pytest.mark.anyio
async def test_master_frozen_fails_its_keys_closed_others_pass_then_recovers() -> None:
    await _node_away_then_back("pause")
