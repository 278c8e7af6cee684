"""The per-route dependency form (destiny-sdk parity) and the header model."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from _asgi import chunks
from _signing import CLIENT_ID, NOW, SECRET, signed
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


def reading(body: bytes, size: int = 10) -> Any:
    """A ``receive`` handing out ``body`` in ``size``-byte messages."""
    messages = iter(chunks(body, size))

    async def receive() -> Any:
        return next(messages)

    return receive


@pytest.mark.anyio
@pytest.mark.parametrize("version", ["1.1", None], ids=["http-1.1", "no-http_version"])
async def test_the_route_can_still_read_the_body_and_its_own_user(version: str | None) -> None:
    # A bodiless HTTP/1.1 request (as ASGI reads a scope without "http_version"): read
    # through request.body(), which keeps it for the route; and scope["user"] is left to
    # the app's own authentication.
    scope = signed("destiny", b"", at=NOW).scope()
    assert scope.pop("http_version") == "1.1"
    if version is not None:
        scope["http_version"] = version
    request = Request(scope, reading(b""))
    assert await HMACAuth(SECRET, clock=lambda: NOW)(request) is True
    assert await request.body() == b""
    assert "user" not in scope and "auth" not in scope


@pytest.mark.anyio
async def test_an_http2_body_without_a_length_up_to_the_limit_is_handed_on() -> None:
    body = b"0123456789" * 3
    request = Request(signed("destiny", body, at=NOW).scope(http_version="2"), reading(body))
    assert await HMACAuth(SECRET, max_body_size=30, clock=lambda: NOW)(request) is True
    assert request.state.hmac_body == body


@pytest.mark.anyio
async def test_defaults_and_no_body_timeout() -> None:
    def request(at: float) -> Request:
        return Request(signed("destiny", b"ab", at=repr(at)).scope(), reading(b"ab"))

    auth = HMACAuth(SECRET, clock=lambda: NOW)  # max_age=300.0 by default
    assert await auth(request(NOW - 299.5)) is True
    with pytest.raises(AuthException) as stale:
        await auth(request(NOW - 300.5))
    assert stale.value.code == "expired"
    assert await HMACAuth(SECRET, body_timeout=None, clock=lambda: NOW)(request(NOW)) is True


@pytest.mark.anyio
async def test_the_408_and_413_name_their_limits() -> None:
    scope = signed("destiny", b"x" * 17, at=NOW).scope()
    scope["headers"].append((b"content-length", b"17"))
    with pytest.raises(AuthException) as too_large:
        await HMACAuth(SECRET, max_body_size=16, clock=lambda: NOW)(Request(scope, reading(b"")))
    assert too_large.value.detail == "Request body exceeds the limit of 16 bytes."

    async def stalled() -> Any:
        await asyncio.sleep(3600)

    slow = HMACAuth(SECRET, body_timeout=0.2, clock=lambda: NOW)
    with pytest.raises(AuthException) as timed_out:
        await slow(Request(signed("destiny", b"x", at=NOW).scope(), stalled))
    assert timed_out.value.detail == "Request body not received within 0.2 seconds."


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_body_size": 1.5}, TypeError),
        ({"max_body_size": -1}, ValueError),
        ({"body_timeout": 0}, ValueError),
        ({"max_age": float("nan")}, ValueError),
    ],
    ids=["size-a-float", "size-negative", "timeout-zero", "max-age-nan"],
)
def test_bad_arguments_fail_at_construction(kwargs: dict[str, Any], error: type) -> None:
    with pytest.raises(error, match=next(iter(kwargs))):
        HMACAuth(SECRET, **kwargs)


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


def test_from_request_reads_the_request_scope() -> None:
    scope = signed("destiny", b"", at=NOW).scope()
    parsed = HMACAuthorizationHeaders.from_request(Request(scope))
    assert parsed == HMACAuthorizationHeaders.from_scope(scope)
    assert (parsed.client_id, parsed.timestamp) == (CLIENT_ID, NOW)


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
