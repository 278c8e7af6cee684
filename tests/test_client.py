"""The client half against our own middleware: HMACSigningTransport and HMACSigningAuth.

Sync clients talk to a real uvicorn on 127.0.0.1; async ones go through
``httpx.ASGITransport``. The middleware has a replay cache, so a hop that reused
an earlier hop's signature would be refused.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest
from _asgi import Outcome, capturing, dated, echo_app, recording_app, redirecting, serve
from _signing import CLIENT_ID, SECRET, WRONG_SECRET, signed, signing_client

from hmac_asgi import (
    HMACMiddleware,
    HMACSigningAuth,
    HMACSigningTransport,
    MemoryReplayCache,
)

BIG = os.urandom(5 * 1024 * 1024)
BODIES = {
    "empty": b"",
    "json": json.dumps({"message": "info", "n": [1, 2.5, None]}).encode(),
    "binary": bytes(range(256)) * 4,
    "5MiB": BIG,
}
Clock = Callable[[], float]


def make_app(seen: list[str]) -> Any:
    """Echo behind the middleware; /redirect/<status> redirects to /b. Records what passed."""
    app = redirecting(echo_app)

    async def logged(scope: Any, receive: Any, send: Any) -> None:
        seen.append(f"{scope['method']} {scope['path']}?{scope['query_string'].decode()}")
        await app(scope, receive, send)

    return HMACMiddleware(logged, secret_key=SECRET, replay_cache=MemoryReplayCache())


def check_echo(response: httpx.Response, body: bytes) -> None:
    assert response.status_code == 200, response.text
    head, _, echoed = response.content.partition(b"\n")
    assert json.loads(head) == {"client_id": str(CLIENT_ID), "body_len": len(body)}
    assert echoed == body


def transport(inner: Any = None, **kwargs: Any) -> HMACSigningTransport:
    return HMACSigningTransport(secret_key=SECRET, client_id=CLIENT_ID, transport=inner, **kwargs)


def async_client(kind: str, app: Any, clock: Clock = time.time) -> httpx.AsyncClient:
    """An AsyncClient over ASGITransport, signing with the auth or the transport."""
    signing = {"secret_key": SECRET, "client_id": CLIENT_ID, "clock": clock}
    return signing_client(kind, app, base_url="http://test", **signing)


def sync_client(kind: str, url: str, clock: Clock = time.time) -> httpx.Client:
    if kind == "auth":
        return httpx.Client(auth=HMACSigningAuth(SECRET, CLIENT_ID, clock=clock), base_url=url)
    return httpx.Client(transport=transport(clock=clock), base_url=url)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    with serve(make_app(seen), lifespan="off") as url:
        yield url, seen


# --- round trips: the transport ------------------------------------------------------


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_transport_sync_round_trip(server: tuple[str, list[str]], body: bytes) -> None:
    url, _ = server
    with httpx.Client(transport=transport(), base_url=url) as client:
        check_echo(client.post("/echo", content=body), body)


@pytest.mark.anyio
@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
async def test_transport_async_round_trip(body: bytes) -> None:
    async with async_client("transport", make_app([])) as client:
        check_echo(await client.post("/echo", content=body), body)


@pytest.mark.anyio
async def test_transport_async_default_inner_over_uvicorn(server: tuple[str, list[str]]) -> None:
    async with httpx.AsyncClient(transport=transport(), base_url=server[0]) as client:
        check_echo(await client.put("/echo", content=b"async over tcp"), b"async over tcp")


def test_transport_get_with_query_string(server: tuple[str, list[str]]) -> None:
    url, seen = server
    seen.clear()
    with httpx.Client(transport=transport(), base_url=url) as client:
        check_echo(client.get("/search", params={"q": "a b", "page": 2}), b"")
    assert seen == ["GET /search?q=a+b&page=2"]


@pytest.mark.parametrize(("status", "method", "body"), [(307, "POST", b"kept"), (303, "GET", b"")])
def test_transport_signs_each_redirect_hop(
    server: tuple[str, list[str]], status: int, method: str, body: bytes
) -> None:
    url, seen = server
    seen.clear()
    with httpx.Client(transport=transport(), base_url=url, follow_redirects=True) as client:
        response = client.post(f"/redirect/{status}", content=b"kept")
    check_echo(response, body)
    assert [r.status_code for r in response.history] == [status]
    assert seen == [f"POST /redirect/{status}?", f"{method} /b?hop=2"]  # both hops verified


@pytest.mark.anyio
async def test_transport_signs_each_redirect_hop_async() -> None:
    seen: list[str] = []
    async with async_client("transport", make_app(seen)) as client:
        response = await client.post("/redirect/308", content=b"kept", follow_redirects=True)
    check_echo(response, b"kept")
    assert seen == ["POST /redirect/308?", "POST /b?hop=2"]


@pytest.mark.anyio
async def test_auth_reuses_first_hop_headers_on_redirect() -> None:
    # Why the transport is the one for redirects: the replay cache refuses hop 2.
    seen: list[str] = []
    async with async_client("auth", make_app(seen)) as client:
        response = await client.post("/redirect/307", content=b"kept", follow_redirects=True)
    assert response.status_code == 401
    assert response.json()["detail"] == "Request has already been used."
    assert seen == ["POST /redirect/307?"]


def test_transport_streams_sync_generator(server: tuple[str, list[str]]) -> None:
    chunks = [b"a" * 1000, b"", b"b" * 70_000, bytes(range(256))]
    with httpx.Client(transport=transport(), base_url=server[0]) as client:
        check_echo(client.post("/echo", content=iter(chunks)), b"".join(chunks))


def test_transport_streams_file(server: tuple[str, list[str]], tmp_path: Path) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(BIG[:300_000])
    with path.open("rb") as file, httpx.Client(transport=transport(), base_url=server[0]) as client:
        check_echo(client.post("/echo", content=file), BIG[:300_000])


@pytest.mark.anyio
async def test_transport_streams_async_generator() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(5):
            yield bytes([i]) * 10_000

    async with async_client("transport", make_app([])) as client:
        response = await client.post("/echo", content=chunks())
    check_echo(response, b"".join(bytes([i]) * 10_000 for i in range(5)))


# --- round trips: the auth -----------------------------------------------------------


@pytest.mark.parametrize(
    "body", [b"", BODIES["json"], BODIES["binary"]], ids=["empty", "json", "binary"]
)
def test_auth_sync(
    server: tuple[str, list[str]], body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG), sync_client("auth", server[0]) as client:
        check_echo(client.post("/echo", content=body), body)
        check_echo(client.post("/echo", content=iter([body[:7], body[7:]])), body)
    assert SECRET not in caplog.text


@pytest.mark.anyio
@pytest.mark.parametrize("body", [b"", BODIES["json"], BIG], ids=["empty", "json", "5MiB"])
async def test_auth_async(body: bytes) -> None:
    async with async_client("auth", make_app([])) as client:
        check_echo(await client.post("/echo", content=body), body)


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["auth", "transport"])
async def test_headers_are_the_signed_text_fresh_per_request(kind: str) -> None:
    seen: list[dict[str, str]] = []
    app = capturing(recording_app(Outcome()), seen)  # no middleware: what was sent
    times = iter([1732838400.1, 1732838401.25])
    async with async_client(kind, app, clock=lambda: next(times)) as client:
        await client.post("/", content=b"one")
        await client.post("/", content=b"two")
    assert [h["x-request-timestamp"] for h in seen] == ["1732838400.1", "1732838401.25"]
    for headers, body in zip(seen, [b"one", b"two"], strict=True):
        assert headers["x-client-id"] == "6234ddc9-6b49-4e45-9c0f-e91d2c381222"
        expected = signed("destiny", body, at=headers["x-request-timestamp"])
        assert headers["authorization"] == expected.httpx["Authorization"]


# --- clock correction ----------------------------------------------------------------

KINDS = pytest.mark.parametrize("kind", ["auth", "transport"])


@pytest.mark.anyio
@KINDS
@pytest.mark.parametrize("skew", [-1000.0, 1000.0], ids=["behind", "ahead"])
async def test_skewed_clock_is_corrected_once_and_kept(kind: str, skew: float) -> None:
    calls: list[dict[str, str]] = []
    app = capturing(dated(make_app([])), calls)
    async with async_client(kind, app, clock=lambda: time.time() + skew) as client:
        check_echo(await client.post("/echo", content=b"late"), b"late")
        assert len(calls) == 2  # refused, then corrected
        check_echo(await client.post("/echo", content=b"again"), b"again")
        assert len(calls) == 3  # the offset was kept


def behind() -> float:
    return time.time() - 1000


# name -> (the server around ``make_app``'s, the client's clock, the refusal's detail)
NOT_RETRIED: dict[str, tuple[Callable[[], Any], Clock, str]] = {
    "no-date": (lambda: make_app([]), behind, "Token is expired."),
    "date-agreeing-with-us": (lambda: dated(make_app([]), behind), behind, "Token is expired."),
    "other-401-with-skewed-date": (
        lambda: dated(HMACMiddleware(echo_app, secret_key=WRONG_SECRET)),
        lambda: time.time() + 30,
        "Signature is invalid.",
    ),
}


@pytest.mark.anyio
@KINDS
@pytest.mark.parametrize(("server", "clock", "detail"), NOT_RETRIED.values(), ids=NOT_RETRIED)
async def test_a_401_the_date_does_not_explain_is_not_retried(
    kind: str, server: Callable[[], Any], clock: Clock, detail: str
) -> None:
    """No Date, a Date agreeing with our clock, or another 401: returned as it is."""
    calls: list[dict[str, str]] = []
    async with async_client(kind, capturing(server(), calls), clock=clock) as client:
        response = await client.post("/echo", content=b"late")
    assert (response.status_code, response.json()["detail"]) == (401, detail)
    assert len(calls) == 1


@pytest.mark.anyio
@KINDS
async def test_retry_does_not_loop(kind: str) -> None:
    calls: list[dict[str, str]] = []

    async def always_expired(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["path"])  # each answer claims a later server time
        date = formatdate(time.time() + 1000 * len(calls), usegmt=True).encode()
        headers = [(b"content-type", b"application/json"), (b"date", date)]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"detail": "Token is expired."}'})

    async with async_client(kind, always_expired) as client:
        response = await client.get("/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Token is expired."}
    assert len(calls) == 2


def refusing(body: bytes, calls: list[str], date: bytes | None = None, status: int = 401) -> Any:
    """Always answers ``status`` with ``body`` (and ``date``), counting the attempts."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["path"])
        headers = [(b"content-type", b"application/json")]
        headers += [(b"date", date)] if date is not None else []
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


