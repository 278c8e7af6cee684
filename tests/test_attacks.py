"""Regression tests for the hostile review's findings (items 1-9), fast half.

Each test pins one attack and fails on the code the review was made against; see
the docstrings. The slow half (real servers, floods) is ``tests/test_attacks_slow.py``;
item 5 (work counting) lives in ``tests/test_timing.py`` with the rest of the timing suite.

Clocks are injected and moved between ASGI messages (a ``receive`` that runs a step
before handing over the next message), so "the body arrives after the window" is
exact, not slept for; only the Redis variants sleep, because Redis expires keys on
its own clock.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import shutil
import subprocess
import sys
import time
import traceback
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import redis.asyncio
from _asgi import Outcome, Script, Step, chunks, drive, http_scope, raw, recording_app
from _redis import redis_server
from _secrets import secret
from _signing import CLIENT_ID, SECRET, signed
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message

from hmac_asgi import (
    AuthException,
    HMACAuth,
    HMACAuthorizationHeaders,
    HMACMiddleware,
    HMACSigningAuth,
    HMACSigningTransport,
    MemoryReplayCache,
    RedisReplayCache,
    create_signature,
)
from hmac_asgi._cli import main as cli_main

TS = 1_800_000_000.5  # the timestamp every captured request was signed at
MAX_AGE = 300.0  # the middleware's default
BODY = b'{"transfer": 100, "to": "mallory"}'
UNKNOWN_CLIENT = uuid.UUID("3b42cdf7-add1-445f-98db-2fe525ad54d6")
CLI_SECRET = secret("typed on the command line")
# token_urlsafe may start with "-": an option's value, or an option?
CLI_DASH_SECRET = secret(
    "typed on the command line, dash first", "-cli-dash-secret-0123456789abcdef-0123456"
)
ECHO_SECRET = secret("passed in the wrong argument")
# What `secrets.token_hex(16)` gives one time in 32: 32 hex digits that parse as a UUIDv4.
HEX_V4_SECRET = secret("hex that parses as a UUIDv4", "0123456789ab4def8123456789abcdef")
LOOKUP_BYTES_SECRET = secret("secret_lookup answering bytes").encode()


class Clock:
    """Seconds since the epoch that move only when a test says so."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def to(self, now: float) -> Step:
        """A script step that sets the clock."""

        def step() -> None:
            self.now = now

        return step


class Lagging:
    """Another server's clock: ``behind`` seconds behind ``lead``."""

    def __init__(self, lead: Clock, behind: float) -> None:
        self.lead = lead
        self.behind = behind

    def __call__(self) -> float:
        return self.lead.now - self.behind


def sleep(seconds: float) -> Step:
    """A script step that really waits (for Redis, whose keys expire on its own clock)."""
    return lambda: anyio.sleep(seconds)


def captured(body: bytes = BODY, timestamp: float = TS) -> list[tuple[bytes, bytes]]:
    """The headers of a request an attacker captured (validly signed at ``timestamp``)."""
    return signed("destiny", body, at=timestamp).raw


def slow_body(body: bytes, *pause: Step) -> Script:
    """``body`` in two messages, with ``pause`` run before its last byte is handed over."""
    return [
        {"type": "http.request", "body": body[:-1], "more_body": True},
        *pause,
        {"type": "http.request", "body": body[-1:], "more_body": False},
    ]


async def play(
    app: ASGIApp, headers: list[tuple[bytes, bytes]] | None = None, script: Script | None = None
) -> Outcome:
    """One request through ``app`` (the captured one unless ``headers``): the script's
    messages (steps run in between; ``BODY`` in 8-byte chunks unless given), then
    ``http.disconnect`` forever."""
    return await drive(app, http_scope(headers or captured()), script or chunks(BODY, 8))


def guarded(seen: Outcome, clock: Callable[[], float], **options: Any) -> HMACMiddleware:
    """The middleware around ``seen``'s recording app on ``clock``, with a memory replay
    cache on that clock unless ``replay_cache`` is given."""
    options.setdefault("replay_cache", MemoryReplayCache(clock=clock))
    return HMACMiddleware(recording_app(seen), secret_key=SECRET, clock=clock, **options)


async def used_once(clock: Callable[[], float], **options: Any) -> tuple[HMACMiddleware, Outcome]:
    """:func:`guarded`, and what its app saw, once the captured request was used (200)."""
    seen = Outcome()
    mw = guarded(seen, clock, **options)
    assert (await play(mw)).code() == (200, None)
    return mw, seen


# --- item 1: single use until no server sharing the cache can accept it again -----------


