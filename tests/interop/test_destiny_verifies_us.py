"""Our client half against destiny-sdk's own verifier (``destiny_sdk.auth.HMACAuth``)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import destiny_sdk.auth
import httpx
import pytest
from _asgi import serve
from _signing import SECRET
from destiny_sdk.client import HMACSigningAuth as DestinySigningAuth
from fastapi import Depends, FastAPI, Request

from hmac_asgi import HMACSigningAuth, HMACSigningTransport, create_signature

CLIENT_IDS = {
    "uuid4": uuid.UUID("6234ddc9-6b49-4e45-9c0f-e91d2c381222"),
    "uuid7": uuid.UUID("019b649b-3b8c-7b54-a5b2-95043994a20e"),
}
BODIES = {
    "empty": b"",
    "json": json.dumps({"robot_id": "r1", "results": [1.5, None, "é"]}).encode(),
    "binary": bytes(range(256)) * 64,
}
KINDS = ["auth", "transport"]


def destiny_app() -> FastAPI:
    """A FastAPI app guarded by destiny-sdk's ``HMACAuth`` dependency, echoing the body."""
    app = FastAPI(dependencies=[Depends(destiny_sdk.auth.HMACAuth(secret_key=SECRET))])

    @app.api_route("/robot/{name}", methods=["GET", "POST", "PUT"])
    async def robot(request: Request, name: str) -> dict[str, object]:
        body = await request.body()
        return {"name": name, "body": body.hex(), "query": str(request.query_params)}

    return app


def client_kwargs(kind: str, client_id: uuid.UUID, inner: httpx.AsyncBaseTransport | None) -> dict:
    if kind == "auth":
        kwargs: dict[str, object] = {"auth": HMACSigningAuth(SECRET, client_id)}
        if inner is not None:
            kwargs["transport"] = inner
        return kwargs
    signing = HMACSigningTransport(secret_key=SECRET, client_id=client_id, transport=inner)
    return {"transport": signing}


def check(response: httpx.Response, body: bytes) -> None:
    assert response.status_code == 200, response.text
    assert response.json() == {"name": "r1", "body": body.hex(), "query": "x=1"}


@pytest.fixture(scope="module")
def destiny_url() -> Iterator[str]:
    with serve(destiny_app(), lifespan="off") as url:
        yield url


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("client_id", CLIENT_IDS.values(), ids=CLIENT_IDS.keys())
def test_destiny_verifies_us_sync_over_uvicorn(
    destiny_url: str, kind: str, client_id: uuid.UUID
) -> None:
    with httpx.Client(base_url=destiny_url, **client_kwargs(kind, client_id, None)) as client:
        for body in BODIES.values():
            check(client.post("/robot/r1?x=1", content=body), body)
        check(client.get("/robot/r1", params={"x": 1}), b"")
        streamed = [BODIES["json"], BODIES["binary"]]
        check(client.put("/robot/r1?x=1", content=iter(streamed)), b"".join(streamed))


@pytest.mark.anyio
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
async def test_destiny_verifies_us_async(kind: str, body: bytes) -> None:
    inner = httpx.ASGITransport(destiny_app())
    kwargs = client_kwargs(kind, CLIENT_IDS["uuid4"], inner)
    async with httpx.AsyncClient(base_url="http://destiny", **kwargs) as client:
        check(await client.post("/robot/r1?x=1", content=body), body)


@pytest.mark.anyio
async def test_destiny_refuses_a_tampered_body() -> None:
    request = httpx.Request("POST", "http://destiny/robot/r1?x=1", content=b'{"score": 1}')
    next(HMACSigningAuth(SECRET, CLIENT_IDS["uuid4"]).auth_flow(request))
    names = ("Authorization", "X-Client-Id", "X-Request-Timestamp")
    headers = {name: request.headers[name] for name in names}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(destiny_app())) as client:
        genuine = await client.post(str(request.url), content=b'{"score": 1}', headers=headers)
        tampered = await client.post(str(request.url), content=b'{"score": 9}', headers=headers)
    check(genuine, b'{"score": 1}')  # the same headers pass with the body they signed
    assert tampered.status_code == 401
    assert tampered.json() == {"detail": "Signature is invalid."}


@pytest.mark.parametrize("client_id", CLIENT_IDS.values(), ids=CLIENT_IDS.keys())
@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_destiny_client_signature_equals_ours(client_id: uuid.UUID, body: bytes) -> None:
    request = httpx.Request("POST", "http://x/", content=body)
    next(DestinySigningAuth(secret_key=SECRET, client_id=client_id).auth_flow(request))
    timestamp = request.headers["X-Request-Timestamp"]
    assert request.headers["X-Client-Id"] == str(client_id)
    ours = create_signature(SECRET, body, client_id, timestamp)
    assert request.headers["Authorization"] == f"Signature {ours}"
    # ...and our signer, at destiny's timestamp, sends exactly destiny's headers.
    times = iter([float(timestamp)])
    mine = httpx.Request("POST", "http://x/", content=body)
    next(HMACSigningAuth(SECRET, client_id, clock=lambda: next(times)).auth_flow(mine))
    for name in ("Authorization", "X-Client-Id", "X-Request-Timestamp"):
        assert mine.headers[name] == request.headers[name]


@pytest.mark.parametrize("timestamp", [time.time(), 1730098938.401943, 1876668727.0, 1e9 + 0.1])
def test_destiny_create_signature_equals_ours(timestamp: float) -> None:
    for client_id in CLIENT_IDS.values():
        for body in BODIES.values():
            theirs = destiny_sdk.auth.create_signature(SECRET, body, client_id, timestamp)
            assert create_signature(SECRET, body, client_id, timestamp) == theirs
            assert create_signature(SECRET, body, str(client_id), f"{timestamp}") == theirs