SKEWED_DATE = formatdate(time.time() + 3600, usegmt=True).encode()
EXPIRED = b'{"detail": "Token is expired."}'
ODD_401 = {
    "unparsable date": (b"yesterday-ish", EXPIRED),
    "not json": (SKEWED_DATE, b"<html>Token is expired.</html>"),
    "not utf-8": (SKEWED_DATE, b"\xff\xfe"),
    "json list": (SKEWED_DATE, b'["Token is expired."]'),
    "other code": (SKEWED_DATE, b'{"detail": "nope", "code": "replayed"}'),
}


@pytest.mark.anyio
@KINDS
@pytest.mark.parametrize(("date", "body"), ODD_401.values(), ids=ODD_401.keys())
async def test_odd_401_is_returned_untouched(kind: str, date: bytes, body: bytes) -> None:
    calls: list[str] = []
    async with async_client(kind, refusing(body, calls, date)) as client:
        response = await client.get("/")
    assert (response.status_code, response.content, len(calls)) == (401, body, 1)
    assert response.headers["content-type"] == "application/json"  # read, not rebuilt bare


@pytest.mark.anyio
@KINDS
async def test_the_future_timestamp_code_alone_is_a_clock_refusal(kind: str) -> None:
    calls: list[str] = []
    body = b'{"detail": "Reworded by a newer server.", "code": "future_timestamp"}'
    async with async_client(kind, refusing(body, calls, SKEWED_DATE)) as client:
        response = await client.get("/")
    assert (response.status_code, len(calls)) == (401, 2)  # re-signed once


