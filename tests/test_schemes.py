"""One middleware, several wire formats: ``HMACMiddleware(app, schemes=[...])``.

Each request goes to the format whose headers it carries; everything around the
format (errors, limits, exclusions, replay, the failure hook) is shared.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
from _asgi import (
    Outcome,
    capturing,
    chunks,
    drive,
    raw,
    recording_app,
    scope_for,
    who,
    who_app,
    ws_app,
    ws_scope,
)
from _hostile_cases import middleware_options
from _signing import (
    CLIENT_ID,
    KEY_ID,
    NOW,
    RFC_OTHER_SECRET,
    RFC_SECRET,
    SECRET,
    WEBHOOK_KEY,
    WEBHOOK_SECRET,
    signed,
    signing_client,
    webhook_signature,
)

from hmac_asgi import (
    AuthException,
    DestinyScheme,
    HMACMiddleware,
    MemoryReplayCache,
    MessageSignatureScheme,
    StandardWebhookScheme,
    Verified,
)

URL = "http://api.test/orders?x=1"
BODY = b'{"order": 42}'
FORMATS = ["destiny", "rfc9421", "standard-webhooks"]
ALL_NAMES = "destiny, rfc9421, standard-webhooks"
ACCEPT_DEFAULT = (
    b'sig1=("@method" "@authority" "@path" "@query" "content-digest");alg="hmac-sha256"'
)
VERIFIED = {
    "destiny": Verified("destiny", CLIENT_ID),
    "rfc9421": Verified("rfc9421", KEY_ID),
    "standard-webhooks": Verified("standard-webhooks", None),
}


def all_schemes() -> list[Any]:
    return [
        DestinyScheme(secret_key=SECRET),
        MessageSignatureScheme(keys={KEY_ID: RFC_SECRET}),
        StandardWebhookScheme(secrets=WEBHOOK_SECRET),
    ]


def guard(app: Any = who_app, **kwargs: Any) -> HMACMiddleware:
    """The middleware with all three formats, at NOW."""
    kwargs.setdefault("schemes", all_schemes())
    kwargs.setdefault("clock", lambda: NOW)
    return HMACMiddleware(app, **kwargs)


def good(fmt: str, body: bytes = BODY) -> dict[str, str]:
    """A POST of ``body`` to URL correctly signed in format ``fmt`` at NOW."""
    return signed(fmt, body, url=URL, at=NOW).httpx


def forged(fmt: str) -> dict[str, str]:
    """Signed for another body: a wrong signature in format ``fmt``."""
    return good(fmt, b"another body")


async def send(
    headers: dict[str, str] | list[tuple[bytes, bytes]],
    body: bytes = BODY,
    **kwargs: Any,
) -> Outcome:
    """One POST to URL through a fresh middleware (``guard(**kwargs)``) around a recording app."""
    outcome = Outcome()
    await drive(
        guard(recording_app(outcome), **kwargs),
        scope_for("POST", URL, headers),
        chunks(body, 5),
        outcome,
    )
    return outcome


# --- each format, one middleware ------------------------------------------------------------

SIGNERS: dict[str, dict[str, Any]] = {
    "destiny": {"secret_key": SECRET, "client_id": CLIENT_ID},
    "rfc9421": {"secret_key": RFC_SECRET, "scheme": "rfc9421", "key_id": KEY_ID},
    "standard-webhooks": {"secret_key": WEBHOOK_SECRET, "scheme": "standard-webhooks"},
}


BODIES = {
    "empty": b"",
    "1-byte": b"x",
    "json": BODY,
    "binary": bytes(range(256)) * 64,
    "5MiB": os.urandom(5 * 1024 * 1024),
}


@pytest.mark.anyio
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["auth", "transport"])
@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
async def test_our_client_in_any_format_passes_the_one_middleware(
    fmt: str, kind: str, body: bytes
) -> None:
    """Our client, as an httpx.Auth or a transport, signing any body in any format, passes
    the middleware configured with all three, and sends each format's wire form."""
    seen: list[dict[str, str]] = []
    app = capturing(guard(), seen)
    async with signing_client(kind, app, clock=lambda: NOW, **SIGNERS[fmt]) as client:
        response = await client.post(URL, content=body)
    answer = who(response)
    assert answer["hmac"] == [fmt, str(VERIFIED[fmt].key_id)]
    assert answer["body_len"] == len(body)
    assert response.content.partition(b"\n")[2] == body
    sent = seen[0]
    if fmt == "rfc9421":  # a digest exactly when there is a body; covered exactly then
        assert ("content-digest" in sent) is bool(body)
        assert ('"content-digest"' in sent["signature-input"]) is bool(body)
    if fmt == "standard-webhooks":  # what the spec's formula gives, and the app is told the id
        assert sent["webhook-timestamp"] == str(NOW)
        assert answer["webhook_id"] == sent["webhook-id"]
        assert sent["webhook-id"].startswith("msg_")
        expected = webhook_signature(WEBHOOK_KEY, sent["webhook-id"], NOW, body)
        assert sent["webhook-signature"] == expected


