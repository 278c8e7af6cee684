"""Standard Webhooks through the middleware, the client and the CLI.

Deliveries are signed with the standard library (``_signing.signed``) or with our own
signer; the spec's published vector is checked in ``test_webhooks_vectors.py``, hostile
deliveries in ``test_hostile.py``.
"""

from __future__ import annotations

import base64
import warnings
from typing import Any

import httpx
import pytest
from _asgi import (
    Outcome,
    chunks,
    drive,
    recording_app,
    scope_for,
    who,
    who_app,
)
from _secrets import secret
from _signing import (
    NOW,
    WEBHOOK_KEY,
    WEBHOOK_OLD_KEY,
    WEBHOOK_OLD_SECRET,
    WEBHOOK_SECRET,
    signed,
    signing_client,
    webhook_signature,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hmac_asgi import (
    HMACMiddleware,
    HMACSigningTransport,
    MemoryReplayCache,
    StandardWebhookScheme,
    Verified,
    WeakSecretWarning,
)
from hmac_asgi._cli import main

URL = "https://receiver.example/hooks/orders"
BODY = b'{"type": "order.created", "data": {"id": 42}}'
OTHER_KEY = secret("webhook endpoint nobody has").encode()  # a key the receiver does not know


def guard(app: Any = who_app, *, secrets: Any = WEBHOOK_SECRET, **kwargs: Any) -> HMACMiddleware:
    """The middleware with the Standard Webhooks scheme only, at NOW."""
    kwargs.setdefault("clock", lambda: NOW)
    return HMACMiddleware(app, schemes=[StandardWebhookScheme(secrets=secrets)], **kwargs)


async def deliver(
    headers: dict[str, str] | list[tuple[bytes, bytes]],
    body: bytes = BODY,
    **kwargs: Any,
) -> Outcome:
    """One delivery through a fresh middleware around a recording app."""
    outcome = Outcome()
    mw = guard(recording_app(outcome), **kwargs)
    await drive(mw, scope_for("POST", URL, headers), chunks(body, 7), outcome)
    return outcome


def check_refused(outcome: Outcome, code: str, detail: str | None = None) -> None:
    """A 401 JSON refusal with ``code``, and the app never called."""
    assert outcome.status == 401, outcome.body
    assert outcome.app_calls == 0
    assert outcome.headers[b"www-authenticate"] == b"Signature"
    assert b"accept-signature" not in outcome.headers  # that is RFC 9421's challenge
    assert outcome.json()["code"] == code, outcome.json()
    if detail is not None:
        assert outcome.json()["detail"] == detail


# --- round trips --------------------------------------------------------------------------


def sending_client(kind: str, app: Any) -> httpx.AsyncClient:
    """A webhook sender: our signer as an Auth or a transport, at NOW."""
    signing = {"secret_key": WEBHOOK_SECRET, "scheme": "standard-webhooks", "clock": lambda: NOW}
    return signing_client(kind, app, **signing)


KINDS = pytest.mark.parametrize("kind", ["auth", "transport"])


@pytest.mark.anyio
@KINDS
async def test_our_signer_keeps_a_given_id_and_makes_new_ones(kind: str) -> None:
    """A request with a webhook-id keeps it (a retry); others get a fresh id each."""
    async with sending_client(kind, guard()) as client:
        kept = who(await client.post(URL, content=BODY, headers={"webhook-id": "msg_retry_1"}))
        first = who(await client.post(URL, content=BODY))
        second = who(await client.post(URL, content=BODY))
    assert kept["webhook_id"] == "msg_retry_1"
    assert first["webhook_id"] != second["webhook_id"]


@pytest.mark.anyio
async def test_state_for_the_app() -> None:
    """The app finds ``request.state.webhook_id`` and ``scope["state"]["hmac"]``."""

    async def endpoint(request: Request) -> JSONResponse:
        verified = request.scope["state"]["hmac"]
        assert verified == Verified("standard-webhooks", None)
        assert isinstance(verified, Verified)
        return JSONResponse(
            {"id": request.state.webhook_id, "body": (await request.body()).decode()}
        )

    app = Starlette(routes=[Route("/hooks/orders", endpoint, methods=["POST"])])
    headers = signed("standard-webhooks", BODY, at=NOW, msg_id="msg_state_1").httpx
    async with httpx.AsyncClient(transport=httpx.ASGITransport(guard(app))) as client:
        response = await client.post(URL, content=BODY, headers=headers)
    assert response.json() == {"id": "msg_state_1", "body": BODY.decode()}


# --- rotation -----------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("secrets", "signed_with", "status"),
    [
        ([WEBHOOK_SECRET, WEBHOOK_OLD_SECRET], [WEBHOOK_KEY], 200),
        ([WEBHOOK_SECRET, WEBHOOK_OLD_SECRET], [WEBHOOK_OLD_KEY], 200),
        ([WEBHOOK_SECRET, WEBHOOK_OLD_SECRET], [OTHER_KEY], 401),
        ([WEBHOOK_SECRET], [WEBHOOK_OLD_KEY, WEBHOOK_KEY], 200),
        ([WEBHOOK_OLD_SECRET], [WEBHOOK_OLD_KEY, WEBHOOK_KEY], 200),
        ([WEBHOOK_SECRET], [WEBHOOK_OLD_KEY, OTHER_KEY], 401),
    ],
    ids=[
        "receiver-rotating-gets-new",
        "receiver-rotating-gets-old",
        "receiver-rotating-gets-other",
        "sender-rotating-to-new-receiver",
        "sender-rotating-to-old-receiver",
        "sender-with-two-unknown",
    ],
)
async def test_rotation(secrets: list[str], signed_with: list[bytes], status: int) -> None:
    """Either side may hold two secrets: any listed v1 entry matching any secret passes."""
    msg_id = "msg_rotation"
    listed = " ".join(webhook_signature(key, msg_id, NOW, BODY) for key in signed_with)
    headers = {
        **signed("standard-webhooks", BODY, at=NOW, msg_id=msg_id).httpx,
        "webhook-signature": listed,
    }
    outcome = await deliver(headers, secrets=secrets)
    assert outcome.status == status


