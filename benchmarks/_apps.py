"""The configurations compared, and the signed requests they get.

Every endpoint reads the whole body and answers its length, so a check can tell
the app saw every byte. Requests are signed with the package's
``create_signature``; destiny-sdk's own ``HMACAuth`` accepts them in every run,
so the harness does not take the package's word for its own signatures.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import time
import uuid
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

# destiny-sdk imports authlib's httpx integration, which warns on import (and
# forces its own warnings to "always"): silence that one warning, nothing else.
with contextlib.suppress(ImportError):
    from authlib.deprecate import AuthlibDeprecationWarning

    warnings.filterwarnings("ignore", "The httpx module is deprecated", AuthlibDeprecationWarning)

from _floor import BufferAndHash, FloorSketch
from destiny_sdk.auth import HMACAuth
from destiny_sdk.auth import create_signature as destiny_create_signature
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from hmac_asgi import HMACMiddleware, create_signature

SECRET = "benchmark-secret-0123456789abcdef-0123456789abcdef"  # >= 32 bytes: no warning
CLIENT_ID = uuid.UUID("6f1c8a52-4b0e-4d3a-9c57-2b8e7f0d1a94")
OURS = {"secret_key": SECRET, "max_body_size": 128 << 20}  # the memory case has 100 MiB
KEY = {"secret_key": SECRET}
Factory = Callable[[], ASGIApp]


def make_body(size: int) -> bytes:
    """``size`` bytes of ASCII (HMAC cost does not depend on the content)."""
    return (b"0123456789abcdef" * (size // 16 + 1))[:size]


def human_size(size: int) -> str:
    """``16 MiB``, ``1 KiB``, ``0 B`` (the sizes measured are whole KiB or MiB)."""
    return f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB" if size else "0 B"


def sign(body: bytes) -> list[tuple[bytes, bytes]]:
    """The three auth headers for ``body``, timestamped now."""
    stamp = f"{time.time()}"
    signature = create_signature(SECRET, body, CLIENT_ID, stamp)
    return [
        (b"authorization", f"Signature {signature}".encode()),
        (b"x-client-id", str(CLIENT_ID).encode()),
        (b"x-request-timestamp", stamp.encode()),
    ]


async def _echo(request: Request) -> Response:
    return PlainTextResponse(str(len(await request.body())))


async def _stream_echo(request: Request) -> Response:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return PlainTextResponse(str(size))


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


def starlette(middleware: Any = None, stream: bool = False, **options: Any) -> Factory:
    """Builds Starlette apps: ``POST /echo`` (streaming the body if asked) behind ``middleware``."""

    def build() -> ASGIApp:
        echo = Route("/echo", _stream_echo if stream else _echo, methods=["POST"])
        app = Starlette(routes=[echo])
        if middleware is not None:
            app.add_middleware(middleware, **options)
        return app

    return build


def fastapi(middleware: Any = None, destiny: bool = False, **options: Any) -> Factory:
    """Builds FastAPI apps: ``POST /echo`` behind ``middleware`` or destiny-sdk's ``HMACAuth``."""

    def build() -> ASGIApp:
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        sdk = [Depends(HMACAuth(secret_key=SECRET))] if destiny else []
        app.post("/echo", dependencies=sdk)(_echo)
        if middleware is not None:
            app.add_middleware(middleware, **options)
        return app

    return build


class Config(NamedTuple):
    label: str
    bare: str  # the configuration it is compared against
    factory: Factory
    verifies: bool = True  # refuses an unsigned request


S, F, SS = "bare_starlette", "bare_fastapi", "streaming"
CONFIGS = {
    S: Config("Starlette (bare)", S, starlette(), verifies=False),
    "starlette_ours": Config("Starlette + HMACMiddleware", S, starlette(HMACMiddleware, **OURS)),
    "starlette_basehttp": Config(
        "Starlette + naive BaseHTTPMiddleware", S, starlette(NaiveHMACMiddleware)
    ),
    F: Config("FastAPI (bare)", F, fastapi(), verifies=False),
    "fastapi_ours": Config("FastAPI + HMACMiddleware", F, fastapi(HMACMiddleware, **OURS)),
    "fastapi_destiny": Config("FastAPI + destiny-sdk HMACAuth", F, fastapi(destiny=True)),
    # References, not products (_floor.py), timed beside the rest so that every target
    # can be read against what no pure-Python verifier can go below.
    "starlette_structure": Config(
        "Starlette + buffer and HMAC only (reference)", S, starlette(BufferAndHash, **KEY), False
    ),
    "starlette_floor": Config(
        "Starlette + floor sketch (reference)", S, starlette(FloorSketch, **KEY)
    ),
    "fastapi_floor": Config("FastAPI + floor sketch (reference)", F, fastapi(FloorSketch, **KEY)),
    # An endpoint that never holds the body (memory only): where buffering to verify shows.
    SS: Config("Starlette, streaming endpoint", SS, starlette(stream=True), verifies=False),
    "streaming_ours": Config(
        "Starlette, streaming endpoint + HMACMiddleware",
        SS,
        starlette(HMACMiddleware, True, **OURS),
    ),
}
TIMED = tuple(name for name in CONFIGS if not name.startswith("streaming"))  # in process


def serve() -> ASGIApp:
    """For ``uvicorn --factory _apps:serve``: the configuration named in ``$BENCH_CONFIG``."""
    return CONFIGS[os.environ["BENCH_CONFIG"]].factory()
