"""HMACMiddleware behaviour at the ASGI level: chunking, limits, disconnects, scopes."""

from __future__ import annotations

import itertools
import logging
import uuid
from typing import Any

import httpx
import pytest
from _asgi import Outcome, chunks, drive, echo_app, http_scope, recording_app, ws_app, ws_scope
from _secrets import secret
from _signing import CLIENT_ID, SECRET, signed
from starlette.types import Message

from hmac_asgi import HMACMiddleware, Verified, WeakSecretWarning

NOW = 1_800_000_000.5
SHORT_SECRET = secret("under 32 bytes", "short-secret")  # 12 bytes: warns


def middleware(outcome: Outcome, **kwargs: Any) -> HMACMiddleware:
    kwargs.setdefault("secret_key", SECRET)
    kwargs.setdefault("clock", lambda: NOW)
    return HMACMiddleware(recording_app(outcome), **kwargs)


@pytest.mark.anyio
@pytest.mark.parametrize("size", [1, 3, 64 * 1024])
async def test_body_in_any_chunking_reaches_app_intact(size: int) -> None:
    body = bytes(range(256)) * 50
    outcome = Outcome()
    headers = signed("destiny", body, at=NOW).raw
    await drive(middleware(outcome), http_scope(headers), chunks(body, size), outcome)
    assert outcome.status == 200
    assert outcome.app_body == body
    assert outcome.app_scope is not None
    assert outcome.app_scope["state"]["hmac_client_id"] == CLIENT_ID
    assert isinstance(outcome.app_scope["state"]["hmac_client_id"], uuid.UUID)


@pytest.mark.anyio
async def test_empty_and_keyless_messages_are_tolerated() -> None:
    body = b"abcdef"
    messages: list[Message] = [
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b"abc", "more_body": True},
        {"type": "http.request", "more_body": True},  # no "body" key
        {"type": "http.request", "body": b"def"},  # no "more_body" key: the last one
    ]
    outcome = Outcome()
    headers = signed("destiny", body, at=NOW).raw
    await drive(middleware(outcome), http_scope(headers), messages, outcome)
    assert outcome.status == 200
    assert outcome.app_body == body


@pytest.mark.anyio
async def test_the_original_messages_are_replayed_then_the_servers_receive() -> None:
    body = b"x" * 10
    incoming = chunks(body, 4)
    seen: list[Message] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while not seen or seen[-1].get("more_body", False):
            seen.append(await receive())
        seen.append(await receive())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    outcome = Outcome()
    mw = HMACMiddleware(app, secret_key=SECRET, clock=lambda: NOW)
    await drive(mw, http_scope(signed("destiny", body, at=NOW).raw), list(incoming), outcome)
    assert outcome.status == 204
    # The same bytes, in order, the last message closing the body, then the server's
    # disconnect. (Small chunks arrive joined: the buffer holds bytes, not messages.)
    assert b"".join(m["body"] for m in seen[:-1]) == body
    assert [m["more_body"] for m in seen[:-1]] == [True] * (len(seen) - 2) + [False]
    assert seen[-1] == {"type": "http.disconnect"}


@pytest.mark.anyio
@pytest.mark.parametrize("after", [0, 1, 3])
async def test_client_disconnect_mid_body_never_calls_app(after: int) -> None:
    body = b"y" * 40
    messages = chunks(body, 8)[:after]  # then the driver answers http.disconnect
    outcome = Outcome()
    headers = signed("destiny", body, at=NOW).raw
    await drive(middleware(outcome), http_scope(headers), messages, outcome)
    assert outcome.app_calls == 0
    assert outcome.sent == []  # nobody to answer; nothing raised either


@pytest.mark.anyio
@pytest.mark.parametrize("declared", [False, True], ids=["streamed", "content-length"])
async def test_body_limit_exact_passes_and_one_more_byte_is_413(declared: bool) -> None:
    for size, status in ((100, 200), (101, 413)):
        body = b"z" * size
        outcome = Outcome()
        headers = signed("destiny", body, at=NOW).raw
        headers += [(b"content-length", str(size).encode())] if declared else []
        await drive(
            middleware(outcome, max_body_size=100), http_scope(headers), chunks(body, 10), outcome
        )
        assert outcome.status == status
        assert outcome.app_calls == (status == 200)


