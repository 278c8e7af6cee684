"""The wire format, against 60 signatures computed by destiny-sdk 0.17.6 itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
import warnings
from pathlib import Path

import httpx
import pytest
from _asgi import who, who_app
from hypothesis import given, settings
from hypothesis import strategies as st

from hmac_asgi import HMACMiddleware, WeakSecretWarning, create_signature
from hmac_asgi._mac import MacKey
from hmac_asgi.schemes.destiny import signed_suffix

VECTORS = json.loads((Path(__file__).parent / "data" / "destiny-signatures.json").read_text())
CASES = VECTORS["cases"]


def test_the_vector_file_is_the_full_set() -> None:
    assert VECTORS["generator"].startswith("destiny-sdk 0.17.6")
    assert len(CASES) == 60
    assert len({case["name"] for case in CASES}) == 60


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_mac_key_is_hmac_sha256(case: dict[str, str]) -> None:
    """The hand-keyed MAC is ``hmac``'s, whole and fed in pieces, on every vector's input."""
    key = case["secret_key"].encode()
    message = base64.b64decode(case["body_base64"]) + b":" + bytes(range(16))
    want = hmac.new(key, message, hashlib.sha256).digest()
    assert MacKey(key).mac(message) == want
    running = MacKey(key).start()
    for i in range(0, len(message), 7):
        running.update(message[i : i + 7])
    assert MacKey(key).finish(running) == want


@settings(max_examples=300)
@given(key=st.binary(max_size=200), message=st.binary(max_size=300))
def test_mac_key_is_hmac_sha256_for_any_key(key: bytes, message: bytes) -> None:
    """Keys shorter than, equal to and longer than SHA-256's 64-byte block."""
    assert MacKey(key).mac(message) == hmac.new(key, message, hashlib.sha256).digest()


@pytest.mark.parametrize("length", [0, 1, 63, 64, 65, 128, 1000])
def test_mac_key_block_boundaries(length: int) -> None:
    key = bytes(range(256))[:length] if length <= 256 else b"k" * length
    assert MacKey(key).mac(b"m") == hmac.new(key, b"m", hashlib.sha256).digest()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_create_signature_matches_destiny(case: dict[str, str]) -> None:
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


@pytest.mark.anyio
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
async def test_middleware_verifies_destiny_signature(case: dict[str, str]) -> None:
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
        app = HMACMiddleware(who_app, secret_key=case["secret_key"], clock=lambda: float(ts) + 1)
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        ok = await client.post("/", content=body, headers=headers)
        assert who(ok)["client_id"] == case["client_id"]
        assert ok.content.partition(b"\n")[2] == body
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
def test_signed_timestamp_is_repr_of_float(header: str, signed: str) -> None:
    cid = uuid.UUID("6234ddc9-6b49-4e45-9c0f-e91d2c381222")
    assert signed_suffix(cid, header) == b":" + cid.bytes + b":" + signed.encode()


def test_suffix_uses_raw_uuid_bytes() -> None:
    cid = uuid.UUID("6234ddc9-6b49-4e45-9c0f-e91d2c381222")
    assert signed_suffix(cid, "1.5") == b":" + cid.bytes + b":1.5"
    assert signed_suffix(cid, 1.5) == signed_suffix(cid, "1.5")
