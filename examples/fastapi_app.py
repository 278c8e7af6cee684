"""FastAPI behind HMACMiddleware: ``uvicorn --app-dir examples fastapi_app:app``."""

from __future__ import annotations

import os

from fastapi import FastAPI, Request

from hmac_asgi import HMACMiddleware

app = FastAPI()
app.add_middleware(HMACMiddleware, secret_key=os.environ["HMAC_SECRET"], exclude_paths=("/health",))


@app.post("/orders")
async def create_order(request: Request) -> dict[str, object]:
    return {"accepted": await request.json(), "client_id": str(request.state.hmac_client_id)}


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