@pytest.mark.anyio
async def test_item1_body_held_past_the_window_is_refused_as_a_replay_memory() -> None:
    """Replay: headers sent inside the window, body held until the first use's entry expired."""
    clock = Clock(TS + 1)
    mw, seen = await used_once(clock)
    clock.now = TS + MAX_AGE - 1  # the replay's headers arrive inside the window ...
    replay = await play(mw, script=slow_body(BODY, clock.to(TS + MAX_AGE + 1)))
    # ... its last byte after it (within body_timeout): still the same, spent signature.
    assert replay.code() == (401, "replayed")
    assert seen.app_calls == 1


@pytest.mark.anyio
@pytest.mark.parametrize("body_timeout", [30.0, None], ids=["body_timeout=30", "no-timeout"])
@pytest.mark.parametrize("skew", [2.0, 250.0], ids=["2s-apart", "250s-apart"])
async def test_item1_lagging_server_sharing_a_memory_cache_refuses_the_replay(
    skew: float, body_timeout: float | None
) -> None:
    """Replay to a server whose clock lags, after the leading server's window (shared cache)."""
    # The store (and the leading server) run on true time. The first use must be remembered
    # for as long as any server sharing the store could still accept it: the lagging one
    # does so until its own clock reads timestamp + max_age (+ body_timeout for a slow body).
    lead = Clock(TS + MAX_AGE - 1)
    seen = Outcome()
    cache = MemoryReplayCache(clock=lead)
    servers = [
        guarded(seen, clock, replay_cache=cache, body_timeout=body_timeout)
        for clock in (lead, Lagging(lead, skew))
    ]
    assert (await play(servers[0])).code() == (200, None)
    # Just after the leading server's window closed, and at the lagging server's last moment.
    for when in (TS + MAX_AGE + 0.5, TS + MAX_AGE + skew - 0.5):
        lead.now = when
        replay = await play(servers[1])
        assert replay.code() == (401, "replayed"), f"{when - TS - MAX_AGE:+} s past the window"
    assert seen.app_calls == 1


@pytest.mark.anyio
async def test_item1_wall_clock_stepping_back_does_not_reopen_a_replay() -> None:
    """Replay once the wall clock steps back 100 s and the cache has dropped the first use."""
    # With one injected clock for both, this pins how long the entry lives; that the cache's
    # default clock is the wall clock (not time.monotonic) is the next test's.
    wall = Clock(TS + 250)
    mw, seen = await used_once(wall)
    # 60 s later (a monotonic clock would have dropped today's 50 s entry by now),
    # other traffic comes in ...
    wall.now = TS + 310
    other = captured(b"other", timestamp=TS + 309)
    assert (await play(mw, other, chunks(b"other", 8))).code() == (200, None)
    # ... then NTP steps the wall clock back 100 s: the captured request is fresh again.
    wall.now -= 100
    assert (await play(mw)).code() == (401, "replayed")
    assert seen.app_calls == 2


def test_item1_memory_cache_expires_on_the_wall_clock() -> None:
    """A cache expiring on time.monotonic forgets entries a stepped-back wall clock revives."""
    assert MemoryReplayCache().clock is time.time
    clock = Clock(TS)
    cache = MemoryReplayCache(clock=clock)
    assert cache.clock is clock
    with pytest.raises(AttributeError):
        cache.clock = time.monotonic  # type: ignore[misc]  # read-only


@pytest.mark.anyio
async def test_item1_without_body_timeout_a_body_ending_after_the_window_is_expired() -> None:
    """With body_timeout=None a body trickled in past the window is still accepted."""
    # Nothing bounds how late the body may end, so no replay entry can be long enough:
    # freshness is checked again once the body is in.
    clock = Clock(TS + MAX_AGE - 1)
    seen = Outcome()
    mw = guarded(seen, clock, replay_cache=None, body_timeout=None)
    late = await play(mw, script=slow_body(BODY, clock.to(TS + MAX_AGE + 1)))
    assert late.code() == (401, "expired")
    assert seen.app_calls == 0


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as server:
        yield server.url


@contextlib.asynccontextmanager
async def redis_caches(url: str, count: int) -> AsyncIterator[list[RedisReplayCache]]:
    """``count`` clients of one Redis (as ``count`` servers would have), own key space."""
    prefix = f"attacks:{uuid.uuid4()}:"
    caches = [RedisReplayCache.from_url(url, prefix=prefix) for _ in range(count)]
    try:
        yield caches
    finally:
        for cache in caches:
            await cache.aclose()


@pytest.mark.anyio
async def test_item1_body_held_past_the_window_is_refused_as_a_replay_redis(
    redis_url: str,
) -> None:
    """Redis: body held until the first use's key (TTL = window left) expired, then accepted."""
    clock = Clock(TS + MAX_AGE - 0.2)  # today's key would live 0.2 s
    async with redis_caches(redis_url, 1) as (cache,):
        mw, seen = await used_once(clock, replay_cache=cache)
        clock.now = TS + MAX_AGE - 0.1
        held = slow_body(BODY, sleep(0.3), clock.to(TS + MAX_AGE + 0.2))
        assert (await play(mw, script=held)).code() == (401, "replayed")
    assert seen.app_calls == 1


