"""The configurations compared: the same tiny endpoint behind each verifier.

Every endpoint reads the whole body and answers its length as text, so a check
can tell the app saw every byte. Each factory builds a fresh app (uvicorn can
serve them with ``--factory``).
"""

from __future__ import annotations

import contextlib
import hmac
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass

# destiny-sdk imports authlib's httpx integration, which warns on import (and
# forces its own warnings to "always"): silence that one warning, nothing else.
with contextlib.suppress(ImportError):
    from authlib.deprecate import AuthlibDeprecationWarning

    warnings.filterwarnings("ignore", "The httpx module is deprecated", AuthlibDeprecationWarning)

from _asgi import SECRET
from _floor import BufferAndHash, FloorSketch
from destiny_sdk.auth import HMACAuth
from destiny_sdk.auth import create_signature as destiny_create_signature
from fastapi import Depends, FastAPI
from fastapi import Request as FastAPIRequest
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from hmac_asgi import HMACMiddleware

__all__ = ["CONFIGS", "REFERENCE", "TIMED", "Config"]

MAX_BODY = 128 * 1024 * 1024  # the 100 MiB memory case must pass the size limit


async def _echo(request: Request) -> Response:
    body = await request.body()
    return PlainTextResponse(str(len(body)))


async def _stream_echo(request: Request) -> Response:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return PlainTextResponse(str(size))


def bare_starlette() -> Starlette:
    return Starlette(routes=[Route("/echo", _echo, methods=["POST"])])


def streaming_starlette() -> Starlette:
    """An app that never holds the body: where buffering for verification shows."""
    return Starlette(routes=[Route("/echo", _stream_echo, methods=["POST"])])


def streaming_starlette_ours() -> Starlette:
    app = streaming_starlette()
    app.add_middleware(HMACMiddleware, secret_key=SECRET, max_body_size=MAX_BODY)
    return app


def starlette_ours() -> Starlette:
    app = bare_starlette()
    app.add_middleware(HMACMiddleware, secret_key=SECRET, max_body_size=MAX_BODY)
    return app


class NaiveHMACMiddleware(BaseHTTPMiddleware):
    """What people write first: BaseHTTPMiddleware + ``await request.body()``."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        try:
            scheme, _, signature = request.headers["authorization"].partition(" ")
            client_id = uuid.UUID(request.headers["x-client-id"])
            timestamp = float(request.headers["x-request-timestamp"])
        except (KeyError, ValueError):
            return JSONResponse({"detail": "Unauthorized."}, status_code=401)
        body = await request.body()
        expected = destiny_create_signature(SECRET, body, client_id, timestamp)
        fresh = abs(time.time() - timestamp) <= 300
        if scheme != "Signature" or not fresh or not hmac.compare_digest(signature, expected):
            return JSONResponse({"detail": "Signature is invalid."}, status_code=401)
        return await call_next(request)


def starlette_basehttp() -> Starlette:
    app = bare_starlette()
    app.add_middleware(NaiveHMACMiddleware)
    return app


def starlette_structure() -> Starlette:
    """Reference, not a verifier: buffer, hash and replay the body, look at no header."""
    app = bare_starlette()
    app.add_middleware(BufferAndHash, secret_key=SECRET)
    return app


def starlette_floor() -> Starlette:
    """Reference: ``_floor.py``'s sketch of the fewest steps that make our checks."""
    app = bare_starlette()
    app.add_middleware(FloorSketch, secret_key=SECRET)
    return app


def _fastapi(dependencies: list[object] | None = None) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/echo", dependencies=dependencies or [])
    async def echo(request: FastAPIRequest) -> Response:
        body = await request.body()
        return PlainTextResponse(str(len(body)))

    return app


def bare_fastapi() -> FastAPI:
    return _fastapi()


def fastapi_ours() -> FastAPI:
    app = _fastapi()
    app.add_middleware(HMACMiddleware, secret_key=SECRET, max_body_size=MAX_BODY)
    return app


def fastapi_destiny() -> FastAPI:
    return _fastapi([Depends(HMACAuth(secret_key=SECRET))])


def fastapi_floor() -> FastAPI:
    app = _fastapi()
    app.add_middleware(FloorSketch, secret_key=SECRET)
    return app


@dataclass(frozen=True)
class Config:
    name: str
    label: str
    factory: Callable[[], ASGIApp]
    bare: str  # the configuration this one is compared against
    signed: bool  # requests must be signed, and unsigned ones refused


CONFIGS = {
    c.name: c
    for c in (
        Config("bare_starlette", "Starlette (bare)", bare_starlette, "bare_starlette", False),
        Config(
            "starlette_ours", "Starlette + HMACMiddleware", starlette_ours, "bare_starlette", True
        ),
        Config(
            "starlette_basehttp",
            "Starlette + naive BaseHTTPMiddleware",
            starlette_basehttp,
            "bare_starlette",
            True,
        ),
        Config("bare_fastapi", "FastAPI (bare)", bare_fastapi, "bare_fastapi", False),
        Config("fastapi_ours", "FastAPI + HMACMiddleware", fastapi_ours, "bare_fastapi", True),
        Config(
            "fastapi_destiny",
            "FastAPI + destiny-sdk HMACAuth",
            fastapi_destiny,
            "bare_fastapi",
            True,
        ),
        Config(
            "starlette_structure",
            "Starlette + buffer and HMAC only (reference)",
            starlette_structure,
            "bare_starlette",
            False,
        ),
        Config(
            "starlette_floor",
            "Starlette + floor sketch (reference)",
            starlette_floor,
            "bare_starlette",
            True,
        ),
        Config(
            "fastapi_floor",
            "FastAPI + floor sketch (reference)",
            fastapi_floor,
            "bare_fastapi",
            True,
        ),
        Config(
            "streaming_starlette",
            "Starlette, streaming endpoint",
            streaming_starlette,
            "streaming_starlette",
            False,
        ),
        Config(
            "streaming_starlette_ours",
            "Starlette, streaming endpoint + HMACMiddleware",
            streaming_starlette_ours,
            "streaming_starlette",
            True,
        ),
    )
}
# Not products: what no pure-Python verifier can go below (see _floor.py). Timed
# beside the rest so that every target can be read against them in the same run.
REFERENCE = ("starlette_structure", "starlette_floor", "fastapi_floor")
# What the in-process timings compare (the streaming pair is for memory only).
TIMED = (
    "bare_starlette",
    "starlette_ours",
    "starlette_basehttp",
    "bare_fastapi",
    "fastapi_ours",
    "fastapi_destiny",
    *REFERENCE,
)