@pytest.mark.anyio
@pytest.mark.parametrize("fmt", FORMATS)
async def test_scope_state_per_format(fmt: str) -> None:
    """``scope["state"]["hmac"]`` says which format and key; each format adds its own keys."""
    outcome = await send(good(fmt))
    assert outcome.status == 200
    assert outcome.app_scope is not None
    state = outcome.app_scope["state"]
    assert state["hmac"] == VERIFIED[fmt]
    expected_extra = {
        "destiny": {"hmac_client_id": CLIENT_ID},
        "rfc9421": {},
        "standard-webhooks": {
            "webhook_id": signed("standard-webhooks", at=NOW).httpx["webhook-id"]
        },
    }[fmt]
    assert {k: v for k, v in state.items() if k != "hmac"} == expected_extra


# --- choosing the format --------------------------------------------------------------------


def check_refused(outcome: Outcome, code: str, detail: str | None = None) -> None:
    assert outcome.status == 401, outcome.body
    assert outcome.app_calls == 0
    assert outcome.headers[b"content-type"] == b"application/json"
    assert outcome.headers[b"www-authenticate"] == b"Signature"
    assert outcome.json()["code"] == code, outcome.json()
    if detail is not None:
        assert outcome.json()["detail"] == detail


@pytest.mark.anyio
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"},
        {"Authorization": good("destiny")["Authorization"]},  # not a destiny marker alone
        {"Content-Digest": "sha-256=:AAAA:"},
    ],
    ids=["nothing", "bearer", "destiny-authorization-only", "content-digest-only"],
)
async def test_no_signature_headers(headers: dict[str, str]) -> None:
    """No format's headers: 401 no_signature naming the formats, with RFC 9421's challenge."""
    outcome = await send(headers)
    check_refused(
        outcome,
        "no_signature",
        f"Request is not signed in a format this server accepts ({ALL_NAMES}).",
    )
    assert outcome.headers[b"accept-signature"] == ACCEPT_DEFAULT


@pytest.mark.anyio
@pytest.mark.parametrize(
    "formats",
    [
        ["destiny", "rfc9421"],
        ["destiny", "standard-webhooks"],
        ["rfc9421", "standard-webhooks"],
        FORMATS,
    ],
    ids="+".join,
)
async def test_two_formats_are_ambiguous(formats: list[str]) -> None:
    """Headers of two formats (each correctly signed) are refused: which one was meant?"""
    headers: dict[str, str] = {}
    for fmt in formats:
        headers.update(good(fmt))
    outcome = await send(headers)
    names = ", ".join(sorted(formats))
    check_refused(
        outcome, "ambiguous_signature", f"Request is signed in more than one format ({names})."
    )
    assert outcome.headers[b"accept-signature"] == ACCEPT_DEFAULT


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "code", "detail"),
    [
        ({"X-Client-Id": str(CLIENT_ID)}, "missing_authorization", "Authorization header missing."),
        ({"X-Request-Timestamp": f"{NOW}"}, "missing_authorization", None),
        ({"Signature": "sig1=:AAAA:"}, "missing_header", "Missing Signature-Input header."),
        ({"webhook-signature": "v1,AAAA"}, "missing_header", "Missing webhook-id header."),
        ({"webhook-id": "msg_1"}, "missing_header", "Missing webhook-timestamp header."),
    ],
    ids=["x-client-id", "x-request-timestamp", "signature", "webhook-signature", "webhook-id"],
)
async def test_one_marker_header_chooses_its_format(
    headers: dict[str, str], code: str, detail: str | None
) -> None:
    """A single header of a format is enough to choose it, and get that format's refusal."""
    check_refused(await send(headers), code, detail)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("fmt", "accept_signature"),
    [("destiny", False), ("rfc9421", True), ("standard-webhooks", False)],
)
async def test_a_formats_refusal_carries_its_own_challenge(
    fmt: str, accept_signature: bool
) -> None:
    """Once the format is known, only RFC 9421's refusals carry Accept-Signature."""
    outcome = await send(forged(fmt))
    expected = "digest_mismatch" if fmt == "rfc9421" else "invalid_signature"
    check_refused(outcome, expected)
    assert (b"accept-signature" in outcome.headers) is accept_signature


MIDDLEWARES: dict[str, Callable[[Any], HMACMiddleware]] = {
    "shorthand": lambda app: HMACMiddleware(app, secret_key=SECRET),
    "destiny-alone": lambda app: HMACMiddleware(app, schemes=[DestinyScheme(secret_key=SECRET)]),
}