@pytest.mark.anyio
@pytest.mark.parametrize("skew", [2.0, 250.0], ids=["2s-apart", "250s-apart"])
async def test_item1_lagging_server_sharing_redis_refuses_the_replay(
    redis_url: str, skew: float
) -> None:
    """Redis shared by servers with skewed clocks: replay to the lagging one after the window."""
    lead = Clock(TS + MAX_AGE - 0.2)
    seen = Outcome()
    async with redis_caches(redis_url, 2) as caches:
        leading, lagging = (
            guarded(seen, clock, replay_cache=cache)
            for cache, clock in zip(caches, (lead, Lagging(lead, skew)), strict=True)
        )
        assert (await play(leading)).code() == (200, None)
        await anyio.sleep(0.3)  # today's key (0.2 s) is gone from Redis
        lead.now = TS + MAX_AGE + 0.1
        assert (await play(lagging)).code() == (401, "replayed")
    assert seen.app_calls == 1


# --- item 2: memory per request is the body, plus a small constant -----------------------

LIMIT = 128 * 1024


@contextlib.contextmanager
def tracing() -> Iterator[None]:
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        yield
    finally:
        if started:
            tracemalloc.stop()


@dataclass
class Buffered:
    """What one request cost while the middleware buffered it, and what the app then got."""

    base: int = 0
    growth: int = -1  # peak traced bytes above ``base`` when the app was called
    body: bytes = b""
    after: str = ""  # the type of the message the app received after the body


