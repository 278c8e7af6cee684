"""Replay caches: what remembering each signature costs a request.

In process, 1 KiB ``POST /echo`` on Starlette + ``HMACMiddleware``, every request signed
afresh (a cache refuses a copy): no cache, ``MemoryReplayCache``, ``RedisReplayCache`` on
one redis-server (redis-py's pure-Python reply parser, and hiredis' in the same rounds
when it is installed) and on a Redis Cluster of three masters, both started here on
127.0.0.1. One request at a time, and 32 in flight on the loop (``asyncio.gather`` of
32), where the cache pipelines. Over HTTP: uvicorn ``--workers 2`` sharing one Redis,
against the same two workers without a cache, loaded by wrk with a fresh signature per
request. Every answer is asserted 200, and a copy of a request 401 where a cache is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from time import perf_counter
from typing import Any

import httpx
from _apps import CLIENT_ID, SECRET, make_body, starlette
from _http_load import CONNECTIONS, HTTP, _cpu_seconds
from _inprocess import Exchange
from starlette.types import ASGIApp

from hmac_asgi import HMACMiddleware, MemoryReplayCache, RedisReplayCache, create_signature

HERE = Path(__file__).resolve().parent
INFLIGHT = (1, 32)
LABELS = {
    "none": "no replay cache",
    "memory": "MemoryReplayCache",
    "redis": "RedisReplayCache, pure-Python parser",
    "redis_hiredis": "RedisReplayCache, hiredis parser",
    "cluster": "RedisReplayCache on a 3-master Redis Cluster",
}
HTTP_LABELS = {
    "none": "2 workers, no replay cache",
    "redis": "2 workers, RedisReplayCache, pure-Python parser",
    "redis_hiredis": "2 workers, RedisReplayCache, hiredis parser",
}
_stamps = itertools.count()


def _fresh(body: bytes) -> list[tuple[bytes, bytes]]:
    """The auth headers for ``body`` with a timestamp no other request has."""
    stamp = f"{int(time.time())}.{next(_stamps) % 1_000_000:06d}"
    signature = create_signature(SECRET, body, CLIENT_ID, stamp)
    return [
        (b"authorization", f"Signature {signature}".encode()),
        (b"x-client-id", str(CLIENT_ID).encode()),
        (b"x-request-timestamp", stamp.encode()),
    ]


def _parsers() -> dict[str, Any]:
    """redis-py's reply parsers by configuration: pure Python always, hiredis if installed."""
    from redis._parsers import _AsyncHiredisParser, _AsyncRESP3Parser
    from redis.utils import HIREDIS_AVAILABLE

    found = {"redis": _AsyncRESP3Parser}  # RESP2's when the connection speaks RESP2
    return found | ({"redis_hiredis": _AsyncHiredisParser} if HIREDIS_AVAILABLE else {})


def serve() -> ASGIApp:
    """For ``uvicorn --factory _replay_bench:serve``: a cache on ``$REDIS_URL`` if set, with
    the reply parser named by ``$BENCH_CONFIG`` (``redis`` or ``redis_hiredis``)."""
    url, parser = os.environ.get("REDIS_URL"), _parsers().get(os.environ["BENCH_CONFIG"])
    cache = RedisReplayCache.from_url(url, parser_class=parser) if url else None
    return starlette(HMACMiddleware, secret_key=SECRET, replay_cache=cache)()


async def _timed(name: str, exchanges: list[Exchange], inflight: int) -> float:
    """µs per request for ``exchanges`` run ``inflight`` at a time; every answer 200."""
    statuses: list[int] = []
    start = perf_counter()
    for i in range(0, len(exchanges), inflight):
        answers = await asyncio.gather(*(e() for e in exchanges[i : i + inflight]))
        statuses += [status for status, _ in answers]
    elapsed = perf_counter() - start
    failed = len(statuses) - statuses.count(200)
    assert not failed, f"{name}: {failed}/{len(statuses)} requests did not get 200"
    await asyncio.sleep(0)  # untimed, as in _inprocess._batch
    return elapsed / len(exchanges) * 1e6


