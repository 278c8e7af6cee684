"""The per-route dependency form (destiny-sdk parity) and the header model."""

from __future__ import annotations

import uuid

import httpx
import pytest
from _signing import CLIENT_ID, SECRET, signed
from fastapi import Depends, FastAPI, Request
from pydantic import ValidationError

from hmac_asgi import AuthException, BypassHMACAuth, HMACAuth, HMACAuthorizationHeaders


def app_with(auth: object) -> FastAPI:
    app = FastAPI()

    @app.post("/private", dependencies=[Depends(auth)])
    async def private(request: Request) -> dict[str, str]:
        client = getattr(request.state, "hmac_client_id", None)
        return {"client_id": str(client), "body": (await request.body()).decode()}

    @app.get("/public")
    async def public() -> dict[str, bool]:
        return {"public": True}

    return app


@pytest.mark.anyio
async def test_hmac_auth_dependency() -> None:
    transport = httpx.ASGITransport(app_with(HMACAuth(SECRET)))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        ok = await client.post(
            "/private", content=b"data", headers=signed("destiny", b"data").httpx
        )
        assert ok.json() == {"client_id": str(CLIENT_ID), "body": "data"}
        unsigned = await client.post("/private", content=b"data")
        assert unsigned.status_code == 401
        assert unsigned.json() == {"detail": "Authorization header missing."}
        assert unsigned.headers["www-authenticate"] == "Signature"
        bad = await client.post(
            "/private", content=b"datA", headers=signed("destiny", b"data").httpx
        )
        assert (bad.status_code, bad.json()) == (401, {"detail": "Signature is invalid."})
        old = signed("destiny", b"data", at="1000000000.5").httpx
        expired = await client.post("/private", content=b"data", headers=old)
        assert expired.json() == {"detail": "Token is expired."}
        assert (await client.get("/public")).status_code == 200


@pytest.mark.anyio
async def test_dependencies_answer_true_and_use_the_injected_clock() -> None:
    # destiny-sdk's dependencies return True; the clock decides freshness.
    then = 1_000_000_000.5
    scope = signed("destiny", b"", at=then).scope()

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    assert await HMACAuth(SECRET, clock=lambda: then)(Request(scope, receive)) is True
    assert await BypassHMACAuth()(Request(scope)) is True


@pytest.mark.anyio
async def test_bypass_dependency_lets_everything_through() -> None:
    transport = httpx.ASGITransport(app_with(BypassHMACAuth()))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/private", content=b"x")
    assert response.status_code == 200


def test_model_validates_the_same_strict_forms() -> None:
    sig = "a" * 64
    model = HMACAuthorizationHeaders(signature=sig, client_id=str(CLIENT_ID), timestamp="1.5")
    assert (model.signature, model.client_id, model.timestamp) == (sig, CLIENT_ID, 1.5)
    assert (
        HMACAuthorizationHeaders(signature=sig, client_id=CLIENT_ID, timestamp=2).timestamp == 2.0
    )
    for bad in (
        {"signature": "A" * 64},
        {"client_id": str(CLIENT_ID).upper()},
        {"client_id": uuid.uuid1()},
        {"timestamp": "nan"},
        {"timestamp": float("inf")},
        {"timestamp": -1.0},
        {"timestamp": True},
        {"timestamp": [1]},
    ):
        fields = {"signature": sig, "client_id": CLIENT_ID, "timestamp": 1.5, **bad}
        with pytest.raises(ValidationError):
            HMACAuthorizationHeaders(**fields)  # type: ignore[arg-type]


def test_from_scope_raises_auth_exception_with_destiny_messages() -> None:
    with pytest.raises(AuthException) as info:
        HMACAuthorizationHeaders.from_scope({"type": "http", "headers": []})
    assert (info.value.status_code, info.value.detail) == (401, "Authorization header missing.")
    assert info.value.headers == {"WWW-Authenticate": "Signature"}
    assert info.value.code == "missing_authorization"


def test_fast_parse_builds_the_same_model_and_uuid_as_pydantic_would() -> None:
    sig = "0123456789abcdef" * 4
    scope = {
        "headers": [
            (b"authorization", f"Signature {sig}".encode()),
            (b"x-client-id", b"019b649b-3b8c-7b54-a5b2-95043994a20e"),
            (b"x-request-timestamp", b"1876668727"),
            (b"content-length", b"12"),
        ]
    }
    fast = HMACAuthorizationHeaders.from_scope(scope)
    slow = HMACAuthorizationHeaders.model_construct(
        signature=sig,
        client_id=uuid.UUID("019b649b-3b8c-7b54-a5b2-95043994a20e"),
        timestamp=1876668727.0,
    )
    assert fast == slow and fast.model_dump() == slow.model_dump()
    assert fast.model_fields_set == slow.model_fields_set
    assert fast.client_id == slow.client_id and hash(fast.client_id) == hash(slow.client_id)
    assert fast.client_id.version == 7 and str(fast.client_id) == str(slow.client_id)
    assert fast.model_copy(update={"timestamp": 2.0}).timestamp == 2.0
    with pytest.raises(ValidationError):
        fast.signature = "x"  # type: ignore[misc]  # frozen, like a validated model