@pytest.mark.anyio
async def test_max_body_size_zero_admits_only_empty_bodies() -> None:
    for body, status in ((b"", 200), (b"x", 413)):
        outcome = Outcome()
        headers = signed("destiny", body, at=NOW).raw
        await drive(
            middleware(outcome, max_body_size=0), http_scope(headers), chunks(body, 1), outcome
        )
        assert outcome.status == status


@pytest.mark.anyio
async def test_streamed_body_over_limit_stops_reading() -> None:
    endless = itertools.repeat({"type": "http.request", "body": b"q" * 1000, "more_body": True})
    outcome = Outcome()
    mw = middleware(outcome, max_body_size=10_000)
    await drive(mw, http_scope(signed("destiny", b"", at=NOW).raw), endless, outcome)
    assert outcome.status == 413
    assert outcome.reads == 11  # stopped at the first byte over the limit: an endless body is cut


@pytest.mark.anyio
async def test_a_numeric_header_is_not_taken_for_the_content_length() -> None:
    outcome = Outcome()
    headers = [*signed("destiny", b"", at=NOW).raw, (b"x-item-count", b"1000")]
    mw = middleware(outcome, max_body_size=100)
    await drive(mw, http_scope(headers), chunks(b"", 1), outcome)
    assert outcome.status == 200


@pytest.mark.anyio
async def test_empty_client_secrets_refuses_everyone() -> None:
    outcome = Outcome()
    mw = middleware(outcome, secret_key=None, client_secrets={})
    await drive(mw, http_scope(signed("destiny", b"", at=NOW).raw), chunks(b"", 1), outcome)
    assert outcome.code() == (401, "invalid_signature")


@pytest.mark.anyio
@pytest.mark.parametrize("declared", [b"101", b"1000", b"000101"])
async def test_declared_content_length_over_limit_is_refused_before_reading(
    declared: bytes,
) -> None:
    outcome = Outcome()
    headers = [*signed("destiny", b"", at=NOW).raw, (b"content-length", declared)]
    mw = middleware(outcome, max_body_size=100)
    await drive(mw, http_scope(headers), [], outcome, then="forbid")
    assert outcome.status == 413
    assert outcome.json()["code"] == "body_too_large"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "exempt"),
    [
        ("/health", True),
        ("/health/", False),
        ("//health", False),
        ("/health/../admin", False),
        ("/HEALTH", False),
        ("/healthz", False),
        ("/metrics", True),
    ],
)
async def test_exclude_paths_match_the_exact_path_only(path: str, exempt: bool) -> None:
    outcome = Outcome()
    mw = middleware(outcome, exclude_paths=("/health", "/metrics"))
    await drive(mw, http_scope([], path=path), chunks(b"", 1), outcome)
    assert outcome.status == (200 if exempt else 401)


@pytest.mark.anyio
async def test_lifespan_passes_straight_through() -> None:
    seen: list[tuple[Any, ...]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope["type"], receive, send))

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        return None

    await HMACMiddleware(app, secret_key=SECRET)({"type": "lifespan"}, receive, send)
    assert seen == [("lifespan", receive, send)]  # the server's own channels, both ways


WS_URL = "http://testserver/ws"


@pytest.mark.anyio
async def test_websocket_unsigned_is_closed_before_accept() -> None:
    outcome = Outcome()
    mw = HMACMiddleware(ws_app, secret_key=SECRET, clock=lambda: NOW)
    await drive(mw, ws_scope(WS_URL, {}), [{"type": "websocket.connect"}], outcome)
    assert [m["type"] for m in outcome.sent] == ["websocket.close"]
    assert outcome.sent[0]["code"] == 1008
    assert outcome.sent[0]["reason"] == "Authorization header missing."