async def _inprocess(caches: dict[str, Any], rounds: int, batch: int) -> dict[str, Any]:
    body = make_body(1024)
    apps = {
        n: starlette(HMACMiddleware, secret_key=SECRET, replay_cache=c)() for n, c in caches.items()
    }
    for name, app in apps.items():  # a fresh request passes; its copy only without a cache
        auth = _fresh(body)
        statuses = [(await Exchange(app, body, auth)())[0] for _ in range(2)]
        assert statuses == [200, 401 if caches[name] else 200], f"{name}: {statuses}"
        await _timed(name, [Exchange(app, body, _fresh(body)) for _ in range(batch)], 32)
    samples = {c: {name: [] for name in apps} for c in INFLIGHT}
    for r in range(rounds):
        for inflight in INFLIGHT:
            names = list(apps)[r % len(apps) :] + list(apps)[: r % len(apps)]
            for name in names:
                exchanges = [Exchange(apps[name], body, _fresh(body)) for _ in range(batch)]
                samples[inflight][name].append(await _timed(name, exchanges, inflight))
    return {
        str(c): {
            "median_us": {n: statistics.median(v) for n, v in by.items()},
            "overhead_us": {
                n: statistics.median(a - b for a, b in zip(v, by["none"], strict=True))
                for n, v in by.items()
                if n != "none"
            },
        }
        for c, by in samples.items()
    }


_LUA = """\
local stamps, signatures, n, i = {{}}, {{}}, 0, 0
local body = [==[{body}]==]
init = function(args)
  for line in io.lines(args[1]) do
    n = n + 1
    stamps[n], signatures[n] = line:match("(%S+) (%S+)")
  end
end
request = function()
  i = i + 1  -- past the last signature: copies, which a cache refuses and wrk counts
  local k = (i - 1) % n + 1
  return wrk.format("POST", nil, {{["authorization"] = "Signature " .. signatures[k],
    ["x-client-id"] = "{client}", ["x-request-timestamp"] = stamps[k]}}, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests": %.0f, "duration_us": %.0f, "errors": %.0f, "p50_us": %.1f, '
    .. '"p99_us": %.1f}}\\n', summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its children (uvicorn's supervisor and its workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return _cpu_seconds(pid) + sum(_cpu_seconds(int(child)) for child in children)


def _wrk(pids: tuple[int, int], url: str, body: bytes, seconds: float) -> dict[str, float]:
    """One wrk run of fresh signatures (25,000 per second of run: more than it can send)."""
    with tempfile.TemporaryDirectory() as tmp:
        lines = []
        for _ in range(int(25_000 * max(1, round(seconds)))):
            headers = dict(_fresh(body))
            signature = headers[b"authorization"].decode().removeprefix("Signature ")
            lines.append(f"{headers[b'x-request-timestamp'].decode()} {signature}\n")
        Path(tmp, "signed.txt").write_text("".join(lines))
        lua = Path(tmp, "fresh.lua")
        lua.write_text(_LUA.format(body=body.decode("ascii"), client=CLIENT_ID))
        command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--timeout"]
        command += ["5s", "-s", str(lua), url, "--", str(Path(tmp, "signed.txt"))]
        server, redis = _tree_cpu(pids[0]), _cpu_seconds(pids[1]) if pids[1] else 0.0
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        server = _tree_cpu(pids[0]) - server
        redis = (_cpu_seconds(pids[1]) - redis) if pids[1] else 0.0
    found = [x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")]
    assert found, f"wrk on {url} failed: {done.stderr or done.stdout}"
    raw = json.loads(found[0].removeprefix("WRKJSON "))
    assert raw["requests"] > 0 and not raw["errors"], f"wrk on {url}: {raw}"
    n = raw["requests"]
    return {
        "requests": n,
        "rps": n / raw["duration_us"] * 1e6,
        "server_cpu_us": server / n * 1e6,
        "redis_cpu_us": redis / n * 1e6,
        "p50_ms": raw["p50_us"] / 1e3,
        "p99_ms": raw["p99_us"] / 1e3,
    }


@contextlib.contextmanager
def _workers(**env: str) -> Iterator[tuple[int, str]]:
    """``uvicorn --workers 2`` serving :func:`serve` (``env`` added to its environment)
    until the block ends: the supervisor's
    pid and the URL. The listening socket is made here, with TCP_NODELAY, which Linux
    copies to every accepted connection: uvicorn's own socket for ``--workers`` leaves
    Nagle on, and each keep-alive response then waits ~40 ms for the client's ACK."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    fd, port = listener.fileno(), listener.getsockname()[1]
    command = [sys.executable, "-m", "uvicorn", "_replay_bench:serve", "--factory", "--fd"]
    command += [str(fd), "--workers", "2", "--no-access-log", "--loop", "asyncio"]
    command += ["--http", HTTP, "--log-level", "warning"]
    with tempfile.TemporaryFile() as log, listener:
        server = subprocess.Popen(
            command, stdout=log, stderr=log, cwd=HERE, env={**os.environ, **env}, pass_fds=[fd]
        )
        try:
            url = f"http://127.0.0.1:{port}/echo"
            deadline = time.monotonic() + 60
            while (
                len(Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()) < 2
            ):
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"uvicorn --workers 2 did not start: {log.read()[-2000:]!r}")
                time.sleep(0.1)
            yield server.pid, url
        finally:
            server.terminate()  # the supervisor stops its workers
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)


