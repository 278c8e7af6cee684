"""Service to service with RFC 9421 HTTP Message Signatures: the method, path and body signed.

    ORDERS_KEY=... uvicorn --app-dir examples rfc9421_call:app      # the service
    ORDERS_KEY=... python examples/rfc9421_call.py                    # a caller

destiny-sdk's format signs the body, the client id and the time; a signed
``GET /health`` is then as good as a ``DELETE /orders/1`` with an empty body.
RFC 9421 signs what the request does: with the default policy the method, the
authority (Host), the path, the query and, through ``Content-Digest``, the body.
The caller's key is named by ``keyid``; the service keeps one or several secrets
per keyid (rotation), or looks them up.
"""

from __future__ import annotations

import asyncio
import os

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hmac_asgi import HMACMiddleware, HMACSigningTransport, MessageSignatureScheme

KEY_ID = "billing-service"
# A development value unless set; `hmac-asgi keygen` makes a real one.
SECRET = os.environ.get("ORDERS_KEY", "dev-only-secret-do-not-use-in-production-0123456789")
BASE_URL = os.environ.get("ORDERS_URL", "http://127.0.0.1:8000")


async def create_order(request: Request) -> JSONResponse:
    caller = request.state.hmac  # Verified(scheme="rfc9421", key_id="billing-service")
    return JSONResponse({"caller": caller.key_id, "order": await request.json()}, status_code=201)


async def delete_order(request: Request) -> JSONResponse:
    return JSONResponse({"deleted": request.path_params["order_id"]})


app = Starlette(
    routes=[
        Route("/orders", create_order, methods=["POST"]),
        Route("/orders/{order_id}", delete_order, methods=["DELETE"]),
    ]
)
app.add_middleware(HMACMiddleware, schemes=[MessageSignatureScheme(keys={KEY_ID: SECRET})])


def signing_transport(transport: httpx.AsyncBaseTransport | None = None) -> HMACSigningTransport:
    """Signs every request (and redirect hop) as RFC 9421, keyid ``billing-service``."""
    return HMACSigningTransport(
        secret_key=SECRET, key_id=KEY_ID, scheme="rfc9421", transport=transport
    )


async def main() -> None:
    async with httpx.AsyncClient(base_url=BASE_URL, transport=signing_transport()) as client:
        created = await client.post("/orders", json={"sku": "A-1", "qty": 2})
        print(created.status_code, created.json())
        deleted = await client.delete("/orders/42")
        print(deleted.status_code, deleted.json())


if __name__ == "__main__":
    asyncio.run(main())
