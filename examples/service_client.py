"""Service to service: call examples/app.py signed, from sync and from async code.

uvicorn --app-dir examples app:app &
HMAC_SECRET=... HMAC_CLIENT_ID=... python examples/service_client.py
"""

from __future__ import annotations

import asyncio
import os

import httpx

from hmac_asgi import HMACSigningTransport

BASE_URL = os.environ.get("ORDERS_URL", "http://127.0.0.1:8000")
SIGNING = {  # the demo's development values unless set; use `hmac-asgi keygen` for real ones
    "secret_key": os.environ.get(
        "HMAC_SECRET", "dev-only-secret-do-not-use-in-production-0123456789"
    ),
    "client_id": os.environ.get("HMAC_CLIENT_ID", "01938a6e-7d2b-7c4e-9f1a-2b3c4d5e6f70"),
}


def sync_call() -> None:
    with httpx.Client(base_url=BASE_URL, transport=HMACSigningTransport(**SIGNING)) as client:
        print(client.post("/orders", json={"sku": "A-1", "qty": 2}).json())


async def async_call() -> None:
    transport = HMACSigningTransport(**SIGNING)  # every request, every redirect hop signed
    async with httpx.AsyncClient(base_url=BASE_URL, transport=transport) as client:
        print((await client.post("/orders", json={"sku": "B-2", "qty": 1})).json())


if __name__ == "__main__":
    sync_call()
    asyncio.run(async_call())