@pytest.mark.anyio
@pytest.mark.parametrize("make", MIDDLEWARES.values(), ids=MIDDLEWARES.keys())
async def test_destiny_only_keeps_destiny_sdk_messages(
    make: Callable[[Any], HMACMiddleware],
) -> None:
    """With destiny's format alone, an unsigned request gets destiny-sdk's own answer."""
    outcome = Outcome()
    await drive(make(recording_app(outcome)), scope_for("GET", URL, {}), chunks(b"", 1), outcome)
    check_refused(outcome, "missing_authorization", "Authorization header missing.")
    assert b"accept-signature" not in outcome.headers


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("alone", "code", "detail"),
    [
        (
            lambda: MessageSignatureScheme(keys={KEY_ID: RFC_SECRET}),
            "missing_header",
            "Missing Signature-Input header.",
        ),
        (
            lambda: StandardWebhookScheme(secrets=WEBHOOK_SECRET),
            "missing_header",
            "Missing webhook-id header.",
        ),
    ],
    ids=["rfc9421", "standard-webhooks"],
)
async def test_a_single_format_answers_every_request(
    alone: Callable[[], Any], code: str, detail: str
) -> None:
    """One scheme: every request is its, so another format's request gets its refusal."""
    check_refused(await send(good("destiny"), schemes=[alone()]), code, detail)


# --- construction ---------------------------------------------------------------------------


async def lookup(client_id: Any) -> None:
    return None


class DestinyCopy(DestinyScheme):
    """destiny-sdk's format under another name: its headers are still destiny's."""

    name = "destiny-copy"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"schemes": all_schemes(), "secret_key": SECRET}, TypeError, "exclusive"),
        ({"schemes": all_schemes(), "client_secrets": {CLIENT_ID: SECRET}}, TypeError, "exclusive"),
        ({"schemes": all_schemes(), "secret_lookup": lookup}, TypeError, "exclusive"),
        ({"schemes": all_schemes(), "secret_lookup_ttl": 5.0}, TypeError, "exclusive"),
        ({"schemes": []}, TypeError, "non-empty list"),
        ({"schemes": ()}, TypeError, "non-empty list"),
        ({"schemes": "destiny"}, TypeError, "non-empty list"),
        ({"schemes": DestinyScheme(secret_key=SECRET)}, TypeError, "non-empty list"),
        ({"schemes": [object()]}, TypeError, "not a scheme"),
        ({"schemes": [DestinyScheme(secret_key=SECRET), "rfc9421"]}, TypeError, "not a scheme"),
        (
            {"schemes": [DestinyScheme(secret_key=SECRET), DestinyScheme(secret_key=SECRET)]},
            ValueError,
            "destiny format twice",
        ),
        (
            {"schemes": [MessageSignatureScheme(keys={KEY_ID: RFC_SECRET})] * 2},
            ValueError,
            "rfc9421 format twice",
        ),
        (
            {"schemes": [StandardWebhookScheme(secrets=WEBHOOK_SECRET)] * 2},
            ValueError,
            "standard-webhooks format twice",
        ),
        (
            {"schemes": [*all_schemes()[:2], DestinyCopy(secret_key=SECRET)]},
            ValueError,
            "destiny-copy format twice",  # the headers decide: two formats cannot share one
        ),
        ({}, TypeError, "or schemes="),
    ],
    ids=[
        "with-secret_key",
        "with-client_secrets",
        "with-secret_lookup",
        "with-lookup-ttl",
        "empty-list",
        "empty-tuple",
        "a-str",
        "a-scheme-not-a-list",
        "a-non-scheme",
        "a-name-not-a-scheme",
        "destiny-twice",
        "rfc9421-twice",
        "webhooks-twice",
        "headers-of-an-earlier-format",
        "nothing",
    ],
)
def test_bad_schemes_fail_at_construction(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    """schemes= is exclusive with the shorthands, non-empty, of schemes, each format once."""
    with pytest.raises(error, match=match) as caught:
        HMACMiddleware(who_app, **kwargs)
    assert SECRET not in str(caught.value) and RFC_SECRET not in str(caught.value)


def test_schemes_may_be_a_tuple() -> None:
    """Any sequence of schemes will do."""
    HMACMiddleware(who_app, schemes=tuple(all_schemes()))


# --- what every format shares ---------------------------------------------------------------

EVERY = pytest.mark.parametrize("fmt", FORMATS)


@pytest.mark.anyio
@EVERY
async def test_excluded_paths_pass_unverified(fmt: str) -> None:
    """An excluded path is served whatever the headers say, for every format."""
    outcome = Outcome()
    mw = guard(recording_app(outcome), exclude_paths=("/health",))
    scope = scope_for("GET", "http://api.test/health", forged(fmt))
    await drive(mw, scope, chunks(b"", 1), outcome)
    assert (outcome.status, outcome.app_calls) == (200, 1)
    assert outcome.app_scope is not None
    assert "hmac" not in outcome.app_scope.get("state", {})


@pytest.mark.anyio
@EVERY
async def test_a_signed_websocket_handshake_is_accepted_and_says_who_signed(fmt: str) -> None:
    """A handshake is signed like a GET (no body, no digest); the app learns who signed."""
    url = "http://api.test/ws?room=7"
    outcome = Outcome()
    mw = HMACMiddleware(ws_app, **middleware_options(fmt), clock=lambda: NOW)
    scope = ws_scope(url, signed(fmt, method="GET", url=url, at=NOW).httpx)
    await drive(mw, scope, [{"type": "websocket.connect"}], outcome)
    assert [m["type"] for m in outcome.sent] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    ]
    said = json.loads(outcome.sent[1]["text"])
    assert said["hmac"] == [fmt, str(VERIFIED[fmt].key_id)]
    assert said["client_id"] == str(CLIENT_ID if fmt == "destiny" else None)