@pytest.mark.anyio
@KINDS
@pytest.mark.parametrize("status", [200, 403])
async def test_clock_refusal_text_in_a_non_401_is_not_retried(kind: str, status: int) -> None:
    calls: list[str] = []
    async with async_client(kind, refusing(EXPIRED, calls, SKEWED_DATE, status)) as client:
        response = await client.get("/")
    assert (response.status_code, response.content, len(calls)) == (status, EXPIRED, 1)


@pytest.mark.anyio
@KINDS
async def test_a_refusal_dated_like_the_learnt_clock_is_not_retried(kind: str) -> None:
    # The client's clock is an hour slow and the server refuses every request as
    # expired. The first is re-signed once; after that the server's Date agrees
    # with the corrected clock, so the refusal is not the clock's and is returned.
    calls: list[str] = []
    server_now = 1_800_000_000.0
    date = formatdate(server_now, usegmt=True).encode()
    async with async_client(
        kind, refusing(EXPIRED, calls, date), clock=lambda: server_now - 3600
    ) as client:
        assert (await client.get("/")).status_code == 401
        assert len(calls) == 2  # refused, re-signed with the server's time, refused
        assert (await client.get("/")).status_code == 401
        assert len(calls) == 3  # the Date agrees with the corrected clock: no retry


