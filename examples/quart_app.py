"""Quart behind HMACMiddleware: ``uvicorn --app-dir examples quart_app:app``."""

from __future__ import annotations

import os

from quart import Quart, request

from hmac_asgi import HMACMiddleware

app = Quart(__name__)
app.asgi_app = HMACMiddleware(app.asgi_app, secret_key=os.environ["HMAC_SECRET"])  # type: ignore[method-assign]


@app.post("/orders")
async def create_order() -> dict[str, object]:
    client_id = request.scope["state"]["hmac_client_id"]
    return {"accepted": await request.get_json(), "client_id": str(client_id)}
