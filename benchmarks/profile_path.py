"""Where the microseconds of a 1 KiB signed POST go inside hmac_asgi.

    python benchmarks/profile_path.py [--quick]

Three parts, in Markdown (PROFILE.md explains them): (1) end to end, interleaved
medians around a raw ASGI app, Starlette and FastAPI: bare, with the middleware,
with each per-request feature switched off in turn, and with ``_floor.py``'s
references; (2) cProfile of hmac_asgi's own functions; (3) the best of 7 timings
of each step, calling the package's own functions as the middleware does. It
reads private names on purpose, as the tool for optimising them; CI runs it with
``--quick``, so a renamed step fails here rather than going stale.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from _apps import KEY, OURS, fastapi, make_body, sign, starlette
from _floor import BufferAndHash, FloorSketch
from _inprocess import HMAC_ONLY, Exchange, check, interleave
from starlette.types import Receive, Scope, Send

import hmac_asgi
from hmac_asgi import HMACAuthorizationHeaders, HMACMiddleware
from hmac_asgi._deadline import Watchdog
from hmac_asgi._middleware import _content_length
from hmac_asgi.schemes import destiny

PACKAGE = Path(hmac_asgi.__file__).resolve().parent
BODY = make_body(1024)
SWITCHES = {"body_timeout": None}  # the per-request features that can be switched off


async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The least an app can do: read the body, answer its length."""
    size, more = 0, True
    while more:
        message = await receive()
        size, more = size + len(message.get("body", b"")), message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


async def end_to_end(rounds: int, batch: int) -> list[str]:
    added = [("", None, {}), (" + ours", HMACMiddleware, OURS)]
    added += [(f" + ours, {k}={v}", HMACMiddleware, {**OURS, k: v}) for k, v in SWITCHES.items()]
    added += [(" + floor sketch", FloorSketch, KEY), (" + buffer only", BufferAndHash, {})]
    added += [(" + buffer and HMAC", BufferAndHash, KEY)]
    apps, base_of = {}, {}
    for base, framework in (("raw app", None), ("Starlette", starlette), ("FastAPI", fastapi)):
        for label, middleware, options in added:
            if framework is not None:
                app = framework(middleware, **options)()
            else:
                app = middleware(raw_app, **options) if middleware else raw_app
            apps[base + label], base_of[base + label] = app, base
            await check(base + label, app, BODY, verifies=bool(label) and "buffer" not in label)
    samples = await interleave(apps, BODY, rounds, batch)
    med = {name: statistics.median(v) for name, v in samples.items()}
    lines = ["| configuration | median per request | above its base |", "|---|---|---|"]
    for name, base in base_of.items():
        above = f"{med[name] - med[base]:+.2f} µs" if base != name else ""
        lines.append(f"| {name} | {med[name]:.2f} µs | {above} |")
    return [*lines, f"| HMAC alone (`hmac.new`, 1 KiB) | {med[HMAC_ONLY]:.2f} µs | |"]


