"""The wire format, against 60 signatures computed by destiny-sdk 0.17.6 itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import types
import uuid
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
from _helpers import read_body

import hmac_asgi._signing as signing_module
from hmac_asgi import HMACMiddleware, WeakSecretWarning, create_signature
from hmac_asgi._signing import new_mac, signed_suffix, timestamp_text

VECTORS = json.loads((Path(__file__).parent / "data" / "destiny-signatures.json").read_text())
CASES = VECTORS["cases"]


def test_the_vector_file_is_the_full_set() -> None:
    assert VECTORS["generator"].startswith("destiny-sdk 0.17.6")
    assert len(CASES) == 60
    assert len({case["name"] for case in CASES}) == 60


class _ForeignInner:
    """An hmac.HMAC whose private ``_hmac`` is something else (a future CPython's)."""

    def __init__(self, key: bytes, digestmod: Any) -> None:
        self._real = hmac.new(key, digestmod=digestmod)
        self._hmac = object()

    def copy(self) -> Any:
        return self._real.copy()

    def update(self, data: bytes) -> None:
        self._real.update(data)

    def hexdigest(self) -> str:
        return self._real.hexdigest()


@pytest.fixture(params=["openssl-object", "hmac.HMAC", "foreign-_hmac"])
def mac_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every path new_mac can take: OpenSSL's object inside hmac.HMAC, or hmac.HMAC
    itself, when there is no such object or when ``_hmac`` is not one.

    A digestmod that is not OpenSSL's own constructor sends ``hmac.new`` down its
    pure-Python path, which has no OpenSSL object: what a Python without one gets.
    """
    if request.param == "hmac.HMAC":
        monkeypatch.setattr(signing_module, "_SHA256", lambda data=b"": hashlib.sha256(data))
    if request.param == "foreign-_hmac":
        monkeypatch.setattr(signing_module, "hmac", types.SimpleNamespace(new=_ForeignInner))
    mac = new_mac("k" * 32)
    kind = {hmac.HMAC: "hmac.HMAC", _ForeignInner: "foreign-_hmac"}.get(type(mac), "openssl-object")
    assert kind == request.param
    return kind


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_create_signature_matches_destiny(case: dict[str, str], mac_kind: str) -> None:
    body = base64.b64decode(case["body_base64"])
    assert (
        create_signature(
            case["secret_key"], body, uuid.UUID(case["client_id"]), case["timestamp_header"]
        )
        == case["signature"]
    )
    # The same from a float timestamp and text client id (what a signer holds).
    assert (
        create_signature(
            case["secret_key"], body, case["client_id"], float(case["timestamp_header"])
        )
        == case["signature"]
    )


async def _body_app(scope: Any, receive: Any, send: Any) -> None:
    body = await read_body(receive)
    client = str(scope["state"]["hmac_client_id"]).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": client + b"|" + body})


@pytest.mark.anyio
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
async def test_middleware_verifies_destiny_signature(case: dict[str, str], mac_kind: str) -> None:
    body = base64.b64decode(case["body_base64"])
    ts = case["timestamp_header"]
    headers = {
        "Authorization": f"Signature {case['signature']}",
        "X-Client-Id": case["client_id"],
        "X-Request-Timestamp": ts,
    }
    with warnings.catch_warnings():
        # Some vector secrets are shorter than the 32 bytes we recommend.
        warnings.simplefilter("ignore", WeakSecretWarning)
        # The vectors were signed long ago or far ahead: put the clock there.
        app = HMACMiddleware(_body_app, secret_key=case["secret_key"], clock=lambda: float(ts) + 1)
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        ok = await client.post("/", content=body, headers=headers)
        assert ok.status_code == 200
        assert ok.content == case["client_id"].encode() + b"|" + body
        tampered = await client.post("/", content=body + b"x", headers=headers)
        assert tampered.status_code == 401
        assert tampered.json()["detail"] == "Signature is invalid."


@pytest.mark.parametrize(
    ("header", "signed"),
    [
        ("1876668727", "1876668727.0"),
        ("1817054284.396588802", "1817054284.3965888"),
        ("1980720283.204", "1980720283.204"),
        ("0001.50", "1.5"),
    ],
)
def test_timestamp_text_is_repr_of_float(header: str, signed: str) -> None:
    assert timestamp_text(header) == signed


def test_suffix_uses_raw_uuid_bytes() -> None:
    cid = uuid.UUID("6234ddc9-6b49-4e45-9c0f-e91d2c381222")
    assert signed_suffix(cid, "1.5") == b":" + cid.bytes + b":1.5"
    assert signed_suffix(str(cid), 1.5) == signed_suffix(cid, "1.5")
