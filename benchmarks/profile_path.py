"""Where the microseconds of a 1 KiB signed POST go inside hmac_asgi.

    python benchmarks/profile_path.py [--quick] [--pyinstrument FILE.html]

Prints Markdown in three parts (PROFILE.md is written from it):

1. the middleware's end-to-end cost, interleaved medians: around a raw ASGI app,
   Starlette and FastAPI, with each optional feature that has a per-request cost
   switched off in turn (e.g. ``body_timeout=None``), next to ``_floor.py``'s
   sketch of the fewest steps that make the same checks;
2. cProfile of hmac_asgi's own functions over many requests (own and cumulative
   time per request; the profiler inflates small Python calls, read it for shape);
3. micro-timings (best of 7, no profiler) of each step of the path next to
   cheaper ways of doing the same thing.

Uses a few private names of hmac_asgi (``_verifier``, ``_signing``) on purpose:
it is a tool for optimising them. Runs in the benchmark venv (.venv-interop).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import inspect
import pstats
import statistics
import time
from pathlib import Path
from typing import Any

from _apps import MAX_BODY, bare_fastapi, bare_starlette
from _asgi import SECRET, Exchange, make_body, sign
from _floor import BufferAndHash, BufferOnly, FloorSketch
from _micro import micro_rows
from starlette.types import Receive, Scope, Send

import hmac_asgi
from hmac_asgi import HMACMiddleware

PACKAGE = str(Path(hmac_asgi.__file__).resolve().parent)
BODY = make_body(1024)


async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The least an app can do: read the body, answer 200."""
    while (await receive()).get("more_body", False):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _wrapped(base: str, middleware: Any, **options: Any) -> Any:
    if base == "raw app":
        return middleware(raw_app, **options)
    app = bare_starlette() if base == "Starlette" else bare_fastapi()
    app.add_middleware(middleware, **options)
    return app


def _variants() -> dict[str, tuple[str, Any]]:
    """``{label: (base label, app)}``: each base bare, with ours, ours with each
    per-request feature switched off, and with the floor sketch."""
    accepted = inspect.signature(HMACMiddleware).parameters
    switches = {"body_timeout": None}
    ours = {"secret_key": SECRET, "max_body_size": MAX_BODY}
    variants: dict[str, tuple[str, Any]] = {}
    for base, bare in (("raw app", raw_app), ("Starlette", None), ("FastAPI", None)):
        variants[base] = (
            base,
            bare or (bare_starlette() if base == "Starlette" else bare_fastapi()),
        )
        variants[f"{base} + ours"] = (base, _wrapped(base, HMACMiddleware, **ours))
        for name, value in switches.items():
            if name in accepted:
                app = _wrapped(base, HMACMiddleware, **ours, **{name: value})
                variants[f"{base} + ours, {name}={value}"] = (base, app)
        variants[f"{base} + floor sketch"] = (base, _wrapped(base, FloorSketch, secret_key=SECRET))
        variants[f"{base} + buffer only"] = (base, _wrapped(base, BufferOnly))
        variants[f"{base} + buffer and HMAC"] = (
            base,
            _wrapped(base, BufferAndHash, secret_key=SECRET),
        )
    return variants


async def end_to_end(rounds: int, batch: int) -> list[str]:
    variants = _variants()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for name, (base, app) in variants.items():
        status, _ = await Exchange(app, BODY, sign(BODY))()
        assert status == 200, f"{name}: {status}"
        if name != base and "buffer" not in name:
            status, _ = await Exchange(app, BODY, [])()
            assert status == 401, f"{name}: unsigned request got {status}"
    order = list(variants)
    for r in range(rounds):
        auth = sign(BODY)
        for name in order[r % len(order) :] + order[: r % len(order)]:
            exchange = Exchange(variants[name][1], BODY, auth)
            start = time.perf_counter()
            for _ in range(batch):
                assert (await exchange())[0] == 200
            times[name].append((time.perf_counter() - start) / batch * 1e6)
            await asyncio.sleep(0)  # let the loop run (clears cancelled timers), untimed
    med = {name: statistics.median(v) for name, v in times.items()}
    lines = ["| configuration | median per request | above its base |", "|---|---|---|"]
    for name, value in med.items():
        base = variants[name][0]
        above = "" if base == name else f"{value - med[base]:+.2f} µs"
        lines.append(f"| {name} | {value:.2f} µs | {above} |")
    return lines


async def _many(app: Any, n: int) -> None:
    exchange = Exchange(app, BODY, sign(BODY))
    for i in range(n):
        await exchange()
        if i % 100 == 99:
            await asyncio.sleep(0)  # let the loop run, as between a server's requests


def profile(n: int) -> list[str]:
    app = HMACMiddleware(raw_app, secret_key=SECRET, max_body_size=MAX_BODY)
    asyncio.run(_many(app, 1000))
    profiler = cProfile.Profile()
    profiler.runcall(asyncio.run, _many(app, n))
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = []
    for (filename, line, func), (_, calls, own, cumulative, _) in stats.items():
        if filename.startswith(PACKAGE):
            where = f"{Path(filename).name}:{line} {func}"
            rows.append((cumulative, own, calls, where))
    lines = [
        f"{n} requests, raw app + ours, cProfile (inflated: read for shape)",
        "",
        "| function | calls/request | own µs/request | cumulative µs/request |",
        "|---|---|---|---|",
    ]
    for cumulative, own, calls, where in sorted(rows, reverse=True):
        lines.append(
            f"| `{where}` | {calls / n:.0f} | {own / n * 1e6:.2f} | {cumulative / n * 1e6:.2f} |"
        )
    return lines


def pyinstrument_html(path: Path, n: int) -> None:
    from pyinstrument import Profiler

    app = HMACMiddleware(raw_app, secret_key=SECRET, max_body_size=MAX_BODY)
    with Profiler(interval=0.0001, async_mode="disabled") as profiler:
        asyncio.run(_many(app, n))
    path.write_text(profiler.output_html())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--pyinstrument", type=Path, help="also write a pyinstrument HTML here")
    args = parser.parse_args()
    rounds, batch, n = (5, 200, 2000) if args.quick else (41, 2000, 20000)
    print("## 1. End to end (1 KiB signed POST, in-process, interleaved medians)\n")
    print("\n".join(asyncio.run(end_to_end(rounds, batch))))
    print("\n## 2. cProfile, hmac_asgi functions\n")
    print("\n".join(profile(n)))
    print("\n## 3. Steps and alternatives (best of 7, no profiler)\n")
    print("\n".join(asyncio.run(micro_rows(quick=args.quick))))
    if args.pyinstrument:
        pyinstrument_html(args.pyinstrument, n)
        print(f"\npyinstrument: {args.pyinstrument}")


if __name__ == "__main__":
    main()
