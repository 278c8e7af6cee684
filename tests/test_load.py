"""Load and faults over a real uvicorn on 127.0.0.1: exact counts, clean logs, flat memory.

Thousands of requests, 50 at a time, one in ten hostile (a generator of the
tests/test_hostile.py catalogue's attacks, signed with the current time), plus
raw-socket clients that hang up mid-body or announce a body over the limit.
Afterwards every count is exact: each good request was answered 200 with its
body echoed byte for byte, each bad one with its expected status and code, the
app ran exactly once per good request, the middleware returned for every
request (none raised into uvicorn), no ERROR was logged, and the memory
allocated during the run was given back.

Memory is measured with ``tracemalloc`` rather than the process RSS: RSS rarely
shrinks after a burst (pymalloc arenas and glibc keep freed memory), so it can
only catch gross leaks with a generous margin. ``tracemalloc`` counts the
Python objects still alive that were allocated during the run, server thread
included, and can attribute them to ``hmac_asgi``; caches are warmed up first,
so what is left after the run is what leaked. RSS is recorded too, with a
generous bound, as a second opinion that sees C allocations.

Run with ``make test-slow`` (marker ``slow``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import random
import resource
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from _asgi import echo_app, serve
from _secrets import secret
from _signing import CLIENT_ID, SECRET

import hmac_asgi
from hmac_asgi import AuthException, HMACMiddleware, HMACSigningAuth, MemoryReplayCache
from hmac_asgi import create_signature as sign

pytestmark = pytest.mark.slow

SECOND_ID = uuid.UUID("0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b")  # a UUIDv7
SECOND_SECRET = secret("second destiny client")
WRONG_SECRET = secret("a secret the server does not know")
UNKNOWN_ID = uuid.UUID("3b42cdf7-add1-445f-98db-2fe525ad54d6")
V1_ID = uuid.UUID("c232ab00-9414-11ec-b3c8-9f6bdeced846")
LIMIT = 64 * 1024
CONCURRENCY = 50
POOL_SIZE = 5
HELD_AFTER_RUN = 512 * 1024  # bytes allocated during the main run still alive after it
# ... of which allocated by hmac_asgi. Not zero: Python <= 3.10 keeps one spare frame
# per function ("zombie frame"), about 10 KiB over the package whatever the number of
# requests (measured the same after 3,000 and 9,000); 3.11+ holds under 1 KiB. A leak
# of even one small object per request would be over 50 KiB here.
HELD_BY_US = 16 * 1024
AUTH, CID, TS = b"authorization", b"x-client-id", b"x-request-timestamp"
Headers = list[tuple[bytes, bytes]]


# Hostile requests, built at send time so that their timestamps are current.


def signed(
    body: bytes, *, secret: str = SECRET, cid: object = CLIENT_ID, ts: str | None = None
) -> Headers:
    ts = f"{time.time()}" if ts is None else ts
    return [
        (AUTH, f"Signature {sign(secret, body, str(cid), ts)}".encode()),
        (CID, str(cid).encode()),
        (TS, ts.encode()),
    ]


def without(hs: Headers, name: bytes) -> Headers:
    return [(k, v) for k, v in hs if k != name]


def replace(hs: Headers, name: bytes, value: bytes) -> Headers:
    return [(k, value if k == name else v) for k, v in hs]


def twice(hs: Headers, name: bytes) -> Headers:
    return hs + [(k, v) for k, v in hs if k == name]


def edit_sig(hs: Headers, edit: Callable[[bytes], bytes]) -> Headers:
    sig = dict(hs)[AUTH].split(b" ", 1)[1]
    return replace(hs, AUTH, b"Signature " + edit(sig))


def flip(body: bytes) -> bytes:
    return bytes([body[0] ^ 1]) + body[1:]


Build = Callable[[bytes], tuple[Headers, bytes]]  # body -> (headers, body to send)

# name, build, status, code. The catalogue's cases that HTTP/1.1 itself cannot
# carry are left out: leading/trailing whitespace in a value (the parser strips
# it, so the request becomes valid), a bare newline, a 128 kB header (uvicorn
# refuses it before the app), and a false Content-Length (sent by raw socket below).
HOSTILE: list[tuple[str, Build, int, str]] = [
    ("no-headers", lambda b: ([], b), 401, "missing_authorization"),
    ("no-authorization", lambda b: (without(signed(b), AUTH), b), 401, "missing_authorization"),
    (
        "scheme-bearer",
        lambda b: (replace(signed(b), AUTH, b"Bearer abc"), b),
        401,
        "unsupported_scheme",
    ),
    (
        "signature-63-hex",
        lambda b: (edit_sig(signed(b), lambda s: s[:63]), b),
        401,
        "malformed_signature",
    ),
    (
        "signature-uppercase",
        lambda b: (edit_sig(signed(b), lambda s: b"A" + s[1:].upper()), b),
        401,
        "malformed_signature",
    ),
    (
        "signature-non-ascii",
        lambda b: (edit_sig(signed(b), lambda s: "é".encode() + s[2:]), b),
        401,
        "malformed_signature",
    ),
    (
        "signature-wrong-value",
        lambda b: (edit_sig(signed(b), lambda s: b"0" * 64), b),
        401,
        "invalid_signature",
    ),
    ("authorization-twice", lambda b: (twice(signed(b), AUTH), b), 401, "duplicate_header"),
    ("no-client-id", lambda b: (without(signed(b), CID), b), 401, "missing_client_id"),
    (
        "client-id-uppercase",
        lambda b: (replace(signed(b), CID, str(CLIENT_ID).upper().encode()), b),
        401,
        "invalid_client_id",
    ),
    ("client-id-v1", lambda b: (signed(b, cid=V1_ID), b), 401, "invalid_client_id"),
    ("client-id-twice", lambda b: (twice(signed(b), CID), b), 401, "duplicate_header"),
    (
        "client-id-swapped",
        lambda b: (replace(signed(b), CID, str(SECOND_ID).encode()), b),
        401,
        "invalid_signature",
    ),
    ("unknown-client", lambda b: (signed(b, cid=UNKNOWN_ID), b), 401, "invalid_signature"),
    (
        "other-clients-secret",
        lambda b: (signed(b, secret=SECOND_SECRET), b),
        401,
        "invalid_signature",
    ),
    ("no-timestamp", lambda b: (without(signed(b), TS), b), 401, "missing_timestamp"),
    ("timestamp-nan", lambda b: (signed(b, ts="nan"), b), 401, "malformed_timestamp"),
    ("timestamp-exponent", lambda b: (signed(b, ts="1.8e9"), b), 401, "malformed_timestamp"),
    ("timestamp-negative", lambda b: (signed(b, ts="-1800000000"), b), 401, "malformed_timestamp"),
    (
        "timestamp-expired",
        lambda b: (signed(b, ts=f"{time.time() - 400}"), b),
        401,
        "expired",
    ),
    (
        "timestamp-future",
        lambda b: (signed(b, ts=f"{time.time() + 400}"), b),
        401,
        "future_timestamp",
    ),
    ("timestamp-twice", lambda b: (twice(signed(b), TS), b), 401, "duplicate_header"),
    (
        "timestamp-changed-in-window",
        lambda b: (replace(signed(b), TS, f"{time.time() - 1}".encode()), b),
        401,
        "invalid_signature",
    ),
    ("body-tampered", lambda b: (signed(b), flip(b)), 401, "invalid_signature"),
    ("body-truncated", lambda b: (signed(b), b[:-1]), 401, "invalid_signature"),
    ("body-extended", lambda b: (signed(b), b + b" "), 401, "invalid_signature"),
    ("body-dropped", lambda b: (signed(b), b""), 401, "invalid_signature"),
    (
        "wrong-secret",
        lambda b: (signed(b, secret=WRONG_SECRET), b),
        401,
        "invalid_signature",
    ),
    (
        "body-over-limit-signed",
        lambda b: (signed(b"a" * (LIMIT + 1)), b"a" * (LIMIT + 1)),
        413,
        "body_too_large",
    ),
]


# The server side: the middleware between two counters.


@dataclass
class ServerSide:
    """What the server thread saw (only touched from its event loop)."""

    started: int = 0  # ASGI calls into the middleware
    finished: int = 0  # ... that returned
    escaped: list[str] = field(default_factory=list)  # exceptions out of the middleware
    app_calls: int = 0
    refusals: Counter[str] = field(default_factory=Counter)  # by code, from on_failure

    def reset(self) -> None:
        """Start counting afresh (only while no request is in flight)."""
        assert self.started == self.finished and not self.escaped
        self.started = self.finished = self.app_calls = 0
        self.refusals = Counter()


def build_server(side: ServerSide, **options: Any) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        side.app_calls += 1
        await echo_app(scope, receive, send)

    def on_failure(scope: Any, exc: AuthException) -> None:
        side.refusals[exc.code] += 1

    mw = HMACMiddleware(
        app,
        client_secrets={CLIENT_ID: SECRET, SECOND_ID: [SECOND_SECRET]},
        max_body_size=LIMIT,
        on_failure=on_failure,
        **options,
    )

    async def counted(scope: Any, receive: Any, send: Any) -> None:
        side.started += 1
        try:
            await mw(scope, receive, send)
        except BaseException as exc:
            side.escaped.append(repr(exc))
            raise
        finally:
            side.finished += 1

    return counted


class LogCollector(logging.Handler):
    """Keeps WARNING-or-worse records, from any thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.levelname} {record.name}: {record.getMessage()}")