# --- the webhook-signature list -----------------------------------------------------------

GOOD = webhook_signature(WEBHOOK_KEY, "msg_list", NOW, BODY)
WRONG = webhook_signature(OTHER_KEY, "msg_list", NOW, BODY)
ED25519 = "v1a," + base64.b64encode(bytes(range(64))).decode()
SHORT = "v1," + base64.b64encode(bytes(16)).decode()

# name, webhook-signature value, expected code (None: 200)
LISTS: list[tuple[str, str, str | None]] = [
    ("v1-alone", GOOD, None),
    ("v1a-first", f"{ED25519} {GOOD}", None),
    ("v2-first", f"v2,{GOOD[3:]} {GOOD}", None),
    ("not-base64-first", f"v1,!!not-base64!! {GOOD}", None),
    ("short-first", f"{SHORT} {GOOD}", None),
    ("no-comma-first", f"garbage {GOOD}", None),
    ("bare-v1-first", f"v1 {GOOD}", None),
    ("empty-v1-first", f"v1, {GOOD}", None),
    ("wrong-first", f"{WRONG} {GOOD}", None),
    ("junk-after", f"{GOOD} v1,??", None),
    ("extra-whitespace", f"  {ED25519}\t {GOOD}  ", None),
    ("thirty-two-entries", " ".join([WRONG] * 31 + [GOOD]), None),
    ("only-v1a", ED25519, "malformed_header"),
    ("only-not-base64", "v1,!!not-base64!!", "malformed_header"),
    ("only-good-with-a-stray-character", GOOD[:10] + "*" + GOOD[10:], "malformed_header"),
    ("only-short", SHORT, "malformed_header"),
    ("only-spaces", "   ", "malformed_header"),
    ("uppercase-version", "V1" + GOOD[2:], "malformed_header"),
    ("thirty-three-entries", " ".join([WRONG] * 32 + [GOOD]), "malformed_header"),
    ("only-wrong", WRONG, "invalid_signature"),
    ("two-wrong", f"{WRONG} {WRONG}", "invalid_signature"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("name", "listed", "code"), LISTS, ids=[case[0] for case in LISTS])
async def test_signature_list(name: str, listed: str, code: str | None) -> None:
    """Other versions and malformed entries are skipped; no usable v1 entry is malformed."""
    headers = {
        **signed("standard-webhooks", BODY, at=NOW, msg_id="msg_list").httpx,
        "webhook-signature": listed,
    }
    outcome = await deliver(headers)
    if code is None:
        assert outcome.status == 200, outcome.body
        assert outcome.app_body == BODY
    else:
        detail = "Malformed webhook-signature header." if code == "malformed_header" else None
        check_refused(outcome, code, detail)


# --- the headers --------------------------------------------------------------------------
# Missing, empty, duplicated and malformed webhook-* headers, and a changed body, id or
# timestamp: the hostile catalogue (tests/_hostile_cases.py, run by test_hostile.py).


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("skew", "code"),
    [(-300, None), (300, None), (-301, "expired"), (301, "future_timestamp")],
    ids=["oldest", "furthest-ahead", "too-old", "too-far-ahead"],
)
async def test_freshness_both_ways(skew: int, code: str | None) -> None:
    """A delivery is fresh within max_age of the receiver's clock, before and after."""
    outcome = await deliver(signed("standard-webhooks", BODY, at=NOW + skew).httpx)
    if code is None:
        assert outcome.status == 200
    else:
        check_refused(outcome, code)