@pytest.mark.anyio
async def test_websocket_denial_response_when_the_server_supports_it() -> None:
    outcome = Outcome()
    mw = HMACMiddleware(ws_app, secret_key=SECRET, clock=lambda: NOW)
    scope = ws_scope(WS_URL, {}, extensions={"websocket.http.response": {}})
    await drive(mw, scope, [{"type": "websocket.connect"}], outcome)
    assert [m["type"] for m in outcome.sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert outcome.status == 401
    assert outcome.json()["detail"] == "Authorization header missing."


@pytest.mark.anyio
async def test_app_exceptions_propagate_untouched() -> None:
    class Boom(Exception):
        pass

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise Boom("from the app")

    mw = HMACMiddleware(app, secret_key=SECRET, clock=lambda: NOW)
    with pytest.raises(Boom):
        await drive(mw, http_scope(signed("destiny", b"", at=NOW).raw), chunks(b"", 1), Outcome())


@pytest.mark.anyio
async def test_existing_scope_state_is_kept() -> None:
    outcome = Outcome()
    scope = http_scope(signed("destiny", b"", at=NOW).raw, state={"db": "pool"})
    await drive(middleware(outcome), scope, chunks(b"", 1), outcome)
    assert outcome.app_scope is not None
    assert outcome.app_scope["state"] == {
        "db": "pool",
        "hmac": Verified("destiny", CLIENT_ID),
        "hmac_client_id": CLIENT_ID,
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("skew", "status"), [(-300, 200), (300, 200), (-300.01, 401), (300.01, 401)]
)
async def test_freshness_window_is_inclusive_both_ways(skew: float, status: int) -> None:
    outcome = Outcome()
    headers = signed("destiny", b"", at=repr(NOW + skew)).raw
    await drive(middleware(outcome), http_scope(headers), chunks(b"", 1), outcome)
    assert outcome.status == status


@pytest.mark.anyio
async def test_without_body_timeout_a_clock_stepping_back_mid_body_is_refused() -> None:
    # Freshness is checked again once the body is in (nothing bounded its read): a wall
    # clock stepped back by more than max_age meanwhile makes the request future-dated.
    now = [NOW]
    outcome = Outcome()
    mw = middleware(outcome, body_timeout=None, clock=lambda: now[0])
    headers = signed("destiny", b"ab", at=NOW).raw
    first, last = chunks(b"ab", 1)

    def step_back() -> None:  # between the two chunks
        now[0] = NOW - 301

    await drive(mw, http_scope(headers), [first, step_back, last], outcome)
    assert outcome.app_calls == 0
    assert outcome.code() == (401, "future_timestamp")


@pytest.mark.anyio
async def test_rotation_any_listed_secret_passes_and_unknown_client_looks_like_bad_sig() -> None:
    old, new = secret("rotating destiny client, old"), secret("rotating destiny client, new")
    other = uuid.UUID("019b649b-3b8c-7b54-a5b2-95043994a20e")
    mw = HMACMiddleware(echo_app, client_secrets={CLIENT_ID: [new, old]})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(mw), base_url="http://t") as c:
        for key in (new, old):
            r = await c.post("/", content=b"hi", headers=signed("destiny", b"hi", secret=key).httpx)
            assert r.status_code == 200
        bad = await c.post(
            "/", content=b"hi", headers=signed("destiny", b"hi", secret=SECRET).httpx
        )
        unknown = await c.post(
            "/", content=b"hi", headers=signed("destiny", b"hi", secret=new, key_id=other).httpx
        )
    assert (bad.status_code, bad.content) == (unknown.status_code, unknown.content)
    assert bad.json()["detail"] == "Signature is invalid."


@pytest.mark.anyio
async def test_async_secret_lookup() -> None:
    async def lookup(client_id: uuid.UUID) -> str | None:
        return SECRET if client_id == CLIENT_ID else None

    mw = HMACMiddleware(echo_app, secret_lookup=lookup)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(mw), base_url="http://t") as c:
        ok = await c.post("/", content=b"1", headers=signed("destiny", b"1").httpx)
        other = uuid.uuid4()
        no = await c.post("/", content=b"1", headers=signed("destiny", b"1", key_id=other).httpx)
    assert (ok.status_code, no.status_code) == (200, 401)