@contextlib.contextmanager
def collected_logs() -> Iterator[LogCollector]:
    """Collect problems from uvicorn, hmac_asgi, asyncio; keep client chatter out.

    uvicorn's own logging config stops its records at the "uvicorn" logger, so the
    collector listens there as well as on the root. httpx/httpcore log every
    request (INFO/DEBUG) on the client side; they are quietened for the run.
    """
    collector = LogCollector()
    listen = [logging.getLogger(), logging.getLogger("uvicorn")]
    quiet = [logging.getLogger(name) for name in ("httpx", "httpcore", "hmac_asgi")]
    levels = [logger.level for logger in quiet]
    for logger in listen:
        logger.addHandler(collector)
    for logger in quiet:
        # hmac_asgi logs each refusal at INFO; they are counted by on_failure instead,
        # and pytest's log capture would keep thousands of records alive (and in the
        # memory measurement). Its WARNING and ERROR records still come through.
        logger.setLevel(logging.WARNING)
    try:
        yield collector
    finally:
        for logger in listen:
            logger.removeHandler(collector)
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)


# The client side.


@dataclass
class Tally:
    good_ok: int = 0
    bad_ok: Counter[str] = field(default_factory=Counter)  # by variant name
    raw_ok: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    accepted: list[tuple[Headers, bytes]] = field(default_factory=list)  # for replays