@pytest.mark.anyio
async def test_replay_refused_but_a_senders_retry_passes() -> None:
    """The same delivery twice is a replay; the sender's retry of it is not.

    Replays are keyed by id *and* timestamp. A retry is the same message (same
    webhook-id) sent again later, with a new timestamp and signature: the sender
    retries because the first attempt failed (our app answered 500, or timed out), so
    refusing it would lose the message. De-duplicating messages the app did process is
    the app's job, by ``request.state.webhook_id``.
    """
    now = {"t": float(NOW)}
    outcome = Outcome()
    mw = guard(
        recording_app(outcome),
        replay_cache=MemoryReplayCache(clock=lambda: now["t"]),
        clock=lambda: now["t"],
    )
    original = signed("standard-webhooks", BODY, at=NOW, msg_id="msg_replay").raw
    retry = signed("standard-webhooks", BODY, at=NOW + 60, msg_id="msg_replay").raw
    statuses = []
    for headers, at in (
        (original, NOW),
        (original, NOW + 30),
        (retry, NOW + 60),
        (retry, NOW + 61),
    ):
        now["t"] = at
        outcome.sent.clear()
        await drive(mw, scope_for("POST", URL, headers), chunks(BODY, 64), outcome)
        statuses.append((outcome.status, outcome.json()["code"] if outcome.status != 200 else ""))
    assert statuses == [(200, ""), (401, "replayed"), (200, ""), (401, "replayed")]
    assert outcome.app_calls == 2


# --- secrets ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_raw_bytes_secret() -> None:
    """A raw ``bytes`` key is used as it is, not base64-decoded."""
    assert (
        await deliver(signed("standard-webhooks", BODY, at=NOW).httpx, secrets=WEBHOOK_KEY)
    ).status == 200
    assert (
        await deliver(
            signed("standard-webhooks", BODY, at=NOW).httpx, secrets=[WEBHOOK_OLD_KEY, WEBHOOK_KEY]
        )
    ).status == 200


KEY_TEXT = WEBHOOK_KEY.decode()  # a known secret: errors must not show it

# secrets=..., the error, a fragment of its message
BAD_SECRETS: list[tuple[str, Any, type[Exception], str]] = [
    ("no-whsec-prefix", KEY_TEXT, ValueError, "must be whsec_<base64>"),
    ("bad-base64", "whsec_" + KEY_TEXT, ValueError, "not valid base64"),
    (
        "bad-base64-in-a-list",
        [WEBHOOK_SECRET, "whsec_" + KEY_TEXT + "!"],
        ValueError,
        "not valid base64",
    ),
    (
        "not-the-base64-alphabet",  # never read leniently, as if the stray * were not there
        WEBHOOK_SECRET[:12] + "*" + WEBHOOK_SECRET[12:],
        ValueError,
        "not valid base64",
    ),
    ("empty-after-prefix", "whsec_", ValueError, "empty"),
    ("empty-str", "", ValueError, "whsec_"),
    ("empty-bytes", b"", ValueError, "empty"),
    ("empty-list", [], TypeError, "non-empty list"),
    ("an-int", 5, TypeError, "non-empty list"),
    ("an-int-in-a-list", [WEBHOOK_SECRET, 5], TypeError, "whsec_ str or raw bytes"),
]


@pytest.mark.parametrize(
    ("name", "secrets", "error", "match"), BAD_SECRETS, ids=[case[0] for case in BAD_SECRETS]
)
def test_bad_secrets_fail_at_construction_without_showing_them(
    name: str, secrets: Any, error: type[Exception], match: str
) -> None:
    """A secret that is not whsec_<base64> or raw bytes is refused, and not echoed."""
    with pytest.raises(error, match=match) as caught:
        StandardWebhookScheme(secrets=secrets)
    assert KEY_TEXT not in str(caught.value)
    assert base64.b64encode(WEBHOOK_KEY).decode() not in str(caught.value)


@pytest.mark.parametrize("secret", [KEY_TEXT, "whsec_" + KEY_TEXT, "whsec_"])
def test_signer_refuses_the_same_secrets(secret: str) -> None:
    """The sending side applies the same rule, and does not echo the secret either."""
    with pytest.raises(ValueError, match="secret_key") as caught:
        HMACSigningTransport(secret_key=secret, scheme="standard-webhooks")
    assert KEY_TEXT not in str(caught.value)


def test_a_spec_sized_secret_does_not_warn() -> None:
    """A 24-byte whsec_ secret, the size Standard Webhooks senders give out, raises no warning."""
    spec_sized = "whsec_" + base64.b64encode(b"\x07" * 24).decode()
    with warnings.catch_warnings():
        warnings.simplefilter("error", WeakSecretWarning)
        StandardWebhookScheme(secrets=spec_sized)


# --- the command line ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_cli_signs_a_delivery(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``hmac-asgi sign --scheme standard-webhooks`` prints three headers that verify."""
    monkeypatch.setenv("WEBHOOK_SECRET", WEBHOOK_SECRET)
    argv = ["sign", "--scheme", "standard-webhooks", "--secret-env", "WEBHOOK_SECRET"]
    status = main([*argv, "--data", BODY.decode(), "--timestamp", str(NOW)])
    out, err = capsys.readouterr()
    assert (status, err) == (0, "")
    headers = dict(line.split(": ", 1) for line in out.splitlines())
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert (await deliver(headers)).status == 200
    assert main([*argv, "--key-id", "k"]) == 2
    assert "does not take key_id" in capsys.readouterr().err