@pytest.mark.anyio
@KINDS
async def test_the_learnt_clock_is_the_middle_of_the_dates_second(kind: str) -> None:
    # An HTTP Date is truncated to the second: the server's time is read as half a
    # second past it, the middle of the second it names.
    server_now = 1_800_000_000.0
    date = formatdate(server_now, usegmt=True).encode()
    stamps: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        stamps.append(dict(scope["headers"])[b"x-request-timestamp"].decode())
        await refusing(EXPIRED, [], date)(scope, receive, send)

    async with async_client(kind, app, clock=lambda: server_now - 3600) as client:
        assert (await client.get("/")).status_code == 401
    assert [float(stamp) for stamp in stamps] == [server_now - 3600, server_now + 0.5]


@KINDS
def test_odd_401_is_returned_untouched_sync(kind: str) -> None:
    calls: list[str] = []  # uvicorn adds the Date, an hour after the client's clock
    with (
        serve(refusing(b"<html>Token is expired.</html>", calls), lifespan="off") as url,
        sync_client(kind, url, clock=lambda: time.time() - 3600) as client,
    ):
        response = client.get("/")
    assert (response.status_code, response.text, len(calls)) == (
        401,
        "<html>Token is expired.</html>",
        1,
    )
    assert response.extensions["http_version"] == b"HTTP/1.1"  # handed on as it came


