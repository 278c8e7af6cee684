"""The Standard Webhooks spec vector, and the reference library's own test cases.

No peer library needed: these run on every Python. Our signer reproduces the spec's
signature; our middleware, its clock set to the vector's time, accepts it and refuses
what the reference library's tests refuse.
"""

from __future__ import annotations

import base64

import httpx
import pytest
from _asgi import Outcome, recording_app
from _secrets import WEBHOOKS_SPEC_SECRET

from hmac_asgi import HMACMiddleware, StandardWebhookScheme, Verified
from hmac_asgi.schemes.webhooks import WebhookSigner

SECRET = WEBHOOKS_SPEC_SECRET
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
HEADERS = {
    "webhook-id": MSG_ID,
    "webhook-timestamp": str(TIMESTAMP),
    "webhook-signature": SIGNATURE,
}
URL = "https://hooks.example/webhooks"
# Other entries of the reference library's multi-signature test: skipped, or not matching.
NOISE = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="


def vector_request(headers: dict[str, str] | None = None) -> httpx.Request:
    return httpx.Request("POST", URL, headers=headers or {"webhook-id": MSG_ID}, content=BODY)


@pytest.mark.parametrize(
    "secret",
    [SECRET, base64.b64decode(SECRET.removeprefix("whsec_"))],
    ids=["whsec", "raw-bytes"],
)
def test_our_signer_reproduces_the_spec_vector(secret: str | bytes) -> None:
    assert WebhookSigner(secret).headers(vector_request(), TIMESTAMP) == HEADERS
    assert WebhookSigner(secret).headers(vector_request(), f"{TIMESTAMP}.75") == HEADERS


def test_our_signer_gives_a_new_message_its_own_id() -> None:
    request = httpx.Request("POST", URL, content=BODY)
    first = WebhookSigner(SECRET).headers(request, TIMESTAMP)
    second = WebhookSigner(SECRET).headers(request, TIMESTAMP)
    assert first["webhook-id"].startswith("msg_") and first["webhook-id"] != second["webhook-id"]


def spec_scheme(secret: str | bytes = SECRET) -> StandardWebhookScheme:
    return StandardWebhookScheme(secrets=[secret])  # 24 bytes, the spec's size: no warning


async def deliver(
    headers: dict[str, str],
    body: bytes = BODY,
    now: float = TIMESTAMP + 10,
    seen: Outcome | None = None,
) -> httpx.Response:
    app = recording_app(Outcome() if seen is None else seen)
    middleware = HMACMiddleware(app, schemes=[spec_scheme()], clock=lambda: now)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(middleware)) as client:
        return await client.post(URL, headers=headers, content=body)


def refused_with(response: httpx.Response, code: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == code


@pytest.mark.anyio
async def test_our_middleware_accepts_the_spec_vector() -> None:
    seen = Outcome()
    response = await deliver(HEADERS, seen=seen)
    assert response.status_code == 200, response.text
    assert seen.seen("hmac", "webhook_id") == [(Verified("standard-webhooks", None), MSG_ID, BODY)]


@pytest.mark.anyio
async def test_header_names_are_case_insensitive() -> None:
    upper = {name.upper(): value for name, value in HEADERS.items()}
    assert (await deliver(upper)).status_code == 200


@pytest.mark.anyio
async def test_one_changed_character_is_refused() -> None:
    changed = {**HEADERS, "webhook-signature": SIGNATURE[:-2] + "A="}
    refused_with(await deliver(changed), "invalid_signature")
    refused_with(await deliver(HEADERS, body=BODY + b" "), "invalid_signature")


@pytest.mark.anyio
@pytest.mark.parametrize("missing", HEADERS.keys())
async def test_a_missing_header_is_refused(missing: str) -> None:
    headers = {name: value for name, value in HEADERS.items() if name != missing}
    refused_with(await deliver(headers), "missing_header")


@pytest.mark.anyio
async def test_a_timestamp_that_is_not_a_number_is_refused() -> None:
    refused_with(await deliver({**HEADERS, "webhook-timestamp": "hello"}), "malformed_header")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("offset", "code"),
    [(-299, None), (299, None), (-301, "future_timestamp"), (301, "expired")],
)
async def test_five_minutes_tolerance_both_ways(offset: int, code: str | None) -> None:
    response = await deliver(HEADERS, now=TIMESTAMP + offset)
    if code is None:
        assert response.status_code == 200, response.text
    else:
        refused_with(response, code)


@pytest.mark.anyio
async def test_the_valid_entry_among_others_passes() -> None:
    listed = f"{NOISE} v2,{NOISE[3:]} {SIGNATURE} {NOISE}"
    assert (await deliver({**HEADERS, "webhook-signature": listed})).status_code == 200
    # The library raises on these before it reaches a valid entry; we skip them.
    for junk in (f"{NOISE}  {SIGNATURE}", f"garbage {SIGNATURE}", f"v1,abc {SIGNATURE}"):
        assert (await deliver({**HEADERS, "webhook-signature": junk})).status_code == 200


def test_a_secret_without_whsec_prefix_is_refused_at_configuration() -> None:
    # The library strips an optional whsec_ and accepts the bare base64 too; we require
    # the prefix on a str (or the raw key as bytes), so a typo cannot pass silently.
    with pytest.raises(ValueError, match="whsec_"):
        StandardWebhookScheme(secrets=[SECRET.removeprefix("whsec_")])
    spec_scheme(base64.b64decode(SECRET.removeprefix("whsec_")))
