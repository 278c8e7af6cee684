"""Standard Webhooks against its reference library (``standardwebhooks``), both ways.

Its ``Webhook(secret).sign(...)`` makes the deliveries our middleware verifies; its
``Webhook(secret).verify(...)`` checks the ones our transport and ``httpx.Auth`` send.
Secret rotation both ways: a receiver with two secrets, and a sender listing two
signatures. The spec's own vector is in the fast suite (tests/test_webhooks_vectors.py).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
from _asgi import Outcome, recording_app, serve
from _secrets import secret
from _signing import whsec
from standardwebhooks import Webhook, WebhookVerificationError

from hmac_asgi import (
    HMACMiddleware,
    HMACSigningAuth,
    HMACSigningTransport,
    StandardWebhookScheme,
    Verified,
)

# The endpoint's raw keys as text (registered, so the log scanner knows them): the current
# one, the next (a rotation), one the receiver does not have; given out as whsec_<base64>.
RAW_KEY, NEXT_RAW_KEY, OTHER_RAW_KEY = (
    secret(f"webhook peer endpoint, {which}") for which in ("current", "next", "unknown")
)
SECRET, NEXT_SECRET, OTHER_SECRET = (
    whsec(key.encode()) for key in (RAW_KEY, NEXT_RAW_KEY, OTHER_RAW_KEY)
)
URL = "https://hooks.example/webhooks/orders"
VERIFIED = Verified("standard-webhooks", None)
BODIES = {
    "json": json.dumps({"type": "order.paid", "data": {"id": "o_1", "note": "café ✓"}}),
    "compact": '{"test": 2432232314}',
    "empty": "",
}


def peer_headers(
    body: str, secret: str | bytes = SECRET, msg_id: str = "msg_2b3c4d", at: int | None = None
) -> dict[str, str]:
    """What a sender using the reference library emits (it signs; the headers are ours)."""
    timestamp = int(time.time()) if at is None else at
    when = datetime.fromtimestamp(timestamp, tz=timezone.utc)  # aware UTC, as it needs
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": Webhook(secret).sign(msg_id, when, body),
    }


def receiver(seen: Outcome, *secrets: str | bytes) -> HMACMiddleware:
    """Our middleware, Standard Webhooks only, with ``secrets`` (SECRET by default)."""
    scheme = StandardWebhookScheme(secrets=list(secrets or [SECRET]))
    return HMACMiddleware(recording_app(seen), schemes=[scheme])


async def deliver(app: HMACMiddleware, body: str, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app)) as client:
        return await client.post(URL, content=body.encode(), headers=headers)


def refused_with(response: httpx.Response, code: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == code


# The reference library signs, our middleware verifies.


@pytest.mark.anyio
@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
async def test_peer_signs_our_middleware_accepts(body: str) -> None:
    seen = Outcome()
    response = await deliver(receiver(seen), body, peer_headers(body))
    assert response.status_code == 200, response.text
    assert seen.seen("hmac", "webhook_id") == [
        (Verified("standard-webhooks", None), "msg_2b3c4d", body.encode())
    ]


def test_peer_signs_our_middleware_accepts_over_uvicorn() -> None:
    seen = Outcome()
    body = BODIES["json"]
    with serve(receiver(seen), lifespan="off") as url, httpx.Client(base_url=url) as client:
        assert client.post("/hooks", content=body, headers=peer_headers(body)).status_code == 200
        tampered = client.post("/hooks", content=body + " ", headers=peer_headers(body))
    refused_with(tampered, "invalid_signature")
    assert seen.seen("hmac", "webhook_id") == [
        (Verified("standard-webhooks", None), "msg_2b3c4d", body.encode())
    ]


@pytest.mark.anyio
async def test_peer_signature_refused_when_tampered_or_foreign() -> None:
    seen = Outcome()
    app = receiver(seen)
    body = BODIES["json"]
    headers = peer_headers(body)
    refused_with(await deliver(app, body.replace("o_1", "o_2"), headers), "invalid_signature")
    refused_with(
        await deliver(app, body, {**headers, "webhook-id": "msg_other"}), "invalid_signature"
    )
    later = str(int(headers["webhook-timestamp"]) + 1)
    refused_with(
        await deliver(app, body, {**headers, "webhook-timestamp": later}), "invalid_signature"
    )
    refused_with(await deliver(app, body, peer_headers(body, OTHER_SECRET)), "invalid_signature")
    refused_with(
        await deliver(app, body, peer_headers(body, at=int(time.time()) - 3600)), "expired"
    )
    assert seen.calls == []


@pytest.mark.anyio
async def test_peer_raw_bytes_secret_is_the_same_key() -> None:
    # The library takes a whsec_ str or the raw key bytes; so do we.
    body = BODIES["json"]
    assert peer_headers(body, RAW_KEY.encode(), at=1) == peer_headers(body, SECRET, at=1)
    seen = Outcome()
    app = receiver(seen, RAW_KEY.encode())
    assert (await deliver(app, body, peer_headers(body))).status_code == 200


@pytest.mark.anyio
async def test_peer_timestamp_with_fraction_departs() -> None:
    # The library parses webhook-timestamp with float() and signs the floored value, so
    # it accepts "<ts>.9"; the spec says integer seconds, and we refuse anything else.
    body = BODIES["json"]
    headers = peer_headers(body)
    loose = {**headers, "webhook-timestamp": headers["webhook-timestamp"] + ".9"}
    assert Webhook(SECRET).verify(body, loose) == json.loads(body)
    refused_with(await deliver(receiver(Outcome()), body, loose), "malformed_header")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "junk", ["v1,AAAA  ", "garbage ", "v1,abc "], ids=["double-space", "no-comma", "base64"]
)
async def test_junk_entry_before_a_valid_one_departs(junk: str) -> None:
    # The library raises ValueError (binascii.Error is one), not WebhookVerificationError,
    # on such an entry before it reaches the valid one; we skip it. Our signer sends none.
    body = BODIES["json"]
    headers = peer_headers(body)
    listed = {**headers, "webhook-signature": junk + headers["webhook-signature"]}
    with pytest.raises(ValueError):
        Webhook(SECRET).verify(body, listed)
    assert (await deliver(receiver(Outcome()), body, listed)).status_code == 200


# Our transport and httpx.Auth sign, the reference library verifies.


def peer_verifier(secret: str, received: list[Any]) -> Callable[[httpx.Request], httpx.Response]:
    """A MockTransport handler: the reference library's verify(), 200 or 401."""

    def handler(request: httpx.Request) -> httpx.Response:
        try:
            Webhook(secret).verify(request.content, dict(request.headers), json_parse=False)
        except WebhookVerificationError as exc:
            return httpx.Response(401, json={"error": str(exc)})
        received.append((request.headers["webhook-id"], request.content))
        return httpx.Response(200)

    return handler