def answers(app: Any, seen: list[str]) -> Any:
    """Records what the server answered to each request that reached it: "ok" or the ``code``."""

    async def recorded(scope: Any, receive: Any, send: Any) -> None:
        status = 0

        async def send_recorded(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                seen.append("ok" if status == 200 else json.loads(message["body"])["code"])
            await send(message)

        await app(scope, receive, send_recorded)

    return recorded


@pytest.mark.anyio
@KINDS
async def test_clock_fixed_after_a_correction_replaces_the_offset(kind: str) -> None:
    # The client's clock is an hour slow, then NTP fixes it. The offset learnt for the
    # slow clock now dates requests an hour ahead: one refusal, and the offset the
    # server's Date implies must replace the old one (not be added to it).
    now = [1_800_000_000.25]
    skew = [-3600.0]
    seen: list[str] = []
    server = HMACMiddleware(
        echo_app, secret_key=SECRET, replay_cache=MemoryReplayCache(), clock=lambda: now[0]
    )
    app = answers(dated(server, lambda: now[0]), seen)
    async with async_client(kind, app, clock=lambda: now[0] + skew[0]) as client:
        check_echo(await client.post("/echo", content=b"slow clock"), b"slow clock")
        assert seen == ["expired", "ok"]  # refused with the server's Date, re-signed
        now[0] += 60
        skew[0] = 0.0  # NTP fixed the client's clock
        check_echo(await client.post("/echo", content=b"fixed clock"), b"fixed clock")
        assert seen[2:] == ["future_timestamp", "ok"]  # the stale offset, re-learnt
        now[0] += 60
        check_echo(await client.post("/echo", content=b"settled"), b"settled")
        assert seen[4:] == ["ok"]  # straight through: one server hit


@KINDS
def test_skewed_clock_corrected_from_uvicorn_date(kind: str) -> None:
    calls: list[dict[str, str]] = []
    with (
        serve(capturing(make_app([]), calls), lifespan="off") as url,
        sync_client(kind, url, clock=lambda: time.time() - 1000) as client,
    ):
        check_echo(client.post("/echo", content=b"late"), b"late")
    assert len(calls) == 2


# --- construction, repr, transports --------------------------------------------------

FACTORIES = {
    "auth": lambda secret, client_id, **kw: HMACSigningAuth(secret, client_id, **kw),
    "transport": lambda secret, client_id, **kw: HMACSigningTransport(
        secret_key=secret, client_id=client_id, **kw
    ),
}
BAD = [
    ("not-a-uuid", {}, ValueError, "client_id"),
    (uuid.uuid1(), {}, ValueError, "version 4 or 7"),
    (str(uuid.uuid3(uuid.NAMESPACE_DNS, "x")), {}, ValueError, "version 4 or 7"),
    ("00000000-0000-0000-0000-000000000000", {}, ValueError, "version 4 or 7"),
    (12345, {}, TypeError, "client_id"),
    (CLIENT_ID, {"secret": ""}, ValueError, "secret_key is empty"),
    (CLIENT_ID, {"secret": None}, TypeError, "secret_key"),
    (CLIENT_ID, {"clock": 5.0}, TypeError, "clock"),
]


@pytest.mark.parametrize("kind", FACTORIES)
@pytest.mark.parametrize(("client_id", "kw", "error", "match"), BAD)
def test_bad_construction(kind: str, client_id: Any, kw: Any, error: type, match: str) -> None:
    kw = dict(kw)
    with pytest.raises(error, match=match):
        FACTORIES[kind](kw.pop("secret", SECRET), client_id, **kw)


def test_transport_must_be_a_transport() -> None:
    with pytest.raises(TypeError, match="httpx transport"):
        transport("http://example.test")


@pytest.mark.anyio
@pytest.mark.parametrize("kind", FACTORIES)
async def test_uuid7_and_uppercase_text_sent_canonical(kind: str) -> None:
    client_id = "019B649B-3B8C-7B54-A5B2-95043994A20E"
    inner = httpx.ASGITransport(HMACMiddleware(echo_app, secret_key=SECRET))
    if kind == "auth":
        auth = HMACSigningAuth(SECRET, client_id)
        client = httpx.AsyncClient(auth=auth, transport=inner)
    else:
        signing = HMACSigningTransport(secret_key=SECRET, client_id=client_id, transport=inner)
        client = httpx.AsyncClient(transport=signing)
    async with client:
        response = await client.post("http://test/", content=b"v7")
    assert json.loads(response.content.partition(b"\n")[0])["client_id"] == client_id.lower()


@pytest.mark.parametrize("kind", FACTORIES)
def test_repr_shows_client_id_never_the_secret(kind: str) -> None:
    signing = FACTORIES[kind](SECRET, str(CLIENT_ID))
    name = "HMACSigningAuth" if kind == "auth" else "HMACSigningTransport"
    assert repr(signing) == f"{name}(client_id='{CLIENT_ID}')"
    assert SECRET not in repr(vars(signing))


def test_async_only_inner_refuses_sync_use() -> None:
    signing = transport(httpx.ASGITransport(echo_app))
    with httpx.Client(transport=signing) as client, pytest.raises(TypeError, match="async-only"):
        client.get("http://test/")


@pytest.mark.anyio
async def test_sync_only_inner_refuses_async_use() -> None:
    signing = transport(httpx.HTTPTransport())
    async with httpx.AsyncClient(transport=signing) as client:
        with pytest.raises(TypeError, match="sync-only"):
            await client.get("http://test/")
    signing.close()


class ClosingHTTPTransport(httpx.HTTPTransport):
    closed = False

    def close(self) -> None:
        self.closed = True
        super().close()


class ClosingASGITransport(httpx.ASGITransport):
    closed = False

    async def aclose(self) -> None:
        self.closed = True
        await super().aclose()


def test_close_is_forwarded(server: tuple[str, list[str]]) -> None:
    inner = ClosingHTTPTransport()
    with httpx.Client(transport=transport(inner), base_url=server[0]) as client:
        check_echo(client.get("/echo"), b"")
        assert not inner.closed
    assert inner.closed
    inner = ClosingHTTPTransport()
    with transport(inner) as signing:
        assert isinstance(signing, HMACSigningTransport)
    assert inner.closed


@pytest.mark.anyio
async def test_aclose_is_forwarded() -> None:
    inner = ClosingASGITransport(HMACMiddleware(echo_app, secret_key=SECRET))
    async with httpx.AsyncClient(transport=transport(inner), base_url="http://test") as client:
        check_echo(await client.get("/"), b"")
        assert not inner.closed
    assert inner.closed
    inner = ClosingASGITransport(echo_app)
    async with transport(inner) as signing:
        assert isinstance(signing, HMACSigningTransport)
    assert inner.closed


@pytest.mark.anyio
async def test_bytes_secret_signs_like_its_text() -> None:
    inner = httpx.ASGITransport(HMACMiddleware(echo_app, secret_key=SECRET))
    signing = HMACSigningTransport(secret_key=SECRET.encode(), client_id=CLIENT_ID, transport=inner)
    async with httpx.AsyncClient(transport=signing) as client:
        check_echo(await client.post("http://test/", content=b"bytes key"), b"bytes key")


# --- trusted origins: a redirect to another host never carries a signature -----------


def cross_origin_redirect(target: str) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        location = f"{target}/b".encode()
        await send(
            {"type": "http.response.start", "status": 307, "headers": [(b"location", location)]}
        )
        await send({"type": "http.response.body", "body": b""})

    return app


def test_cross_origin_redirect_is_not_signed_by_default(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[dict[str, str]] = []
    with (
        serve(capturing(HMACMiddleware(echo_app, secret_key=SECRET), seen)) as other,
        serve(cross_origin_redirect(other)) as first,
    ):
        with httpx.Client(transport=transport(), follow_redirects=True) as client:
            response = client.post(f"{first}/a", content=b"data")
    assert response.status_code == 401  # the other host got no valid signature
    assert len(seen) == 1 and "authorization" not in seen[0]
    assert "untrusted origin" in caplog.text


def test_origins_lists_every_host_to_sign_for() -> None:
    seen: list[dict[str, str]] = []
    with (
        serve(capturing(HMACMiddleware(echo_app, secret_key=SECRET), seen)) as other,
        serve(cross_origin_redirect(other)) as first,
    ):
        signing = transport(origins=[first, other])
        with httpx.Client(transport=signing, follow_redirects=True) as client:
            response = client.post(f"{first}/a", content=b"data")
    check_echo(response, b"data")
    assert seen[0]["authorization"].startswith("Signature ")


def test_origins_take_http_and_https_urls() -> None:
    transport(origins=["https://api.example.com", "http://127.0.0.1:8000"])


@pytest.mark.parametrize(
    ("origins", "error"),
    [
        ("https://api.example.com", TypeError),
        (["/relative"], ValueError),
        (["ftp://x"], ValueError),
    ],
)
def test_bad_origins(origins: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="origins"):
        transport(origins=origins)
