"""Receive Standard Webhooks: verify each delivery, refuse replays, process each message once.

    WEBHOOK_SECRET=whsec_... uvicorn --app-dir examples webhook_receiver:app

The sender (Svix, or anything following standardwebhooks.com) signs every delivery
with the endpoint's whsec_ secret. HMACMiddleware verifies it before the route
runs: a bad signature, a stale timestamp or a replayed delivery never reaches
``receive_event``. A sender retries a message it thinks failed with the same
``webhook-id`` (and a new timestamp and signature): that retry is let through,
so the route de-duplicates by ``request.state.webhook_id``.

``python examples/webhook_receiver.py`` sends one signed delivery to a running
receiver, as a sender would.
"""

from __future__ import annotations

import os
import sys

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hmac_asgi import HMACMiddleware, HMACSigningTransport, MemoryReplayCache, StandardWebhookScheme

# A development value unless set: a real endpoint's secret comes from the sender.
SECRET = os.environ.get("WEBHOOK_SECRET", "whsec_ZGV2LW9ubHktd2ViaG9vay1zZWNyZXQtZG8tbm90LXVzZQ==")
processed: set[str] = set()  # use your database: a unique index on the message id


async def receive_event(request: Request) -> JSONResponse:
    message_id = request.state.webhook_id
    if message_id in processed:  # a retry of a message already handled
        return JSONResponse({"status": "duplicate", "id": message_id})
    event = await request.json()
    processed.add(message_id)
    return JSONResponse({"status": "processed", "id": message_id, "type": event.get("type")})


app = Starlette(routes=[Route("/webhooks", receive_event, methods=["POST"])])
app.add_middleware(
    HMACMiddleware,
    schemes=[StandardWebhookScheme(secrets=[SECRET])],  # add the new secret first to rotate
    replay_cache=MemoryReplayCache(),  # RedisReplayCache.from_url(...) with several workers
)


def send(url: str = "http://127.0.0.1:8000/webhooks") -> httpx.Response:
    """Deliver one event the way a Standard Webhooks sender does."""
    signing = HMACSigningTransport(secret_key=SECRET, scheme="standard-webhooks")
    with httpx.Client(transport=signing) as client:
        return client.post(url, json={"type": "invoice.paid", "data": {"id": "in_1"}})


if __name__ == "__main__":
    print(send(*sys.argv[1:]).json())
