"""explain_failures: a refusal says what the server signed, and tells client bugs apart.

Each test signs with a client that has one bug (the wrong body, a timestamp sent
differently from the one signed, the wrong path, the wrong secret) and checks that
the server's explanation, diffed against ``hmac-asgi sign --explain`` for the request
the client meant to send, names that bug and no other — and never holds the secret
or the MAC the server expected.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

import httpx
import pytest
from _asgi import echo_app
from _secrets import secret
from _signing import CLIENT_ID, SECRET

from hmac_asgi import (
    DestinyScheme,
    HMACMiddleware,
    HMACSigningTransport,
    MessageSignatureScheme,
    StandardWebhookScheme,
    create_signature,
)
from hmac_asgi._cli import main

NOW = 1_800_000_000.0
KEY_ID = "orders-key-1"
WHSEC = "whsec_" + base64.b64encode(SECRET.encode()).decode()
WRONG = secret("a client with the wrong secret")
BODY = b'{"sku": "A-1", "qty": 2}'


def server(explain: bool = True) -> HMACMiddleware:
    schemes = [
        DestinyScheme(secret_key=SECRET),
        MessageSignatureScheme(keys={KEY_ID: SECRET}),
        StandardWebhookScheme(secrets=[WHSEC]),
    ]
    return HMACMiddleware(echo_app, schemes=schemes, explain_failures=explain, clock=lambda: NOW)


async def send(
    headers: dict[str, str], body: bytes = BODY, path: str = "/orders"
) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(server()), base_url="http://orders.test"
    ) as client:
        return await client.post(path, content=body, headers=headers)


def cli_explain(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str
) -> dict[str, Any]:
    monkeypatch.setenv("EXPLAIN_SECRET", SECRET)
    assert main(["sign", "--secret-env", "EXPLAIN_SECRET", "--explain", *argv]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def differs(server_says: dict[str, Any], client_says: dict[str, Any]) -> set[str]:
    return {
        key
        for key in server_says.keys() | client_says.keys()
        if server_says.get(key) != client_says.get(key)
    }


def destiny_headers(secret: str, body: bytes, sent: str, signed: str) -> dict[str, str]:
    return {
        "Authorization": f"Signature {create_signature(secret, body, CLIENT_ID, signed)}",
        "X-Client-Id": str(CLIENT_ID),
        "X-Request-Timestamp": sent,
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("bug", "secret", "signed_body", "signed_stamp", "names"),
    [
        (
            "wrong body",
            SECRET,
            b'{"sku": "A-1", "qty": 20}',
            str(NOW),
            {"body_length", "body_sha256"},
        ),
        ("wrong time", SECRET, BODY, str(NOW + 1), {"signed_timestamp"}),
        ("wrong secret", WRONG, BODY, str(NOW), set()),
    ],
)
async def test_destiny_bugs_are_told_apart(
    bug: str,
    secret: str,
    signed_body: bytes,
    signed_stamp: str,
    names: set[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Diffing the two explanations names the bug (no difference at all: the secret)."""
    response = await send(destiny_headers(secret, signed_body, str(NOW), signed_stamp))
    assert response.status_code == 401
    refusal = response.json()
    assert (refusal["detail"], refusal["code"]) == ("Signature is invalid.", "invalid_signature")
    client_says = cli_explain(
        capsys,
        monkeypatch,
        "--client-id",
        str(CLIENT_ID),
        "--timestamp",
        signed_stamp,
        "--data",
        signed_body.decode(),
    )
    assert differs(refusal["explain"], client_says) == names, bug
    assert refusal["explain"]["body_length"] == len(BODY)
    assert refusal["explain"]["body_sha256"] == hashlib.sha256(BODY).hexdigest()
    assert refusal["explain"]["client_id_bytes"] == CLIENT_ID.bytes.hex()
    assert_nothing_secret(response.text)


