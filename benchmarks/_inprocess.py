"""Interleaved in-process timing: every configuration, round-robin, same requests.

For each body size: build every app, check each one answers a signed request
with 200 and the full body length (and refuses an unsigned one with 401), warm
up, then run ``rounds`` rounds. A round signs the body afresh and times a batch
of ``batch`` requests on each configuration in turn (the order rotates every
round, so no configuration always runs first after a size change), plus a batch
of bare ``hmac.new(key, body, sha256).hexdigest()`` — the physical limit.
Samples are seconds per request, one per round, aligned by round so overheads
can be taken as paired differences.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from time import perf_counter

from _apps import CONFIGS
from _asgi import SECRET, Exchange, human_size, make_body, sign

__all__ = ["HMAC_ONLY", "Plan", "measure"]

HMAC_ONLY = "hmac_only"

Samples = dict[str, dict[int, list[float]]]


@dataclass(frozen=True)
class Plan:
    """How many rounds, and requests per round, for each body size."""

    rounds: dict[int, int]
    batch: dict[int, int]
    warmup: int = 3  # batches per configuration before timing

    @property
    def sizes(self) -> list[int]:
        return list(self.rounds)


async def _check(name: str, exchange: Exchange, unsigned: Exchange) -> None:
    status, text = await exchange(keep_body=True)
    expected = str(len(exchange.body)).encode("ascii")
    assert (status, text) == (200, expected), f"{name}: got {status} {text[:80]!r}"
    if CONFIGS[name].signed:
        status, _ = await unsigned()
        assert status == 401, f"{name}: unsigned request got {status}, expected 401"


async def _time_batch(name: str, exchange: Exchange, n: int) -> float:
    failed = 0
    start = perf_counter()
    for _ in range(n):
        status, _ = await exchange()
        failed += status != 200
    elapsed = perf_counter() - start
    assert not failed, f"{name}: {failed}/{n} requests did not get 200"
    # Let the event loop run once, untimed, as it does between a server's requests:
    # it drops cancelled timers, which would otherwise pile up across batches.
    await asyncio.sleep(0)
    return elapsed / n


def _time_hmac(body: bytes, n: int) -> float:
    key = SECRET.encode("utf-8")
    sha256 = hashlib.sha256
    start = perf_counter()
    for _ in range(n):
        hmac.new(key, body, sha256).hexdigest()
    return (perf_counter() - start) / n


async def measure(
    names: Sequence[str], plan: Plan, progress: Callable[[str], None] = print
) -> tuple[Samples, int]:
    """Returns samples ``{config: {size: [seconds per request, per round]}}`` and the
    number of requests measured (every one asserted 200)."""
    samples: Samples = {name: {} for name in (*names, HMAC_ONLY)}
    total = 0
    for size in plan.sizes:
        body = make_body(size)
        apps = {name: CONFIGS[name].factory() for name in names}
        auth = sign(body)
        for name, app in apps.items():
            await _check(name, Exchange(app, body, auth), Exchange(app, body, []))
            for _ in range(plan.warmup):
                await _time_batch(name, Exchange(app, body, sign(body)), plan.batch[size])
        order = [*names, HMAC_ONLY]
        for name in order:
            samples[name][size] = []
        gc.collect()
        rounds, batch = plan.rounds[size], plan.batch[size]
        for r in range(rounds):
            auth = sign(body)  # fresh timestamp every round
            turn = r % len(order)
            for name in order[turn:] + order[:turn]:
                if name == HMAC_ONLY:
                    samples[name][size].append(_time_hmac(body, batch))
                else:
                    exchange = Exchange(apps[name], body, auth)
                    samples[name][size].append(await _time_batch(name, exchange, batch))
                    total += batch
        progress(f"  in-process {human_size(size):>7}: {rounds} rounds x {batch} requests")
    return samples, total