AUTHS = {
    CLIENT_ID: HMACSigningAuth(SECRET, CLIENT_ID),
    SECOND_ID: HMACSigningAuth(SECOND_SECRET, SECOND_ID),
}


def good_body(rng: random.Random, index: int) -> bytes:
    """Mostly small, some large (several chunks through uvicorn); unique per index."""
    size = rng.choice([0, 1, 100, 2000, rng.randrange(4096), rng.randrange(16_000, LIMIT - 64)])
    return f"{index:06d}".encode() + rng.randbytes(size)


async def send_good(
    client: httpx.AsyncClient, tally: Tally, body: bytes, client_id: uuid.UUID, keep: bool
) -> None:
    response = await client.post("/echo", content=body, auth=AUTHS[client_id])
    head, _, echoed = response.content.partition(b"\n")
    if response.status_code != 200 or echoed != body:
        tally.problems.append(f"good {len(body)} B: {response.status_code} {response.text[:200]}")
        return
    meta = json.loads(head)
    if meta != {"client_id": str(client_id), "body_len": len(body)}:
        tally.problems.append(f"good: wrong echo metadata {meta}")
        return
    tally.good_ok += 1
    if keep:
        names = (AUTH, CID, TS)
        headers = [(k.encode(), v.encode()) for k, v in response.request.headers.items()]
        tally.accepted.append(([(k, v) for k, v in headers if k in names], body))


