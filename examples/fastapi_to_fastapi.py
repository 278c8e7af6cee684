"""FastAPI to FastAPI: a billing service calls an orders service, every call signed.

    python examples/fastapi_to_fastapi.py

starts both with uvicorn on 127.0.0.1 (two processes), asks billing for one invoice,
prints its answer, and stops both. To run them yourself:

    uvicorn --app-dir examples fastapi_to_fastapi:orders --port 8001
    ORDERS_URL=http://127.0.0.1:8001 uvicorn --app-dir examples fastapi_to_fastapi:billing

The format is RFC 9421 HTTP Message Signatures, not destiny-sdk's: between two
services of our own there is no destiny-sdk client to stay compatible with, and RFC
9421 signs what the call does (the method, the host, the path, the query and,
through ``Content-Digest``, the body), so a captured ``GET /orders/42`` cannot be
replayed as ``POST /orders/42/invoice``. Its ``keyid`` names the caller with any
string ("billing"), which the orders service reads as ``request.user.identity``.
Orders' OpenAPI document (``/docs``) shows the headers a caller must send.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException, Request

from hmac_asgi import HMACMiddleware, HMACSigningTransport, MessageSignatureScheme, hmac_openapi

KEY_ID = "billing"
# DEVELOPMENT ONLY: both services read the same key; `hmac-asgi keygen` makes a real one.
SECRET = os.environ.get("ORDERS_KEY", "dev-only-secret-do-not-use-in-production-0123456789")
ORDERS_URL = os.environ.get("ORDERS_URL", "http://127.0.0.1:8001")

# The orders service: every route signed, but its health check and its docs.

ORDERS = {42: {"order_id": 42, "sku": "A-1", "quantity": 3, "unit_price": 250}}

orders = FastAPI(title="orders")
orders.add_middleware(
    HMACMiddleware,
    schemes=[MessageSignatureScheme(keys={KEY_ID: SECRET})],
    exclude_paths=("/health", "/docs", "/openapi.json"),
)
hmac_openapi(orders)  # the RFC 9421 headers in /openapi.json and /docs


@orders.get("/orders/{order_id}")
async def read_order(order_id: int) -> dict[str, Any]:
    if order_id not in ORDERS:
        raise HTTPException(404, "no such order")
    return ORDERS[order_id]


@orders.post("/orders/{order_id}/invoice")
async def invoice_order(order_id: int, request: Request) -> dict[str, Any]:
    invoice = await request.json()
    return {"order_id": order_id, "invoice": invoice, "recorded_for": request.user.identity}


@orders.get("/health")
async def orders_health() -> dict[str, str]:
    return {"status": "ok"}


# The billing service: one signing client for its lifetime, used from its endpoint.


@asynccontextmanager
async def signing_client(app: FastAPI) -> AsyncIterator[None]:
    transport = HMACSigningTransport(secret_key=SECRET, key_id=KEY_ID, scheme="rfc9421")
    async with httpx.AsyncClient(base_url=ORDERS_URL, transport=transport) as client:
        app.state.orders = client
        yield


billing = FastAPI(title="billing", lifespan=signing_client)


@billing.post("/invoices/{order_id}")
async def create_invoice(order_id: int, request: Request) -> dict[str, Any]:
    client: httpx.AsyncClient = request.app.state.orders
    order = await client.get(f"/orders/{order_id}")  # signed: GET, host, path
    if order.status_code != 200:
        raise HTTPException(502, f"orders answered {order.status_code}: {order.text}")
    item = order.json()
    total = item["quantity"] * item["unit_price"]
    recorded = await client.post(  # signed: POST, host, path and the body's digest
        f"/orders/{order_id}/invoice", json={"invoice_id": f"INV-{order_id}", "total": total}
    )
    recorded.raise_for_status()
    return {"invoice_id": f"INV-{order_id}", "total": total, "orders_said": recorded.json()}


@billing.get("/health")
async def billing_health() -> dict[str, str]:
    return {"status": "ok"}


# One command: both services under uvicorn, one call to billing, both stopped.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(app: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    here = str(Path(__file__).resolve().parent)
    command = [sys.executable, "-m", "uvicorn", "--app-dir", here, f"fastapi_to_fastapi:{app}"]
    options = ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen([*command, *options], env=env)


def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"uvicorn for {url} exited early with code {server.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"uvicorn for {url} did not come up within 20 s")


def main() -> int:
    orders_url = f"http://127.0.0.1:{free_port()}"
    billing_url = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "ORDERS_KEY": SECRET, "ORDERS_URL": orders_url}
    print(f"orders on {orders_url}, billing on {billing_url} (development key, demo only)")
    servers = [start("orders", int(orders_url.rsplit(":", 1)[1]), env)]
    try:
        servers.append(start("billing", int(billing_url.rsplit(":", 1)[1]), env))
        wait_until_up(orders_url, servers[0])
        wait_until_up(billing_url, servers[1])
        answer = httpx.post(f"{billing_url}/invoices/42", timeout=10)
        print(f"POST {billing_url}/invoices/42 -> {answer.status_code}")
        print(json.dumps(answer.json(), indent=2))
        unsigned = httpx.get(f"{orders_url}/orders/42", timeout=10)
        print(f"GET {orders_url}/orders/42 unsigned -> {unsigned.status_code}")
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(10)
    print("Both services stopped.")
    ok = answer.status_code == 200 and unsigned.status_code == 401
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
