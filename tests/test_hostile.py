"""A catalogue of hostile requests, in every wire format: each is answered with its own
status and code (JSON) and never reaches the app, or, where the case says so, is served
with exactly the bytes that were signed. The catalogue is ``tests/_hostile_cases.py``
(``test_load.py`` sends it too); then what every format shares on the way in: slow
bodies, clients that hang up, any chunking, and replays with a cache.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from _asgi import Outcome, chunks, drive, recording_app
from _hostile_cases import CASES, Case, Context, middleware_options
from _secrets import REGISTRY
from _signing import SCHEMES
from starlette.types import Message

from hmac_asgi import HMACMiddleware, MemoryReplayCache

NOW = 1_800_000_000.25
BODY = b'{"order": 42, "note": "caf\xc3\xa9"}'
URL = "http://testserver/echo?n=1"
LIMIT = 1024

# destiny-sdk's own texts, byte for byte (its client reacts to "Token is expired.").
DESTINY_DETAILS = {
    "missing_authorization": "Authorization header missing.",
    "unsupported_scheme": "Authorization type not supported.",
    "missing_client_id": "X-Client-Id header missing",
    "invalid_client_id": "Invalid format for client id, expected UUIDv4 or UUIDv7.",
    "missing_timestamp": "X-Request-Timestamp header missing",
    "expired": "Token is expired.",
    "invalid_signature": "Signature is invalid.",
}
EVERY_CASE = [(scheme, case) for scheme in SCHEMES for case in CASES[scheme]]
EVERY_SCHEME = pytest.mark.parametrize("scheme", SCHEMES)


def context(scheme: str) -> Context:
    return Context(scheme, at=NOW, body=BODY, url=URL, limit=LIMIT, beyond=0.5)


def guard(outcome: Outcome, scheme: str, **options: Any) -> HMACMiddleware:
    """The middleware for ``scheme`` around a recording app, at NOW."""
    return HMACMiddleware(
        recording_app(outcome),
        **middleware_options(scheme),
        max_body_size=LIMIT,
        clock=lambda: NOW,
        **options,
    )


@EVERY_SCHEME
def test_the_catalogue_is_large_and_named_uniquely(scheme: str) -> None:
    names = [case.name for case in CASES[scheme]]
    assert len(names) >= 40
    assert len(set(names)) == len(names)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("scheme", "case"), EVERY_CASE, ids=[f"{scheme}-{case.name}" for scheme, case in EVERY_CASE]
)
async def test_hostile_request(scheme: str, case: Case) -> None:
    attempt = case.build(context(scheme))
    outcome = Outcome()
    app = guard(outcome, scheme)
    for size in (len(attempt.body) or 1, 7):  # whole, and in small chunks
        outcome.sent.clear()
        await drive(app, attempt.scope(), chunks(attempt.body, size), outcome)
        assert outcome.status == case.status, outcome.body
        if case.status == 200:
            assert outcome.app_body == attempt.body
            continue
        assert outcome.app_calls == 0
        assert outcome.headers[b"content-type"] == b"application/json"
        payload = outcome.json()
        assert payload["code"] == case.code
        assert isinstance(payload["detail"], str) and payload["detail"]
        detail = case.detail or (DESTINY_DETAILS.get(case.code) if scheme == "destiny" else None)
        if detail is not None:
            assert payload["detail"] == detail
        if case.status == 401:
            assert outcome.headers[b"www-authenticate"] == b"Signature"
            # RFC 9421's refusals say what to sign (Accept-Signature); the others' do not.
            assert (b"accept-signature" in outcome.headers) is (scheme == "rfc9421")
        assert not any(secret.encode() in outcome.body for secret in REGISTRY.values())


# What every format shares on the way in.


@pytest.mark.anyio
@EVERY_SCHEME
async def test_a_replayed_request_is_refused_with_a_cache(scheme: str) -> None:
    outcome = Outcome()
    app = guard(outcome, scheme, replay_cache=MemoryReplayCache(clock=lambda: NOW))
    request = context(scheme).good()
    answers = []
    for _ in range(2):
        outcome.sent.clear()
        await drive(app, request.scope(), chunks(request.body, 5), outcome)
        answers.append(outcome.code())
    assert answers == [(200, None), (401, "replayed")]
    assert outcome.app_calls == 1


@pytest.mark.anyio
@EVERY_SCHEME
async def test_a_stalled_body_is_408_and_the_app_is_not_called(scheme: str) -> None:
    request = context(scheme).good()
    outcome = Outcome()
    first = chunks(request.body, 3)[0]
    with anyio.fail_after(5):
        await drive(
            guard(outcome, scheme, body_timeout=0.1),
            request.scope(),
            [first],
            outcome,
            then="block",
        )
    assert outcome.code() == (408, "body_timeout")
    assert outcome.app_calls == 0


@pytest.mark.anyio
@EVERY_SCHEME
@pytest.mark.parametrize(
    "after", [0, 1, 3], ids=["after-headers", "after-1-chunk", "after-3-chunks"]
)
async def test_a_client_gone_mid_body_gets_nothing_and_the_app_is_not_called(
    scheme: str, after: int
) -> None:
    request = context(scheme).good()
    outcome = Outcome()
    messages = chunks(request.body, 5)[:after]  # then the driver answers http.disconnect
    await drive(guard(outcome, scheme), request.scope(), messages, outcome)
    assert outcome.sent == []  # nobody to answer; nothing raised either
    assert outcome.app_calls == 0


def with_empty_messages(body: bytes) -> list[Message]:
    """Each byte in its own message, an empty message (some without keys) between."""
    messages: list[Message] = [{"type": "http.request", "more_body": True}]
    for byte in body:
        messages += [
            {"type": "http.request", "body": bytes([byte]), "more_body": True},
            {"type": "http.request", "body": b"", "more_body": True},
        ]
    return [*messages, {"type": "http.request"}]  # no more_body: the last


CHUNKINGS = {
    "one-message": lambda body: chunks(body, len(body)),
    "1-byte-chunks": lambda body: chunks(body, 1),
    "7-byte-chunks": lambda body: chunks(body, 7),
    "with-empty-messages": with_empty_messages,
}


@pytest.mark.anyio
@EVERY_SCHEME
@pytest.mark.parametrize("chunking", CHUNKINGS.values(), ids=CHUNKINGS.keys())
async def test_any_chunking_of_a_signed_body_reaches_the_app_intact(
    scheme: str, chunking: Any
) -> None:
    request = context(scheme).good()
    outcome = Outcome()
    await drive(guard(outcome, scheme), request.scope(), chunking(request.body), outcome)
    assert outcome.status == 200
    assert outcome.app_calls == 1 and outcome.app_body == BODY
