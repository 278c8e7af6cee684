"""Test helpers: destiny-sdk's signed headers."""

from __future__ import annotations

import time
import uuid

from _secrets import secret

from hmac_asgi import create_signature

SECRET = secret("destiny client")
CLIENT_ID = uuid.UUID("6234ddc9-6b49-4e45-9c0f-e91d2c381222")


def signed_headers(
    body: bytes = b"",
    *,
    secret: str = SECRET,
    client_id: uuid.UUID | str = CLIENT_ID,
    timestamp: float | str | None = None,
) -> dict[str, str]:
    """The three headers for ``body``, signed now (or at ``timestamp``)."""
    ts = f"{time.time()}" if timestamp is None else str(timestamp)
    return {
        "Authorization": f"Signature {create_signature(secret, body, client_id, ts)}",
        "X-Client-Id": str(client_id),
        "X-Request-Timestamp": ts,
    }