def check_headers(request: httpx.Request) -> None:
    # Integer seconds, one v1 entry: nothing the library's parser trips over.
    assert request.headers["webhook-timestamp"].isdigit()
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
    version, _, signature = request.headers["webhook-signature"].partition(",")
    assert version == "v1" and len(base64.b64decode(signature, validate=True)) == 32
    assert request.headers["webhook-id"].startswith("msg_")


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_our_transport_signs_peer_verifies_sync(body: str) -> None:
    received: list[Any] = []
    inner = httpx.MockTransport(peer_verifier(SECRET, received))
    transport = HMACSigningTransport(secret_key=SECRET, scheme="standard-webhooks", transport=inner)
    with httpx.Client(transport=transport) as client:
        response = client.post(URL, content=body.encode())
    assert response.status_code == 200, response.text
    check_headers(response.request)
    assert received == [(response.request.headers["webhook-id"], body.encode())]


@pytest.mark.anyio
async def test_our_transport_signs_peer_verifies_async() -> None:
    received: list[Any] = []
    inner = httpx.MockTransport(peer_verifier(SECRET, received))
    transport = HMACSigningTransport(secret_key=SECRET, scheme="standard-webhooks", transport=inner)
    async with httpx.AsyncClient(transport=transport) as client:
        first = await client.post(URL, json={"type": "order.paid"})
        # A retry of the same message keeps its id, with a fresh timestamp and signature.
        retry = await client.post(
            URL,
            json={"type": "order.paid"},
            headers={"webhook-id": first.request.headers["webhook-id"]},
        )
    assert first.status_code == retry.status_code == 200
    check_headers(first.request)
    assert [message_id for message_id, _ in received] == [first.request.headers["webhook-id"]] * 2