@pytest.mark.anyio
async def test_failures_are_logged_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="hmac_asgi")
    mw = HMACMiddleware(echo_app, secret_key=SECRET)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(mw), base_url="http://t") as c:
        await c.post("/orders", content=b"1", headers=signed("destiny", b"2").httpx)
    assert "invalid_signature" in caplog.text and "/orders" in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, TypeError, "exactly one of secret_key, client_secrets or secret_lookup"),
        ({"secret_key": SECRET, "client_secrets": {}}, TypeError, "got secret_key, client_secrets"),
        ({"secret_key": ""}, ValueError, "empty"),
        ({"secret_key": []}, ValueError, "empty list"),
        ({"secret_key": 5}, TypeError, "str, bytes or a list of them"),
        ({"secret_key": [SECRET.encode(), 5]}, TypeError, "str, bytes or a list of them"),
        ({"client_secrets": {"not-a-uuid": SECRET}}, ValueError, "not a UUID"),
        ({"client_secrets": {str(uuid.uuid1()): SECRET}}, ValueError, "UUIDv4 or UUIDv7"),
        ({"client_secrets": {str(CLIENT_ID): ""}}, ValueError, "empty"),
        ({"client_secrets": [SECRET]}, TypeError, "mapping"),
        ({"secret_lookup": "nope"}, TypeError, "async callable"),
        ({"secret_key": SECRET, "max_age": 0}, ValueError, "max_age"),
        ({"secret_key": SECRET, "max_age": float("nan")}, ValueError, "max_age"),
        ({"secret_key": SECRET, "max_age": "300"}, TypeError, "max_age"),
        ({"secret_key": SECRET, "max_body_size": -1}, ValueError, "max_body_size"),
        ({"secret_key": SECRET, "max_body_size": 1.5}, TypeError, "max_body_size"),
        ({"secret_key": SECRET, "exclude_paths": "/health"}, TypeError, "collection"),
        ({"secret_key": SECRET, "exclude_paths": ["health"]}, ValueError, "absolute"),
        ({"secret_key": SECRET, "replay_cache": object()}, TypeError, "add_once"),
        ({"secret_key": SECRET, "clock": 3}, TypeError, "clock"),
        ({"secret_key": SECRET, "body_timeout": 0}, ValueError, "body_timeout"),
        ({"secret_key": SECRET, "body_timeout": float("inf")}, ValueError, "body_timeout"),
        ({"secret_key": SECRET, "body_timeout": "30"}, ValueError, "body_timeout"),
        ({"secret_key": SECRET, "body_timeout": True}, ValueError, "body_timeout"),
    ],
)
def test_bad_configuration_fails_at_construction(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        HMACMiddleware(echo_app, **kwargs)


def test_short_secret_warns_and_secrets_stay_out_of_repr() -> None:
    with pytest.warns(WeakSecretWarning, match="at least 32"):
        mw = HMACMiddleware(echo_app, secret_key=SHORT_SECRET)
    assert SHORT_SECRET not in repr(mw) and SHORT_SECRET not in repr(vars(mw))
    assert SECRET not in repr(vars(HMACMiddleware(echo_app, secret_key=SECRET)))


@pytest.mark.anyio
async def test_on_failure_hook_sees_every_refusal_and_logs_name_the_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="hmac_asgi")
    seen: list[tuple[str, str]] = []
    mw = HMACMiddleware(
        echo_app,
        secret_key=SECRET,
        on_failure=lambda scope, exc: seen.append((scope["path"], exc.code)),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(mw), base_url="http://t") as c:
        await c.get("/a")
        await c.post("/b", content=b"1", headers=signed("destiny", b"2").httpx)
        assert (
            await c.post("/c", content=b"3", headers=signed("destiny", b"3").httpx)
        ).status_code == 200
    assert seen == [("/a", "missing_authorization"), ("/b", "invalid_signature")]
    assert f"invalid_signature (client {CLIENT_ID})" in caplog.text


def test_on_failure_must_be_callable() -> None:
    with pytest.raises(TypeError, match="on_failure"):
        HMACMiddleware(echo_app, secret_key=SECRET, on_failure="metrics")  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_keyring_answers_the_same_awaited_or_not() -> None:
    from hmac_asgi._keys import KeyRing

    ring = KeyRing(table={CLIENT_ID: SECRET})
    assert ring.is_static
    assert await ring.keys(CLIENT_ID) == ring.static_keys(CLIENT_ID)
    other = uuid.uuid4()
    assert (await ring.keys(other))[1] is False