def profile(n: int) -> list[str]:
    apps = {"raw app + ours": HMACMiddleware(raw_app, **OURS)}
    asyncio.run(interleave(apps, BODY, rounds=10, batch=100))  # warm up, unprofiled
    profiler = cProfile.Profile()
    profiler.runcall(asyncio.run, interleave(apps, BODY, rounds=n // 100, batch=100, warmup=0))
    lines = [f"{n} requests, raw app + ours (cProfile inflates small calls: read for shape)", ""]
    lines += ["| function | calls/request | own µs/request | cumulative µs/request |"]
    lines += ["|---|---|---|---|"]
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (path, line, func), (_, calls, own, total, _) in sorted(
        stats.items(), key=lambda x: -x[1][3]
    ):
        if Path(path).is_relative_to(PACKAGE):
            cells = f"{calls / n:.0f} | {own / n * 1e6:.2f} | {total / n * 1e6:.2f}"
            lines.append(f"| `{Path(path).relative_to(PACKAGE)}:{line} {func}` | {cells} |")
    return lines


def _steps() -> list[tuple[str, Callable[[], object]]]:
    """The 1 KiB path's steps in order, called as the middleware calls them (a row
    starting with → is what the step above it saves)."""
    exchange = Exchange(raw_app, BODY, sign(BODY))
    scope, raw = exchange.scope(), dict(exchange.headers)
    au, uid, ts = raw[b"authorization"], raw[b"x-client-id"], raw[b"x-request-timestamp"]
    v = HMACMiddleware(raw_app, **OURS)._verifier  # the Verifier
    s = v.scheme  # the DestinyScheme
    assert isinstance(s, destiny.DestinyScheme)
    c = v.claim(scope)  # the HMACAuthorizationHeaders
    key = s.keys.static_keys(c.key_id)[0][0]  # the MacKey
    message = BODY + destiny.signed_suffix(c.client_id, c.timestamp)
    dog, model, uuid_, stamp_ = Watchdog(30.0), HMACAuthorizationHeaders, c.client_id, c.timestamp
    pa, pc, pt = destiny._AUTHORIZATION, destiny._CLIENT_ID, destiny._TIMESTAMP  # its patterns

    def construct() -> object:  # as the parser does, with the values it has checked
        return model.model_construct(signature=c.signature, client_id=uuid_, timestamp=stamp_)

    def mac_path() -> None:  # a fresh check each time: verify() consumes it
        check = v.begin_static(c)
        check.update(BODY)
        v.verify(c, check)

    return [
        ("**headers → claim**: `Verifier.claim` (parse, freshness)", lambda: v.claim(scope)),
        ("· `DestinyScheme.parse`", lambda: s.parse(scope)),
        ("  → `HMACAuthorizationHeaders.from_scope` (no memo)", lambda: model.from_scope(scope)),
        ("· its 3 patterns", lambda: (pa.fullmatch(au), pc.fullmatch(uid), pt.fullmatch(ts))),
        ("· `DestinyScheme._uuid` (memoised)", lambda: s._uuid(uid)),
        ("  → `uuid.UUID(text)`", lambda: uuid.UUID(uid.decode())),
        ("· `HMACAuthorizationHeaders.model_construct`", construct),
        ("**key**: `Verifier.begin_static`", lambda: v.begin_static(c)),
        ("· `KeyRing.static_keys`", lambda: s.keys.static_keys(c.key_id)),
        ("· `MacKey.start` (a copy of the keyed inner SHA-256)", key.start),
        ("**body**: `_content_length`", lambda: _content_length(scope)),
        ("· `Watchdog.arm` + `disarm` (`body_timeout`)", lambda: dog.disarm(dog.arm())),  # type: ignore[arg-type]
        ("**MAC**: `begin_static`, `update(1 KiB)`, `Verifier.verify`", mac_path),
        ("· `signed_suffix`", lambda: destiny.signed_suffix(c.client_id, c.timestamp)),
        ("· `MacKey.mac` of 1 KiB + suffix", lambda: key.mac(message)),
        ("**accept**: `DestinyScheme.accept`", lambda: s.accept(c, scope["state"])),
    ]


async def steps(batches: int) -> list[str]:
    """Best of 7 repeats of ``batches`` x 100 calls, the event loop run between batches
    (as between a server's requests: it clears the timers the watchdog leaves)."""
    lines = ["| step | µs |", "|---|---|"]
    for label, step in _steps():
        best = float("inf")
        for _ in range(7):
            total = 0.0
            for _ in range(batches):
                start = time.perf_counter()
                for _ in range(100):
                    step()
                total += time.perf_counter() - start
                await asyncio.sleep(0)
            best = min(best, total)
        lines.append(f"| {label} | {best / (batches * 100) * 1e6:.3f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds: a smoke run")
    quick = parser.parse_args().quick
    rounds, batch, n, batches = (5, 200, 2000, 20) if quick else (41, 2000, 20000, 200)
    print("## 1. End to end (1 KiB signed POST, in process, interleaved medians)\n")
    print(*asyncio.run(end_to_end(rounds, batch)), "\n## 2. cProfile of hmac_asgi\n", sep="\n")
    print(*profile(n), "\n## 3. Steps (best of 7, no profiler)\n", sep="\n")
    print(*asyncio.run(steps(batches)), sep="\n")


if __name__ == "__main__":
    main()
