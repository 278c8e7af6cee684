"""In process: a uvicorn-like ASGI "server" with no network, for time and for memory.

:func:`interleave` times rounds in which the body is signed afresh and a batch
of requests runs on each app in turn (the order rotating), plus a batch of bare
``hmac.new(key, body, sha256).hexdigest()``, the physical limit. Medians (a
noisy, shared machine); a cost "above bare" is the median over rounds of
(configuration - its bare framework) in the same round, so drift cancels out.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import statistics
import tracemalloc
from collections.abc import Mapping, Sequence
from time import perf_counter
from typing import Any

from _apps import CONFIGS, SECRET, human_size, make_body, sign
from starlette.types import ASGIApp, Message

HMAC_ONLY = "hmac_only"
CHUNK = 64 * 1024


class Exchange:
    """One prepared ``POST /echo``; each call is a fresh request, as uvicorn makes it: the
    body in fresh 64 KiB slices, then ``http.disconnect`` once the response is complete."""

    def __init__(self, app: ASGIApp, body: bytes, auth: list[tuple[bytes, bytes]]) -> None:
        self.app, self.body = app, body
        self.headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"hmac-asgi-bench")]
        self.headers += [(b"accept", b"*/*"), (b"content-type", b"application/octet-stream")]
        self.headers += [(b"content-length", str(len(body)).encode()), *auth]

    def scope(self) -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 50000),
            "scheme": "http",
            "method": "POST",
            "root_path": "",
            "path": "/echo",
            "raw_path": b"/echo",
            "query_string": b"",
            "headers": list(self.headers),
            "state": {},
        }

    async def __call__(self, keep_body: bool = False) -> tuple[int, bytes]:
        """Run one request; returns ``(status, response body or b"")``."""
        body, size, pos = self.body, len(self.body), 0
        body_sent = response_complete = False
        status, chunks = 0, []
        waiter: asyncio.Future[None] | None = None

        async def receive() -> Message:
            nonlocal pos, body_sent, waiter
            if not body_sent:
                chunk, pos = body[pos : pos + CHUNK], pos + CHUNK
                body_sent = pos >= size
                return {"type": "http.request", "body": chunk, "more_body": not body_sent}
            if not response_complete:
                waiter = asyncio.get_running_loop().create_future()
                await waiter
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status, response_complete
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                if keep_body:
                    chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    response_complete = True
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)

        await self.app(self.scope(), receive, send)
        return status, b"".join(chunks)


async def check(name: str, app: ASGIApp, body: bytes, verifies: bool) -> None:
    """A signed request gets 200 and the body length; if ``verifies``, an unsigned one 401."""
    status, text = await Exchange(app, body, sign(body))(keep_body=True)
    assert (status, text) == (200, str(len(body)).encode()), f"{name}: {status} {text[:80]!r}"
    if verifies:
        status, _ = await Exchange(app, body, [])()
        assert status == 401, f"{name}: unsigned request got {status}, expected 401"


async def _batch(name: str, exchange: Exchange, n: int) -> float:
    failed = 0
    start = perf_counter()
    for _ in range(n):
        failed += (await exchange())[0] != 200
    elapsed = perf_counter() - start
    assert not failed, f"{name}: {failed}/{n} requests did not get 200"
    # Let the event loop run once, untimed, as it does between a server's requests:
    # it drops cancelled timers, which would otherwise pile up across batches.
    await asyncio.sleep(0)
    return elapsed / n * 1e6


def _hmac_only(body: bytes, n: int) -> float:
    key, sha256 = SECRET.encode(), hashlib.sha256
    start = perf_counter()
    for _ in range(n):
        hmac.new(key, body, sha256).hexdigest()
    return (perf_counter() - start) / n * 1e6


async def interleave(
    apps: Mapping[str, ASGIApp], body: bytes, rounds: int, batch: int, warmup: int = 1
) -> dict[str, list[float]]:
    """µs per request, one sample per round, for each app and for HMAC alone."""
    for name, app in apps.items():
        for _ in range(warmup):
            await _batch(name, Exchange(app, body, sign(body)), batch)
    order = [*apps, HMAC_ONLY]
    samples: dict[str, list[float]] = {name: [] for name in order}
    gc.collect()
    for r in range(rounds):
        auth = sign(body)  # a fresh timestamp every round
        for name in order[r % len(order) :] + order[: r % len(order)]:
            if name == HMAC_ONLY:
                samples[name].append(_hmac_only(body, batch))
            else:
                samples[name].append(await _batch(name, Exchange(apps[name], body, auth), batch))
    return samples


async def measure(names: Sequence[str], plan: dict[int, tuple[int, int]], warmup: int) -> Any:
    """The in-process summary: ``names`` at each size, ``plan[size]`` = (rounds, batch)."""
    samples: dict[str, dict[str, list[float]]] = {}  # size: config: µs per round
    for size, (rounds, batch) in plan.items():
        body, apps = make_body(size), {name: CONFIGS[name].factory() for name in names}
        for name, app in apps.items():
            await check(name, app, body, CONFIGS[name].verifies)
        samples[str(size)] = await interleave(apps, body, rounds, batch, warmup)
        print(f"  in-process {human_size(size):>7}: {rounds} rounds x {batch} requests")

    def table(stat: Any, names: Sequence[str]) -> dict[str, dict[str, float]]:
        return {n: {s: statistics.median(stat(by, n)) for s, by in samples.items()} for n in names}

    def paired(by: dict[str, list[float]], n: str) -> Any:
        return (a - b for a, b in zip(by[n], by[CONFIGS[n].bare], strict=True))

    return {
        "plan": {str(size): rounds_batch for size, rounds_batch in plan.items()},
        "requests": sum(len(names) * rounds * batch for rounds, batch in plan.values()),
        "median_us": table(lambda by, n: by[n], [*names, HMAC_ONLY]),
        "overhead_us": table(paired, [n for n in names if CONFIGS[n].bare != n]),
        "samples_us": samples,
    }


async def measure_memory(names: Sequence[str], sizes: Sequence[int]) -> dict[str, Any]:
    """``peak_bytes[size][config]``, and ``extra_ratio`` = (peak - its bare app's peak) / size.
    Bodies arrive as fresh 64 KiB slices, so the chunks the server hands over count too."""
    peak: dict[str, dict[str, int]] = {}
    extra: dict[str, dict[str, float]] = {}
    for size in sizes:
        body, by_name = make_body(size), peak.setdefault(str(size), {})
        for name in names:
            app = CONFIGS[name].factory()
            await check(name, app, make_body(1024), verifies=False)  # and warms it up
            exchange = Exchange(app, body, sign(body))
            gc.collect()
            tracemalloc.start()
            answer = await exchange(keep_body=True)
            by_name[name] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert answer == (200, str(size).encode()), f"{name}: {answer[0]} {answer[1][:80]!r}"
        for name in names:
            bare = CONFIGS[name].bare
            if bare != name and bare in by_name:
                extra.setdefault(str(size), {})[name] = (by_name[name] - by_name[bare]) / size
        print(f"  memory {human_size(size):>7}: {len(names)} configurations")
    return {"peak_bytes": peak, "extra_ratio": extra}