def _http(redis_url: str, redis_pid: int, rounds: int, seconds: float, warmup: float) -> Any:
    body, configs = make_body(1024), {"none": {}}
    configs |= {name: {"REDIS_URL": redis_url} for name in _parsers()}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in configs}
    with contextlib.ExitStack() as stack:
        servers = {
            name: stack.enter_context(_workers(BENCH_CONFIG=name, **env))
            for name, env in configs.items()
        }
        for name, (_, url) in servers.items():
            headers = dict((k.decode(), v.decode()) for k, v in _fresh(body))
            answers = [httpx.post(url, content=body, headers=headers, timeout=30) for _ in "12"]
            expected = [200, 200 if name == "none" else 401]
            assert [a.status_code for a in answers] == expected, f"{name} over HTTP: {answers}"
        if not shutil.which("wrk"):
            print("  replay over HTTP: answers checked; NOT LOADED: wrk is not on PATH")
            return None
        pids = {n: (pid, redis_pid if n != "none" else 0) for n, (pid, _) in servers.items()}
        for name, (_, url) in servers.items():
            _wrk(pids[name], url, body, warmup)
        for r in range(rounds):
            for name in [*configs][r % len(configs) :] + [*configs][: r % len(configs)]:
                runs[name].append(_wrk(pids[name], servers[name][1], body, seconds))
    keys = ("rps", "p50_ms", "p99_ms", "server_cpu_us", "redis_cpu_us")
    return {
        name: {
            **{k: statistics.median(run[k] for run in rs) for k in keys},
            "requests": sum(run["requests"] for run in rs),
        }
        for name, rs in runs.items()
    } | {"meta": {"rounds": rounds, "seconds": seconds, "connections": CONNECTIONS}}


@contextlib.contextmanager
def _servers() -> Iterator[tuple[Any, Any]]:
    """A redis-server and a 3-master Redis Cluster on 127.0.0.1 (the tests' own helpers)."""
    sys.path.append(str(HERE.parent / "tests"))
    from _redis import redis_cluster, redis_server

    with redis_server() as server, redis_cluster() as cluster:
        yield server, cluster


def measure_replay(rounds: int, batch: int, http: tuple[int, float, float]) -> dict[str, Any]:
    """In process (medians over ``rounds`` of ``batch`` requests per configuration and
    concurrency, overheads paired per round against no cache), then over HTTP."""
    from redis.utils import HIREDIS_AVAILABLE

    with _servers() as (server, cluster):

        async def inprocess() -> dict[str, Any]:
            caches: dict[str, Any] = {"none": None, "memory": MemoryReplayCache()}
            for name, parser in _parsers().items():
                caches[name] = RedisReplayCache.from_url(server.url, parser_class=parser)
            caches["cluster"] = RedisReplayCache.from_nodes(cluster.addresses)
            try:
                return await _inprocess(caches, rounds, batch)
            finally:
                for cache in caches.values():
                    if isinstance(cache, RedisReplayCache):
                        await cache.aclose()

        result = asyncio.run(inprocess())
        spread = [int(node.cli("dbsize")) for node in cluster.nodes]
        assert min(spread) > 0, f"the cluster's keys did not reach every master: {spread}"
        print(f"  replay caches in process: {rounds} rounds x {batch} requests, at 1 and 32")
        assert server.process is not None
        over_http = _http(server.url, server.process.pid, *http)
        if over_http:
            print(f"  replay over HTTP: {http[0]} round(s) of {http[1]:g} s, 2 workers")
    return {
        "rounds": rounds,
        "batch": batch,
        "inprocess": result,
        "cluster_keys_per_master": spread,
        "hiredis": HIREDIS_AVAILABLE,
        "http": over_http,
    }


if __name__ == "__main__":  # this section alone: python benchmarks/_replay_bench.py [--quick]
    from _report import GOALS, _replay, _replay_targets
    from run import FULL, QUICK

    settings = QUICK if "--quick" in sys.argv[1:] else FULL
    found = measure_replay(*settings["replay"])
    print("\n".join(_replay(found)))
    for (target, goal), (measured, passed, _) in zip(
        GOALS[-3:], _replay_targets(found), strict=True
    ):
        print(f"- {target} ({goal}): {measured}: {'PASS' if passed else 'FAIL'}")