@pytest.mark.anyio
async def test_our_auth_signs_peer_verifies_sync_and_async() -> None:
    received: list[Any] = []
    handler = peer_verifier(SECRET, received)
    auth = HMACSigningAuth(SECRET, scheme="standard-webhooks")
    body = BODIES["json"].encode()
    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        assert client.post(URL, content=body).status_code == 200
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=auth) as client:
        assert (await client.post(URL, content=body)).status_code == 200
    assert [content for _, content in received] == [body, body]
    assert received[0][0] != received[1][0]  # a new message, a new id


def test_our_signature_refused_by_peer_when_tampered_or_foreign() -> None:
    request = httpx.Request("POST", URL, content=BODIES["json"].encode())
    next(HMACSigningAuth(SECRET, scheme="standard-webhooks").auth_flow(request))
    headers = dict(request.headers)
    Webhook(SECRET).verify(request.content, headers)  # as sent: valid
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(request.content + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER_SECRET).verify(request.content, headers)


# Rotation.


@pytest.mark.anyio
async def test_rotation_receiver_holds_two_secrets() -> None:
    seen = Outcome()
    app = receiver(seen, SECRET, NEXT_SECRET)
    body = BODIES["json"]
    for key in (SECRET, NEXT_SECRET):
        assert (await deliver(app, body, peer_headers(body, key))).status_code == 200
    refused_with(await deliver(app, body, peer_headers(body, OTHER_SECRET)), "invalid_signature")
    assert len(seen.calls) == 2


@pytest.mark.anyio
async def test_rotation_sender_lists_two_signatures() -> None:
    # A sender mid-rotation signs with both secrets: "v1,<old> v1,<new>".
    body = BODIES["json"]
    at = int(time.time())
    old, new = peer_headers(body, SECRET, at=at), peer_headers(body, NEXT_SECRET, at=at)
    both = {**old, "webhook-signature": f"{old['webhook-signature']} {new['webhook-signature']}"}
    for key in (SECRET, NEXT_SECRET):
        Webhook(key).verify(body, both)  # the library accepts either entry
        assert (await deliver(receiver(Outcome(), key), body, both)).status_code == 200
    refused_with(await deliver(receiver(Outcome(), OTHER_SECRET), body, both), "invalid_signature")


def test_rotation_our_sender_with_either_secret() -> None:
    for key in (SECRET, NEXT_SECRET):
        received: list[Any] = []
        inner = httpx.MockTransport(peer_verifier(key, received))
        transport = HMACSigningTransport(
            secret_key=key, scheme="standard-webhooks", transport=inner
        )
        with httpx.Client(transport=transport) as client:
            assert client.post(URL, content=b"{}").status_code == 200
        wrong = NEXT_SECRET if key == SECRET else SECRET
        inner = httpx.MockTransport(peer_verifier(wrong, received))
        transport = HMACSigningTransport(
            secret_key=key, scheme="standard-webhooks", transport=inner
        )
        with httpx.Client(transport=transport) as client:
            assert client.post(URL, content=b"{}").status_code == 401
