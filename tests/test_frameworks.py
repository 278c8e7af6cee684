"""The middleware around real frameworks, unchanged: in-process and over real uvicorn."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from _asgi import echo_app, read_body, serve
from _signing import CLIENT_ID, SECRET, signed
from fastapi import FastAPI
from litestar import Litestar
from litestar import Request as LitestarRequest
from litestar import post as litestar_post
from litestar.middleware import DefineMiddleware
from quart import Quart
from quart import request as quart_request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hmac_asgi import HMACMiddleware


def starlette_app() -> Any:
    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse({"client_id": str(request.state.hmac_client_id), "body": body.hex()})

    app = Starlette(routes=[Route("/echo", echo, methods=["POST"])])
    app.add_middleware(HMACMiddleware, secret_key=SECRET)
    return app


def fastapi_app() -> Any:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, str]:
        body = await request.body()
        return {"client_id": str(request.state.hmac_client_id), "body": body.hex()}

    app.add_middleware(HMACMiddleware, secret_key=SECRET)
    return app


def litestar_app() -> Any:
    @litestar_post("/echo", status_code=200)
    async def echo(request: LitestarRequest[Any, Any, Any]) -> dict[str, str]:
        body = await request.body()
        return {"client_id": str(request.state.hmac_client_id), "body": body.hex()}

    return Litestar([echo], middleware=[DefineMiddleware(HMACMiddleware, secret_key=SECRET)])


def quart_app() -> Any:
    app = Quart(__name__)

    @app.post("/echo")
    async def echo() -> dict[str, str]:
        body = await quart_request.get_data(as_text=False)
        client_id = quart_request.scope["state"]["hmac_client_id"]
        return {"client_id": str(client_id), "body": body.hex()}

    app.asgi_app = HMACMiddleware(app.asgi_app, secret_key=SECRET)  # type: ignore[method-assign]
    return app


def raw_app() -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        payload = {"client_id": str(scope["state"]["hmac_client_id"]), "body": body.hex()}
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(payload).encode()})

    return HMACMiddleware(app, secret_key=SECRET)


FRAMEWORKS: dict[str, Callable[[], Any]] = {
    "starlette": starlette_app,
    "fastapi": fastapi_app,
    "litestar": litestar_app,
    "quart": quart_app,
    "raw-asgi": raw_app,
}


@asynccontextmanager
async def client_for(app: Any, how: str) -> AsyncIterator[httpx.AsyncClient]:
    if how == "in-process":
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client
    else:
        with serve(app) as url:
            async with httpx.AsyncClient(base_url=url) as client:
                yield client


@pytest.mark.anyio
@pytest.mark.parametrize("how", ["in-process", "uvicorn"])
@pytest.mark.parametrize("framework", list(FRAMEWORKS))
async def test_framework_signed_unsigned_tampered(framework: str, how: str) -> None:
    body = b'{"hello": "world", "bytes": "\xff\x00"}'
    async with client_for(FRAMEWORKS[framework](), how) as client:
        ok = await client.post("/echo", content=body, headers=signed("destiny", body).httpx)
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"client_id": str(CLIENT_ID), "body": body.hex()}

        unsigned = await client.post("/echo", content=body)
        assert unsigned.status_code == 401
        assert unsigned.headers["content-type"] == "application/json"
        assert unsigned.headers["www-authenticate"] == "Signature"
        assert unsigned.json()["detail"] == "Authorization header missing."

        tampered = await client.post(
            "/echo", content=body + b"!", headers=signed("destiny", body).httpx
        )
        assert tampered.status_code == 401
        assert tampered.json() == {"detail": "Signature is invalid.", "code": "invalid_signature"}


@pytest.mark.anyio
async def test_large_body_over_uvicorn_arrives_intact() -> None:
    body = bytes(range(256)) * 8192  # 2 MiB: many receive() messages from the server
    with serve(HMACMiddleware(echo_app, secret_key=SECRET)) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            response = await client.post("/", content=body, headers=signed("destiny", body).httpx)
    assert response.status_code == 200
    assert response.content.split(b"\n", 1)[1] == body
