"""A protected Starlette app: the one `make demo` serves.

Run it yourself: ``uvicorn --app-dir examples app:app``.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hmac_asgi import HMACMiddleware

# DEVELOPMENT ONLY: a fixed secret so the demo needs no setup. In production,
# load a random 32-byte secret (`hmac-asgi keygen`) from your secret store.
DEV_SECRET = "dev-only-secret-do-not-use-in-production-0123456789"
DEMO_CLIENT_ID = "01938a6e-7d2b-7c4e-9f1a-2b3c4d5e6f70"


async def create_order(request: Request) -> JSONResponse:
    order = await request.json()
    return JSONResponse(
        {"accepted": order, "client_id": str(request.state.hmac_client_id)}, status_code=200
    )


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/orders", create_order, methods=["POST"]), Route("/health", health)])
app.add_middleware(
    HMACMiddleware,
    secret_key=os.environ.get("HMAC_SECRET", DEV_SECRET),
    exclude_paths=("/health",),
)