async def send_hostile(client: httpx.AsyncClient, tally: Tally, variant: int, body: bytes) -> None:
    name, build, status, code = HOSTILE[variant]
    headers, content = build(body)
    response = await client.post("/echo", content=content, headers=headers)
    if check_refusal(tally, name, response.status_code, response.content, status, code):
        tally.bad_ok[name] += 1


def check_refusal(
    tally: Tally, name: str, status: int, content: bytes, want: int, code: str
) -> bool:
    try:
        payload = json.loads(content)
    except ValueError:
        payload = None
    if status != want or not isinstance(payload, dict) or payload.get("code") != code:
        tally.problems.append(f"{name}: {status} {content[:200]!r}, wanted {want} {code}")
        return False
    return True


async def raw_client(base_url: str, tally: Tally, kind: str, rng: random.Random) -> None:
    """A hand-written HTTP/1.1 client that misbehaves on the wire."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    body = rng.randbytes(20_000)
    length = len(body) if kind != "content-length-over-limit" else LIMIT * 1000
    head = [b"POST /echo HTTP/1.1", b"host: 127.0.0.1", b"content-length: %d" % length]
    head += [k + b": " + v for k, v in signed(body)]
    writer.write(b"\r\n".join(head) + b"\r\n\r\n")
    if kind == "disconnect-mid-body":
        writer.write(body[: rng.randrange(1, len(body))])
    elif kind == "content-length-over-limit":
        writer.write(body[:100])
    await writer.drain()
    if kind == "content-length-over-limit":  # refused before the body is read
        head_bytes = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        status_line, *fields = head_bytes.decode("latin-1").split("\r\n")
        lengths = [f.split(":", 1)[1] for f in fields if f.lower().startswith("content-length:")]
        content = await asyncio.wait_for(reader.readexactly(int(lengths[0])), 30)
        if check_refusal(tally, kind, int(status_line.split()[1]), content, 413, "body_too_large"):
            tally.raw_ok[kind] += 1
    else:
        await asyncio.sleep(0.01)  # let the server read what was sent, then hang up
        tally.raw_ok[kind] += 1
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


RAW_KINDS = ["disconnect-mid-body", "disconnect-after-headers", "content-length-over-limit"]


@dataclass
class Plan:
    """One batch of requests: (kind, argument) jobs, run CONCURRENCY at a time."""

    jobs: list[tuple[str, Any]]

    @classmethod
    def mixed(cls, total: int, rng: random.Random, *, raw: int = 0) -> Plan:
        jobs: list[tuple[str, Any]] = []
        for i in range(total):
            if i % 10 == 9:  # one in ten is hostile, each variant in turn
                jobs.append(("hostile", (i // 10) % len(HOSTILE)))
            else:
                jobs.append(("good", (CLIENT_ID, SECOND_ID)[i % 2]))
        jobs += [("raw", RAW_KINDS[i % len(RAW_KINDS)]) for i in range(raw)]
        rng.shuffle(jobs)
        return cls(jobs)

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.jobs if k == kind)


async def run_plan(
    clients: list[httpx.AsyncClient], base_url: str, plan: Plan, tally: Tally, rng: random.Random,
    *, keep: bool = False,
) -> None:  # fmt: skip
    jobs = iter(enumerate(plan.jobs))

    async def worker(client: httpx.AsyncClient) -> None:
        for index, (kind, arg) in jobs:
            try:
                if kind == "good":
                    await send_good(client, tally, good_body(rng, index), arg, keep)
                elif kind == "hostile":
                    await send_hostile(client, tally, arg, rng.randbytes(rng.randrange(1, 3000)))
                else:
                    await raw_client(base_url, tally, arg, rng)
            except Exception as exc:  # a transport error is a finding, not a crash of the test
                tally.problems.append(f"{kind} {arg}: {exc!r}")

    await asyncio.gather(*(worker(clients[i % len(clients)]) for i in range(CONCURRENCY)))


async def wait_until_idle(side: ServerSide, expected_calls: int, timeout: float = 15.0) -> None:
    """Until the middleware has returned from every call the clients made."""
    deadline = time.monotonic() + timeout
    while (side.started, side.finished) != (expected_calls, expected_calls):
        if time.monotonic() > deadline:
            raise AssertionError(f"server calls started/finished {side.started}/{side.finished}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def clients_for(url: str) -> AsyncIterator[list[httpx.AsyncClient]]:
    """CONCURRENCY connections, as several small pools.

    httpcore scans its whole pool (polling every socket) for each request, so one
    pool of 50 spends more time there than the server spends serving; ten pools of
    five keep the client cheap. Worker ``i`` uses pool ``i % 10``.
    """
    limits = httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE)
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, limits=limits, timeout=30)
            )
            for _ in range(CONCURRENCY // POOL_SIZE)
        ]


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # pragma: no cover


OURS = tracemalloc.Filter(True, f"{Path(hmac_asgi.__file__).parent}/*", all_frames=True)


def settle(traced_before: int) -> tuple[int, list[tracemalloc.Statistic]]:
    """Traced bytes still alive, and those allocated in hmac_asgi, once the run is over.

    The server thread drops the closed connections (and the last request each one
    remembers) in its own time: wait a little for them to go, then look at what stays.
    """
    deadline = time.monotonic() + 5
    while True:
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0]
        ours = tracemalloc.take_snapshot().filter_traces([OURS]).statistics("lineno")
        settled = traced - traced_before < HELD_AFTER_RUN and sum(s.size for s in ours) < HELD_BY_US
        if settled or time.monotonic() > deadline:
            return traced, ours
        time.sleep(0.2)


def assert_exact(
    plan: Plan, tally: Tally, side: ServerSide, *, more_app_calls: int = 0, replayed: int = 0
) -> None:
    assert tally.problems == [], tally.problems[:10]
    goods, hostiles = plan.count("good"), plan.count("hostile")
    assert tally.good_ok == goods
    assert sum(tally.bad_ok.values()) == hostiles
    assert side.app_calls == goods + more_app_calls  # the good ones, and only them
    assert side.escaped == []  # nothing raised into uvicorn
    raws = Counter(arg for kind, arg in plan.jobs if kind == "raw")
    assert tally.raw_ok == raws
    # Every refusal went through on_failure, by the expected code, exactly once.
    wanted: Counter[str] = Counter()
    for kind, arg in plan.jobs:
        if kind == "hostile":
            wanted[HOSTILE[arg][3]] += 1
    wanted["body_too_large"] += raws["content-length-over-limit"]
    wanted["replayed"] += replayed
    assert side.refusals == wanted


def test_load_with_hostile_clients_and_hang_ups_is_exact_and_leaves_no_trace() -> None:
    rng = random.Random(20241129)
    side = ServerSide()
    warm_up = Plan.mixed(300, rng, raw=9)
    main = Plan.mixed(3000, rng, raw=60)
    measured: dict[str, Any] = {}
    tally = Tally()

    async def scenario(url: str) -> None:
        async with clients_for(url) as clients:
            await run_plan(clients, url, warm_up, Tally(), rng)
            await wait_until_idle(side, len(warm_up.jobs))
            side.reset()
            gc.collect()
            measured["rss_before"] = rss_bytes()
            tracemalloc.start(1)  # the innermost frame: deeper tracebacks cost 3x the time
            measured["traced_before"] = tracemalloc.get_traced_memory()[0]
            started = time.perf_counter()
            await run_plan(clients, url, main, tally, rng)
            measured["seconds"] = time.perf_counter() - started
            await wait_until_idle(side, len(main.jobs))

    with (
        collected_logs() as logs,
        serve(build_server(side), lifespan="off", log_config=None) as url,
    ):
        try:
            asyncio.run(scenario(url))
            measured["peak"] = tracemalloc.get_traced_memory()[1]
            measured["traced_after"], ours = settle(measured["traced_before"])
        finally:
            tracemalloc.stop()
        measured["rss_after"] = rss_bytes()
    measured["hmac_asgi_after"] = sum(stat.size for stat in ours)
    grown = measured["traced_after"] - measured["traced_before"]
    print(  # shown with -s; the numbers the report quotes
        f"\n{len(main.jobs)} requests in {measured['seconds']:.1f} s "
        f"({len(main.jobs) / measured['seconds']:.0f}/s); traced memory "
        f"{measured['traced_before']} -> {measured['traced_after']} B "
        f"(peak {measured['peak'] / 2**20:.1f} MiB), still held by hmac_asgi "
        f"{measured['hmac_asgi_after']} B; RSS {measured['rss_before'] / 2**20:.1f} -> "
        f"{measured['rss_after'] / 2**20:.1f} MiB"
    )

    assert_exact(main, tally, side)
    assert logs.records == []
    # Memory: the run held several MiB at a time (bodies, buffers); what it keeps
    # must be noise. A leak of one body, or one closure or Verification, per
    # request would be megabytes; and hmac_asgi keeps nothing of any request.
    assert measured["peak"] > 2**20, "the measurement did not see the run"
    assert grown < HELD_AFTER_RUN, f"{grown} B allocated during the run are still held"
    assert measured["hmac_asgi_after"] < HELD_BY_US, [str(stat) for stat in ours[:5]]
    assert measured["rss_after"] - measured["rss_before"] < 64 * 2**20


def test_load_with_a_replay_cache_accepts_each_request_once() -> None:
    """A smaller run with MemoryReplayCache: every good request is unique and passes;
    then 100 of them are replayed (each refused), and 25 signed requests are sent
    twice at the same moment (exactly one of each pair passes)."""
    rng = random.Random(7)
    side = ServerSide()
    cache = MemoryReplayCache()
    plan = Plan.mixed(800, rng, raw=12)
    tally = Tally()
    refused = Counter[str]()
    problems: list[str] = []

    async def replay(client: httpx.AsyncClient, headers: Headers, body: bytes) -> None:
        response = await client.post("/echo", content=body, headers=headers)
        if check_refusal(tally, "replay", response.status_code, response.content, 401, "replayed"):
            refused["replay"] += 1

    async def race(client: httpx.AsyncClient, index: int) -> None:
        body = f"race {index}".encode()
        headers = signed(body)
        answers = await asyncio.gather(
            *(client.post("/echo", content=body, headers=headers) for _ in range(2))
        )
        statuses = sorted(a.status_code for a in answers)
        codes = [a.json().get("code") for a in answers if a.status_code == 401]
        if statuses == [200, 401] and codes == ["replayed"]:
            refused["race"] += 1
        else:
            problems.append(f"race {index}: {statuses} {codes}")

    async def scenario(url: str) -> None:
        async with clients_for(url) as clients:
            await run_plan(clients, url, plan, tally, rng, keep=True)
            sample = rng.sample(tally.accepted, 100)
            await asyncio.gather(
                *(replay(clients[i % len(clients)], h, b) for i, (h, b) in enumerate(sample))
            )
            await asyncio.gather(*(race(clients[i % len(clients)], i) for i in range(25)))
            await wait_until_idle(side, len(plan.jobs) + 100 + 2 * 25)

    with (
        collected_logs() as logs,
        serve(build_server(side, replay_cache=cache), lifespan="off", log_config=None) as url,
    ):
        asyncio.run(scenario(url))

    assert problems == []
    assert refused == {"replay": 100, "race": 25}
    # Each replay and each race's loser refused once; each race's winner served.
    assert_exact(plan, tally, side, more_app_calls=25, replayed=100 + 25)
    # Exactly the verified requests are remembered: forged ones never reach the cache.
    assert len(cache) == plan.count("good") + 25
    assert logs.records == []