@pytest.mark.anyio
async def test_rfc9421_wrong_path_is_named_by_its_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that signed /orders but sent /orders/1: the bases differ on the @path line."""
    signing = HMACSigningTransport(
        secret_key=SECRET,
        key_id=KEY_ID,
        scheme="rfc9421",
        clock=lambda: NOW,
        transport=httpx.MockTransport(lambda request: httpx.Response(204)),
    )
    with httpx.Client(transport=signing) as client:
        meant = client.post("http://orders.test/orders", content=BODY).request
    headers = {k: v for k, v in meant.headers.items() if k.lower() != "content-length"}
    response = await send(headers, path="/orders/1")
    refusal = response.json()
    assert refusal["code"] == "invalid_signature"
    client_says = cli_explain(
        capsys,
        monkeypatch,
        "--scheme",
        "rfc9421",
        "--key-id",
        KEY_ID,
        "--url",
        "http://orders.test/orders",
        "--timestamp",
        str(NOW),
        "--data",
        BODY.decode(),
    )
    ours, theirs = (x["signature_base"].splitlines() for x in (refusal["explain"], client_says))
    assert [(a, b) for a, b in zip(ours, theirs, strict=True) if a != b] == [
        ('"@path": /orders/1', '"@path": /orders')
    ]
    assert_nothing_secret(response.text)


@pytest.mark.anyio
async def test_webhook_explains_its_signed_prefix() -> None:
    """Standard Webhooks: the id.timestamp. prefix the server signed, and the body's hash."""
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(NOW))}
    mac = hmac.new(SECRET.encode(), b"msg_1.1800000000." + BODY + b"x", hashlib.sha256).digest()
    headers["webhook-signature"] = "v1," + base64.b64encode(mac).decode()
    refusal = (await send(headers)).json()
    assert refusal["code"] == "invalid_signature"
    assert refusal["explain"] == {
        "body_length": len(BODY),
        "body_sha256": hashlib.sha256(BODY).hexdigest(),
        "signed_prefix": "msg_1.1800000000.",
    }


def test_cli_explains_a_webhook_with_its_signed_prefix(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``hmac-asgi sign --scheme standard-webhooks --explain``: the prefix it signed."""
    monkeypatch.setenv("EXPLAIN_WHSEC", WHSEC)
    argv = ["sign", "--secret-env", "EXPLAIN_WHSEC", "--scheme", "standard-webhooks"]
    assert main([*argv, "--timestamp", str(int(NOW)), "--data", BODY.decode(), "--explain"]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert re.fullmatch(r"msg_[\w-]{24}\.1800000000\.", explained.pop("signed_prefix"))
    assert explained == {"body_length": len(BODY), "body_sha256": hashlib.sha256(BODY).hexdigest()}


@pytest.mark.anyio
async def test_off_by_default_and_only_for_signature_refusals() -> None:
    """Without the option no explanation; with it, none for a missing header or a stale time."""
    plain = HMACMiddleware(echo_app, secret_key=SECRET, clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(plain), base_url="http://t") as c:
        refused = await c.post(
            "/", content=BODY, headers=destiny_headers(WRONG, BODY, str(NOW), str(NOW))
        )
    assert refused.status_code == 401 and "explain" not in refused.json()
    stale = destiny_headers(SECRET, BODY, str(NOW - 1000), str(NOW - 1000))
    for headers in ({}, stale):
        answer = (await send(headers)).json()
        assert "explain" not in answer, answer


def assert_nothing_secret(text: str) -> None:
    """The answer holds neither secret, in any usual encoding, nor any MAC over the body."""
    for key in (SECRET, WRONG):
        raw = key.encode()
        for form in (key, raw.hex(), base64.b64encode(raw).decode().rstrip("=")):
            assert form not in text
    for key in (SECRET, WRONG):
        for stamp in (str(NOW), str(NOW + 1)):
            for message in (BODY, b'{"sku": "A-1", "qty": 20}'):
                expected = create_signature(key, message, CLIENT_ID, stamp)
                assert expected not in text and bytes.fromhex(expected).hex() not in text
                tag = hmac.new(key.encode(), message, hashlib.sha256).digest()
                assert base64.b64encode(tag).decode() not in text