def measuring_app(record: Buffered) -> ASGIApp:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        record.growth = tracemalloc.get_traced_memory()[1] - record.base
        body = bytearray()
        while True:  # stops at the first more_body=False: an early one truncates the body
            message = await receive()
            assert message["type"] == "http.request"
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        record.body = bytes(body)
        record.after = (await receive())["type"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


async def buffered(body: bytes, *, empties: int = 0, chunk: int = 1) -> Buffered:
    """Drive one valid request: ``empties`` empty messages, then ``body`` in ``chunk``-byte
    messages, each message made only when asked for (the driver keeps none)."""
    record = Buffered()
    mw = HMACMiddleware(
        measuring_app(record), secret_key=SECRET, max_body_size=LIMIT, clock=lambda: TS
    )
    scope = http_scope(captured(body))

    def messages() -> Iterator[Message]:
        for _ in range(empties):
            yield {"type": "http.request", "body": b"", "more_body": True}
        for start in range(0, len(body), chunk):
            end = start + chunk
            yield {"type": "http.request", "body": body[start:end], "more_body": end < len(body)}

    gc.collect()
    tracemalloc.reset_peak()
    record.base = tracemalloc.get_traced_memory()[0]
    outcome = await drive(mw, scope, messages())
    assert outcome.status == 200, outcome.sent
    return record


@pytest.mark.anyio
async def test_item2_empty_body_messages_cost_no_memory() -> None:
    """200,000 empty body messages (free HTTP/2 DATA frames) kept as a dict each, uncounted."""
    with tracing():
        await buffered(BODY)  # warm-up: caches, the watchdog's loop entry
        plain = await buffered(BODY)
        flooded = await buffered(BODY, empties=200_000)
    assert (flooded.body, flooded.after) == (BODY, "http.disconnect")
    assert flooded.growth - plain.growth <= 4 * 1024, (plain.growth, flooded.growth)


@pytest.mark.anyio
async def test_item2_one_byte_messages_cost_the_body_not_a_message_each() -> None:
    """A body at max_body_size sent in 1-byte messages kept as a ~200-byte dict per byte."""
    body = os.urandom(LIMIT)
    with tracing():
        await buffered(BODY)  # warm-up
        plain = await buffered(BODY)  # what any request costs (frames, state)
        record = await buffered(body, chunk=1)
    # The app got every byte in order, more_body=True until the last message, and then
    # the server's own receive (http.disconnect), not a replayed copy.
    assert record.body == body
    assert record.after == "http.disconnect"
    extra = record.growth - plain.growth - LIMIT
    assert extra <= 64 * 1024 + 8 * 1024, f"{extra} bytes over the body"


# --- item 3: a hop the transport does not sign carries no signing headers ----------------

SIGNING_HEADERS = (
    "authorization",
    "x-client-id",
    "x-request-timestamp",
    "signature",
    "signature-input",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
)
# Other schemes' signing headers on the request (as a second signer would leave them).
OTHER_SCHEMES = {
    "Signature": "sig1=:YWJj:",
    "Signature-Input": 'sig1=("@method" "content-digest");created=1800000000',
    "webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
    "webhook-timestamp": "1800000000",
    "webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
}
REDIRECTS = {
    "http-to-https-same-host": "https://a.example/y",
    "other-host": "http://b.example/y",
    "other-port": "http://a.example:8080/y",
}


def redirecting(target: str, seen: list[httpx.Request]) -> httpx.MockTransport:
    """``/x`` redirects (307) to ``target``; anything else is 200. Records every request."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/x":
            return httpx.Response(307, headers={"Location": target})
        return httpx.Response(200)

    return httpx.MockTransport(handler)


def signing_transport(inner: httpx.MockTransport, **kwargs: Any) -> HMACSigningTransport:
    return HMACSigningTransport(secret_key=SECRET, client_id=CLIENT_ID, transport=inner, **kwargs)


def check_unsigned_hop(seen: list[httpx.Request]) -> None:
    first, hop = seen
    assert first.headers["authorization"].startswith("Signature ")  # the trusted hop is signed
    forwarded = [name for name in SIGNING_HEADERS if name in hop.headers]
    assert forwarded == [], f"{hop.url} got the previous hop's {forwarded}"


@pytest.mark.parametrize("target", REDIRECTS.values(), ids=REDIRECTS.keys())
def test_item3_unsigned_redirect_hop_carries_no_signing_headers_sync(target: str) -> None:
    """A redirect to an untrusted origin forwards the previous hop's signing headers (sync)."""
    seen: list[httpx.Request] = []
    with httpx.Client(
        transport=signing_transport(redirecting(target, seen)), follow_redirects=True
    ) as client:
        response = client.post("http://a.example/x", content=b"data", headers=OTHER_SCHEMES)
    assert response.status_code == 200
    check_unsigned_hop(seen)


@pytest.mark.anyio
@pytest.mark.parametrize("target", REDIRECTS.values(), ids=REDIRECTS.keys())
async def test_item3_unsigned_redirect_hop_carries_no_signing_headers_async(target: str) -> None:
    """A redirect to an untrusted origin forwards the previous hop's signing headers (async)."""
    seen: list[httpx.Request] = []
    async with httpx.AsyncClient(
        transport=signing_transport(redirecting(target, seen)), follow_redirects=True
    ) as client:
        response = await client.post("http://a.example/x", content=b"data", headers=OTHER_SCHEMES)
    assert response.status_code == 200
    check_unsigned_hop(seen)


# --- item 4: the clock offset is learnt only from the origin the request was signed for --

HOUR_AHEAD = formatdate(TS + 3600, usegmt=True)


def skewed_redirect(seen: list[httpx.Request]) -> httpx.MockTransport:
    """a.example/x redirects to b.example, which claims (401, Date) an hour later."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "b.example":
            return httpx.Response(
                401, headers={"Date": HOUR_AHEAD}, json={"detail": "Token is expired."}
            )
        if request.url.path == "/x":
            return httpx.Response(307, headers={"Location": "https://b.example/y"})
        return httpx.Response(200)

    return httpx.MockTransport(handler)


def sent_timestamp(request: httpx.Request) -> float:
    return float(request.headers["x-request-timestamp"])


def test_item4_auth_learns_no_clock_offset_from_another_host_sync() -> None:
    """A redirect target on another host sets the clock offset with a 401 and a far-off Date."""
    seen: list[httpx.Request] = []
    auth = HMACSigningAuth(SECRET, CLIENT_ID, clock=Clock(TS))
    with httpx.Client(auth=auth, transport=skewed_redirect(seen), follow_redirects=True) as client:
        assert client.post("https://a.example/x", content=b"data").status_code == 401
        assert client.get("https://a.example/z").status_code == 200
    assert abs(sent_timestamp(seen[-1]) - TS) < 2, sent_timestamp(seen[-1]) - TS


@pytest.mark.anyio
async def test_item4_auth_learns_no_clock_offset_from_another_host_async() -> None:
    """Another host's 401 with a far-off Date sets the clock offset (async flow)."""
    seen: list[httpx.Request] = []
    auth = HMACSigningAuth(SECRET, CLIENT_ID, clock=Clock(TS))
    async with httpx.AsyncClient(
        auth=auth, transport=skewed_redirect(seen), follow_redirects=True
    ) as client:
        assert (await client.post("https://a.example/x", content=b"data")).status_code == 401
        assert (await client.get("https://a.example/z")).status_code == 200
    assert abs(sent_timestamp(seen[-1]) - TS) < 2, sent_timestamp(seen[-1]) - TS


def test_item4_transport_learns_no_clock_offset_from_another_host() -> None:
    """Guard (holds today): the transport learns no offset from an unsigned hop's 401."""
    seen: list[httpx.Request] = []
    signing = signing_transport(skewed_redirect(seen), clock=Clock(TS))
    with httpx.Client(transport=signing, follow_redirects=True) as client:
        assert client.post("https://a.example/x", content=b"data").status_code == 401
        assert client.get("https://a.example/z").status_code == 200
    assert abs(sent_timestamp(seen[-1]) - TS) < 2, sent_timestamp(seen[-1]) - TS


# --- item 6: the CLI never prints back a value it was given -------------------------------


def cli_cases(secret: str) -> dict[str, tuple[list[str], bool]]:
    """name -> (argv with ``secret`` in one position, whether stdout must not show it).

    stdout is left out only where printing that value is the command's purpose: in
    ``--curl`` mode the URL, the method and a literal ``--data`` are the curl command.
    stderr is always checked. A secret as ``--data @FILE`` is not covered: the file
    name in "cannot read" is kept (tests/test_cli.py asserts it).
    """
    cid = str(CLIENT_ID)
    env = ["--secret-env", "HMAC_SECRET"]
    base = ["sign", *env, "--client-id", cid]
    return {
        "--secret VALUE (abbreviation)": (["sign", "--secret", secret, "--client-id", cid], True),
        "--secret=VALUE (abbreviation)": (["sign", f"--secret={secret}", "--client-id", cid], True),
        "--secret-env VALUE": (["sign", "--secret-env", secret, "--client-id", cid], True),
        "--secret-env=VALUE": (["sign", f"--secret-env={secret}", "--client-id", cid], True),
        "--secret-key VALUE (unknown option)": ([*base, "--secret-key", secret], True),
        "--c=VALUE (ambiguous prefix)": ([*base, f"--c={secret}"], True),
        "--client-id VALUE": (["sign", *env, "--client-id", secret], True),
        "--client-id=VALUE": (["sign", *env, f"--client-id={secret}"], True),
        "--timestamp VALUE": ([*base, "--timestamp", secret], True),
        "--timestamp=VALUE": ([*base, f"--timestamp={secret}"], True),
        "--data VALUE (headers mode)": ([*base, "--data", secret], True),
        "--method VALUE (headers mode)": ([*base, "--method", secret], True),
        "stray positional after the options": ([*base, secret], True),
        "stray positional before the options": (["sign", secret, *base[1:]], True),
        "as the command": ([secret], True),
        "after keygen": (["keygen", secret], True),
        "--curl VALUE, secret env var unset": (
            ["sign", "--secret-env", "UNSET_VARIABLE", "--client-id", cid, "--curl", secret],
            True,
        ),
        "--curl VALUE": ([*base, "--curl", secret], False),
        "--method VALUE --curl": ([*base, "--method", secret, "--curl", "http://h/"], False),
        "--data VALUE --curl": ([*base, "--data", secret, "--curl", "http://h/"], False),
    }


@pytest.mark.parametrize("secret", [CLI_SECRET, CLI_DASH_SECRET], ids=["plain", "dash-leading"])
def test_item6_cli_prints_back_no_value_from_its_arguments(
    secret: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret typed as an option value or a stray word is echoed back by an error."""
    monkeypatch.setenv("HMAC_SECRET", SECRET)
    monkeypatch.delenv("UNSET_VARIABLE", raising=False)
    leaks = []
    for name, (argv, check_stdout) in cli_cases(secret).items():
        cli_main(argv)
        out, err = capsys.readouterr()
        assert "Traceback" not in err, name
        if secret in err or (check_stdout and secret in out):
            leaks.append(name)
    assert leaks == [], f"the value was printed back for: {leaks}"


def test_item6_installed_console_script_prints_back_no_value() -> None:
    """The installed hmac-asgi script echoes a secret typed in the wrong place."""
    script = shutil.which("hmac-asgi", path=str(Path(sys.executable).parent))
    assert script is not None, "the hmac-asgi console script is not installed"
    env = {**os.environ, "HMAC_SECRET": SECRET}
    cases = cli_cases(CLI_SECRET)
    leaks = []
    for name in ("--secret VALUE (abbreviation)", "--secret-env VALUE", "--timestamp VALUE"):
        argv, _ = cases[name]
        done = subprocess.run(
            [script, *argv], capture_output=True, text=True, timeout=30, env=env, check=False
        )
        assert "Traceback" not in done.stderr, name
        if CLI_SECRET in done.stdout + done.stderr:
            leaks.append(name)
    assert leaks == [], f"the value was printed back for: {leaks}"


# --- item 7: the HMACAuth dependency bounds the body it reads ----------------------------


def guarded_app(auth: HMACAuth) -> Any:
    """FastAPI app whose /private route depends on ``auth`` and declares no body parameter
    (FastAPI reads a declared body before the dependencies run). Refusals carry ``code``.
    (FastAPI is not installed with the lowest supported dependencies: skipped there.)"""
    fastapi = pytest.importorskip("fastapi")
    app = fastapi.FastAPI()

    @app.exception_handler(AuthException)
    async def refused(request: Request, exc: AuthException) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.detail, "code": exc.code}, exc.status_code, headers=exc.headers
        )

    @app.post("/private", dependencies=[fastapi.Depends(auth)])
    async def private(request: Request) -> dict[str, str]:
        return {"body": (await request.body()).decode()}

    return app


async def drive_counting(
    app: ASGIApp,
    headers: list[tuple[bytes, bytes]],
    messages: list[Message],
    stall: bool = False,
    http2: bool = False,
) -> Outcome:
    """Raw ASGI to /private (its ``reads`` count ``receive`` calls); ``stall``: never send
    the rest."""
    scope = http_scope(headers, path="/private", http_version="2" if http2 else "1.1")
    return await drive(app, scope, messages, then="block" if stall else "disconnect")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("limit", "body", "framing", "answer"),
    [
        (16, b"x" * 17, (b"content-length", b"17"), (413, "body_too_large")),
        # HTTP/1.1 chunked: 411, the dependency could not both bound it and hand it on.
        (25, b"0123456789" * 10, (b"transfer-encoding", b"chunked"), (411, "length_required")),
    ],
    ids=["content-length-over-the-limit", "http1-chunked"],
)
async def test_item7_dependency_refuses_before_reading_a_body_it_cannot_bound(
    limit: int, body: bytes, framing: tuple[bytes, bytes], answer: tuple[int, str]
) -> None:
    """A huge Content-Length, or a chunked body (no Content-Length), is read by the
    dependency without any limit, before any refusal."""
    auth = HMACAuth(SECRET, max_body_size=limit, clock=Clock(TS))
    counted = await drive_counting(guarded_app(auth), [*captured(body), framing], chunks(body, 10))
    assert counted.code() == answer
    assert counted.reads == 0


@pytest.mark.anyio
async def test_item7_dependency_stops_reading_an_http2_body_without_length_at_the_limit() -> None:
    """A body without a Content-Length over HTTP/2 is read by the dependency without any
    limit: it must be read up to the limit only."""
    auth = HMACAuth(SECRET, max_body_size=25, clock=Clock(TS))
    body = b"0123456789" * 10
    counted = await drive_counting(guarded_app(auth), captured(body), chunks(body, 10), http2=True)
    assert counted.code() == (413, "body_too_large")
    assert counted.reads <= 3  # the third 10-byte chunk crossed the limit


@pytest.mark.anyio
async def test_item7_dependency_refuses_a_body_slower_than_body_timeout() -> None:
    """A stalled body holds the dependency, and the request, forever."""
    auth = HMACAuth(SECRET, body_timeout=0.2, clock=Clock(TS))
    started = time.monotonic()
    counted = await drive_counting(guarded_app(auth), captured(), slow_body(BODY)[:1], stall=True)
    assert counted.code() == (408, "body_timeout")
    assert time.monotonic() - started < 5


@pytest.mark.anyio
async def test_item7_dependency_with_limits_still_lets_the_route_read_the_body() -> None:
    """Bounding the body in the dependency must leave it readable by the route."""
    auth = HMACAuth(SECRET, max_body_size=1024, body_timeout=5.0, clock=Clock(TS))
    transport = httpx.ASGITransport(guarded_app(auth))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        at_limit = b"y" * 1024
        ok = await client.post(
            "/private", content=at_limit, headers=signed("destiny", at_limit, at=TS).httpx
        )
        assert (ok.status_code, ok.json()) == (200, {"body": at_limit.decode()})

        async def chunked() -> AsyncIterator[bytes]:
            yield BODY[:5]
            yield BODY[5:]

        # A chunked upload is refused, clearly, before reading: the route could not
        # read a body the dependency consumed (only the middleware can replay it).
        streamed = await client.post(
            "/private", content=chunked(), headers=signed("destiny", BODY, at=TS).httpx
        )
        assert (streamed.status_code, streamed.json()["code"]) == (411, "length_required")
        over = b"y" * 1025
        too_big = await client.post(
            "/private", content=over, headers=signed("destiny", over, at=TS).httpx
        )
        assert (too_big.status_code, too_big.json()["code"]) == (413, "body_too_large")


# --- item 8: smaller points ---------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "scope",
    [
        {"type": "webtransport", "path": "/", "headers": []},
        {"type": "HTTP", "path": "/", "headers": []},  # not "http": never verified
        {"type": "http.request", "path": "/", "headers": []},
        {"type": "custom"},  # no path either
        {"type": "webtransport", "path": "/health", "headers": []},  # an excluded path
    ],
    ids=["webtransport", "HTTP", "http.request", "custom-no-path", "excluded-path"],
)
async def test_item8a_unknown_scope_types_are_refused(scope: dict[str, Any]) -> None:
    """A scope of an unknown type reaches the app unauthenticated."""
    called: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(scope["type"])

    mw = HMACMiddleware(app, secret_key=SECRET, exclude_paths=("/health",))
    outcome = Outcome()
    with pytest.raises(RuntimeError):
        await drive(mw, scope, [], outcome)
    assert called == []
    assert outcome.sent == []  # nothing was sent


def formatted(exc: BaseException) -> str:
    """str, repr and the whole traceback (causes and contexts): what a log would show."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"{exc} {exc!r} {text}"


async def _lookup(client_id: uuid.UUID) -> str | None:
    return None


def echo_cases(client: redis.asyncio.Redis) -> dict[str, Callable[[], object]]:
    """Every validation path in hmac_asgi that could format a passed value, given a secret
    (or a secret-looking value) in the wrong place. Each call must raise."""
    app = recording_app(Outcome())
    s, b = ECHO_SECRET, ECHO_SECRET.encode()
    sig = "a" * 64
    return {
        "HMACMiddleware(max_age=S)": lambda: HMACMiddleware(app, secret_key=SECRET, max_age=s),
        "HMACMiddleware(body_timeout=S)": lambda: HMACMiddleware(
            app, secret_key=SECRET, body_timeout=s
        ),
        "HMACMiddleware(max_body_size=S)": lambda: HMACMiddleware(
            app, secret_key=SECRET, max_body_size=s
        ),
        "HMACMiddleware(exclude_paths=[S])": lambda: HMACMiddleware(
            app, secret_key=SECRET, exclude_paths=[s]
        ),
        "HMACMiddleware(exclude_paths=[bytes])": lambda: HMACMiddleware(
            app, secret_key=SECRET, exclude_paths=[b]
        ),
        "HMACMiddleware(secret_lookup_ttl=S)": lambda: HMACMiddleware(
            app, secret_lookup=_lookup, secret_lookup_ttl=s
        ),
        "HMACMiddleware(replay_cache=S)": lambda: HMACMiddleware(
            app, secret_key=SECRET, replay_cache=s
        ),
        "HMACMiddleware(on_failure=S)": lambda: HMACMiddleware(
            app, secret_key=SECRET, on_failure=s
        ),
        "HMACMiddleware(clock=S)": lambda: HMACMiddleware(app, secret_key=SECRET, clock=s),
        # (bytes are a raw key, accepted: a bytearray is not a secret type)
        "HMACMiddleware(secret_key=[S, bytearray])": lambda: HMACMiddleware(
            app, secret_key=[s, bytearray(b)]
        ),
        # A mapping written the wrong way round, {secret: client id}, whose secret happens
        # to parse as a UUIDv4: the key is named in the error.
        "HMACMiddleware(client_secrets={hex secret: UUID})": lambda: HMACMiddleware(
            app, client_secrets={HEX_V4_SECRET: CLIENT_ID}
        ),
        "MemoryReplayCache(max_entries=S)": lambda: MemoryReplayCache(max_entries=s),
        "MemoryReplayCache(clock=S)": lambda: MemoryReplayCache(clock=s),
        "RedisReplayCache(timeout=S)": lambda: RedisReplayCache(client, timeout=s),
        "RedisReplayCache(prefix=bytes)": lambda: RedisReplayCache(client, prefix=b),
        "HMACSigningTransport(origins=[S])": lambda: HMACSigningTransport(
            secret_key=SECRET, client_id=CLIENT_ID, origins=[s]
        ),
        "HMACSigningTransport(origins=[bytes])": lambda: HMACSigningTransport(
            secret_key=SECRET, client_id=CLIENT_ID, origins=[b]
        ),
        "HMACSigningTransport(transport=S)": lambda: HMACSigningTransport(
            secret_key=SECRET, client_id=CLIENT_ID, transport=s
        ),
        "HMACSigningAuth(client_id=S)": lambda: HMACSigningAuth(SECRET, s),
        "HMACSigningAuth(clock=S)": lambda: HMACSigningAuth(SECRET, CLIENT_ID, clock=s),
        "HMACAuth([S, 7])": lambda: HMACAuth([s, 7]),
        "HMACAuth([S, bytearray])": lambda: HMACAuth([s, bytearray(b)]),
        "HMACAuth(max_age=S)": lambda: HMACAuth(SECRET, max_age=s),
        "HMACAuth(max_body_size=S)": lambda: HMACAuth(SECRET, max_body_size=s),
        "HMACAuth(body_timeout=S)": lambda: HMACAuth(SECRET, body_timeout=s),
        "HMACAuthorizationHeaders(signature=S)": lambda: HMACAuthorizationHeaders(
            signature=s, client_id=CLIENT_ID, timestamp=1.0
        ),
        "HMACAuthorizationHeaders(client_id=S)": lambda: HMACAuthorizationHeaders(
            signature=sig, client_id=s, timestamp=1.0
        ),
        "HMACAuthorizationHeaders(timestamp=S)": lambda: HMACAuthorizationHeaders(
            signature=sig, client_id=CLIENT_ID, timestamp=s
        ),
        "create_signature(client_id=S)": lambda: create_signature(SECRET, b"", s, "1.0"),
        "create_signature(timestamp=S)": lambda: create_signature(SECRET, b"", CLIENT_ID, s),
    }


@pytest.mark.anyio
async def test_item8b_no_error_message_shows_a_value_it_was_given() -> None:
    """A secret passed in the wrong argument is shown in the exception's text."""
    client = redis.asyncio.Redis()
    problems = []
    try:
        for name, make in echo_cases(client).items():
            try:
                make()
            except Exception as exc:
                text = formatted(exc)
                # The hex form too: a hex secret that parses as a UUID may be shown dashed.
                if ECHO_SECRET in text or HEX_V4_SECRET in text.replace("-", ""):
                    problems.append(f"{name}: shown in {type(exc).__name__}")
            else:
                problems.append(f"{name}: accepted")
    finally:
        await client.aclose()
    assert problems == [], "\n".join(problems)


def lookup_answering(value: object) -> Callable[[uuid.UUID], Awaitable[Any]]:
    async def lookup(client_id: uuid.UUID) -> Any:
        return value if client_id == CLIENT_ID else None

    return lookup


async def play_safely(mw: HMACMiddleware, headers: list[tuple[bytes, bytes]]) -> Outcome:
    try:
        return await play(mw, headers)
    except Exception as exc:
        pytest.fail(f"the middleware raised {type(exc).__name__} into the server")


@pytest.mark.anyio
async def test_item8c_secret_lookup_returning_bytes_is_a_raw_key() -> None:
    """A secret_lookup returning bytes crashes the request instead of keying the HMAC."""
    seen = Outcome()
    mw = HMACMiddleware(
        recording_app(seen), secret_lookup=lookup_answering(LOOKUP_BYTES_SECRET), clock=Clock(TS)
    )
    headers = signed("destiny", BODY, secret=LOOKUP_BYTES_SECRET.decode(), at=TS).raw
    assert (await play_safely(mw, headers)).code() == (200, None)
    assert seen.app_calls == 1 and seen.app_body == BODY
    assert (await play_safely(mw, captured())).code() == (401, "invalid_signature")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "value",
    [7, {"secret": SECRET, "version": "1"}, {SECRET: "current"}],
    ids=["int", "dict-record", "dict-keyed-by-secret"],
)
async def test_item8c_secret_lookup_returning_another_type_is_503(
    value: object, caplog: pytest.LogCaptureFixture
) -> None:
    """A secret_lookup returning an int crashes; a dict has its keys taken as secrets."""
    seen = Outcome()
    mw = HMACMiddleware(recording_app(seen), secret_lookup=lookup_answering(value), clock=Clock(TS))
    with caplog.at_level(logging.ERROR, logger="hmac_asgi"):
        outcome = await play_safely(mw, captured())
    assert outcome.code() == (503, "unavailable")
    assert seen.app_calls == 0
    errors = [r for r in caplog.records if r.name == "hmac_asgi" and r.levelno >= logging.ERROR]
    assert errors, "the bad answer was not logged at ERROR"


# --- item 9: destiny-sdk's message for every malformed signature ----------------------------

GOOD_SIGNATURE = signed("destiny", BODY, at=TS).httpx["Authorization"].removeprefix("Signature ")
MALFORMED = {
    "nonsense": "nonsense",
    "too-short": GOOD_SIGNATURE[:16],
    "uppercase-hex": GOOD_SIGNATURE.upper(),
    "63-chars": GOOD_SIGNATURE[:63],
    "65-chars": GOOD_SIGNATURE + "0",
    "non-hex": "g" * 64,
    "empty": "",
}
INVALID = "Signature is invalid."


def with_authorization(signature: str) -> list[tuple[bytes, bytes]]:
    headers = signed("destiny", BODY, at=TS).httpx
    return raw({**headers, "Authorization": f"Signature {signature}"})


@pytest.mark.anyio
@pytest.mark.parametrize("signature", MALFORMED.values(), ids=MALFORMED.keys())
async def test_item9_malformed_signature_gets_destiny_sdk_detail(signature: str) -> None:
    """A malformed signature gets a detail destiny-sdk never sends, naming the failed check."""
    mw = HMACMiddleware(recording_app(Outcome()), secret_key=SECRET, clock=Clock(TS))
    outcome = await play(mw, with_authorization(signature))
    assert outcome.status == 401
    assert outcome.json() == {"detail": INVALID, "code": "malformed_signature"}
    with pytest.raises(AuthException) as info:
        HMACAuthorizationHeaders.from_scope(http_scope(with_authorization(signature)))
    assert (info.value.status_code, info.value.detail) == (401, INVALID)
    assert info.value.code == "malformed_signature"
    transport = httpx.ASGITransport(guarded_app(HMACAuth(SECRET, clock=Clock(TS))))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        headers = dict(with_authorization(signature))
        response = await client.post("/private", content=BODY, headers=headers)
    assert (response.status_code, response.json()) == (
        401,
        {"detail": INVALID, "code": "malformed_signature"},
    )