@pytest.mark.anyio
@EVERY
async def test_declared_content_length_over_the_limit_is_413_unread(fmt: str) -> None:
    """A Content-Length over max_body_size is refused before a byte is read, in every format."""
    body = b"x" * 101
    headers = [*raw(good(fmt, body)), (b"content-length", b"101")]
    scope = scope_for("POST", URL, headers)
    outcome = await drive(guard(max_body_size=100), scope, then="forbid")
    assert outcome.code() == (413, "body_too_large")


@pytest.mark.anyio
@EVERY
async def test_streamed_body_over_the_limit_is_413(fmt: str) -> None:
    """A correctly signed body one byte over max_body_size is refused while it is read."""
    body = b"y" * 101
    outcome = await send(good(fmt, body), body, max_body_size=100)
    assert outcome.status == 413
    assert outcome.json() == {
        "detail": "Request body exceeds the limit of 100 bytes.",
        "code": "body_too_large",
    }


@pytest.mark.anyio
@EVERY
async def test_stalled_body_is_408(fmt: str) -> None:
    """A body that stops arriving gets 408 within body_timeout, in every format."""
    first = {"type": "http.request", "body": BODY[:3], "more_body": True}
    scope = scope_for("POST", URL, good(fmt))
    with anyio.fail_after(5):
        outcome = await drive(guard(body_timeout=0.1), scope, [first], then="block")
    assert outcome.code() == (408, "body_timeout")


@pytest.mark.anyio
async def test_on_failure_sees_every_formats_refusals(caplog: pytest.LogCaptureFixture) -> None:
    """The hook gets each refusal, whatever the format; the log names the claimed key."""
    caplog.set_level(logging.INFO, logger="hmac_asgi")
    seen: list[str] = []

    def hook(scope: Any, exc: AuthException) -> None:
        seen.append(exc.code)

    ambiguous = {**good("destiny"), **good("rfc9421")}
    for headers in (
        forged("destiny"),
        forged("rfc9421"),
        forged("standard-webhooks"),
        {},
        ambiguous,
    ):
        await send(headers, on_failure=hook)
    accepted = await send(good("rfc9421"), on_failure=hook)
    assert accepted.status == 200
    assert seen == [
        "invalid_signature",
        "digest_mismatch",
        "invalid_signature",
        "no_signature",
        "ambiguous_signature",
    ]
    assert f"digest_mismatch (client {KEY_ID})" in caplog.text
    assert f"invalid_signature (client {CLIENT_ID})" in caplog.text


@pytest.mark.anyio
async def test_one_replay_cache_serves_every_format() -> None:
    """Each format's request is good once with a shared cache; the formats do not collide."""
    cache = MemoryReplayCache(clock=lambda: NOW)
    mw = guard(replay_cache=cache)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(mw)) as client:
        for fmt in FORMATS:
            headers = good(fmt)
            first = await client.post(URL, content=BODY, headers=headers)
            again = await client.post(URL, content=BODY, headers=headers)
            assert who(first)["hmac"][0] == fmt
            assert (again.status_code, again.json()["code"]) == (401, "replayed")


@pytest.mark.anyio
async def test_keys_are_per_format() -> None:
    """A format's secret does not sign another format: RFC 9421 with destiny's secret fails."""
    outcome = await send(signed("rfc9421", BODY, url=URL, at=NOW, secret=SECRET).httpx)
    check_refused(outcome, "invalid_signature")
    outcome = await send(signed("rfc9421", BODY, url=URL, at=NOW, secret=RFC_OTHER_SECRET).httpx)
    check_refused(outcome, "invalid_signature")
