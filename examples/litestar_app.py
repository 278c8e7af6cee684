"""Litestar behind HMACMiddleware: ``uvicorn --app-dir examples litestar_app:app``."""

from __future__ import annotations

import os
from typing import Any

from litestar import Litestar, Request, post
from litestar.middleware import DefineMiddleware

from hmac_asgi import HMACMiddleware


@post("/orders", status_code=200)
async def create_order(request: Request[Any, Any, Any]) -> dict[str, object]:
    return {"accepted": await request.json(), "client_id": str(request.state.hmac_client_id)}


app = Litestar(
    [create_order],
    middleware=[DefineMiddleware(HMACMiddleware, secret_key=os.environ["HMAC_SECRET"])],
)
