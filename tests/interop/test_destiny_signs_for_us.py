"""destiny-sdk's own client (HMACSigningAuth) against our middleware."""

from __future__ import annotations

import uuid

import httpx
import pytest
from _asgi import echo_app, serve
from _secrets import secret
from _signing import SECRET
from destiny_sdk.client import HMACSigningAuth as DestinySigningAuth

from hmac_asgi import HMACMiddleware

CLIENT_IDS = [
    uuid.UUID("6234ddc9-6b49-4e45-9c0f-e91d2c381222"),
    uuid.UUID("019b649b-3b8c-7b54-a5b2-95043994a20e"),
]  # v4 and v7
BODIES = [b"", b'{"robot": "result"}', bytes(range(256)) * 300]


@pytest.mark.parametrize("client_id", CLIENT_IDS, ids=["uuid4", "uuid7"])
def test_destiny_client_passes_our_middleware_over_uvicorn(client_id: uuid.UUID) -> None:
    auth = DestinySigningAuth(secret_key=SECRET, client_id=client_id)
    with (
        serve(HMACMiddleware(echo_app, secret_key=SECRET)) as url,
        httpx.Client(base_url=url, auth=auth) as client,
    ):
        for body in BODIES:
            response = client.post("/robot/result?x=1", content=body)
            assert response.status_code == 200, response.text
            head, echoed = response.content.split(b"\n", 1)
            assert echoed == body
            assert str(client_id).encode() in head
        assert client.get("/robot/result").status_code == 200
        # The same client with the wrong secret is refused with destiny's message.
        wrong = DestinySigningAuth(
            secret_key=secret("a secret the server does not know"), client_id=client_id
        )
        refused = client.post("/robot/result", content=b"x", auth=wrong)
        assert refused.status_code == 401
        assert refused.json()["detail"] == "Signature is invalid."


@pytest.mark.anyio
async def test_destiny_client_passes_our_middleware_in_process() -> None:
    auth = DestinySigningAuth(secret_key=SECRET, client_id=CLIENT_IDS[1])
    transport = httpx.ASGITransport(HMACMiddleware(echo_app, secret_key=SECRET))
    async with httpx.AsyncClient(transport=transport, base_url="http://t", auth=auth) as client:
        for body in BODIES:
            response = await client.put("/x", content=body)
            assert response.status_code == 200
            assert response.content.split(b"\n", 1)[1] == body
