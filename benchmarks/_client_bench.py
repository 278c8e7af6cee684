"""The client half: what signing adds to an ``httpx`` call, ours against destiny-sdk's.

A sync ``httpx.Client`` POSTs 1 KiB to ``httpx.MockTransport`` (no network: the cost is
httpx's own and the signer's), plain and through each signer: our ``HMACSigningTransport``
and ``HMACSigningAuth``, destiny-sdk's ``HMACSigningAuth``, and a minimal signing transport
written here (read the body, one HMAC, set the three headers: what no signer can skip).
Every signer's headers are verified once by the middleware's own check before timing;
every timed answer is asserted 200. Overheads are paired per round against plain httpx.
"""

from __future__ import annotations

import hashlib
import hmac
import statistics
import time
import uuid
from collections.abc import Callable
from time import perf_counter
from typing import Any

import httpx
from _apps import SECRET, make_body
from destiny_sdk.client import HMACSigningAuth as DestinyAuth

from hmac_asgi import (
    HMACAuthorizationHeaders,
    HMACSigningAuth,
    HMACSigningTransport,
    create_signature,
)

CLIENT_ID = uuid.UUID("6f1c8a52-4b0e-4d3a-9c57-2b8e7f0d1a94")
URL = "http://api.test/orders"
LABELS = {
    "plain": "httpx, no signing",
    "minimal": "minimal signing transport (reference)",
    "transport": "HMACSigningTransport",
    "auth": "HMACSigningAuth",
    "destiny_auth": "destiny-sdk HMACSigningAuth",
}


class MinimalSigner(httpx.BaseTransport):
    """Sign and set the three headers, nothing else: the floor of any signer."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner, self._key, self._cid = inner, SECRET.encode(), CLIENT_ID.bytes
        self._cid_text = str(CLIENT_ID)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timestamp = time.time()
        message = request.read() + b":" + self._cid + b":" + repr(timestamp).encode()
        signature = hmac.new(self._key, message, hashlib.sha256).hexdigest()
        request.headers["Authorization"] = f"Signature {signature}"
        request.headers["X-Client-Id"] = self._cid_text
        request.headers["X-Request-Timestamp"] = repr(timestamp)
        return self._inner.handle_request(request)


def _ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200)


def _verified(request: httpx.Request) -> httpx.Response:
    """200 only for a request whose destiny-format signature is right (checked once)."""
    raw = [(name.lower(), value) for name, value in request.headers.raw]
    claim = HMACAuthorizationHeaders.from_scope({"type": "http", "headers": raw})
    expected = create_signature(SECRET, request.read(), claim.client_id, claim.timestamp)
    return httpx.Response(200 if hmac.compare_digest(expected, claim.signature) else 401)


def _clients(handler: Callable[[httpx.Request], httpx.Response]) -> dict[str, httpx.Client]:
    mock = httpx.MockTransport(handler)
    signing = HMACSigningTransport(secret_key=SECRET, client_id=CLIENT_ID, transport=mock)
    return {
        "plain": httpx.Client(transport=mock),
        "minimal": httpx.Client(transport=MinimalSigner(mock)),
        "transport": httpx.Client(transport=signing),
        "auth": httpx.Client(transport=mock, auth=HMACSigningAuth(SECRET, CLIENT_ID)),
        "destiny_auth": httpx.Client(
            transport=mock, auth=DestinyAuth(secret_key=SECRET, client_id=CLIENT_ID)
        ),
    }


def _batch(client: httpx.Client, body: bytes, n: int) -> float:
    start = perf_counter()
    for _ in range(n):
        assert client.post(URL, content=body).status_code == 200
    return (perf_counter() - start) / n * 1e6


def measure_client(rounds: int, batch: int) -> dict[str, Any]:
    """Median µs per call for each client; overheads paired per round against plain httpx."""
    body = make_body(1024)
    for name, client in _clients(_verified).items():
        if name != "plain":  # each signer's headers pass the check
            assert client.post(URL, content=body).status_code == 200, name
        client.close()
    clients = _clients(_ok)
    samples: dict[str, list[float]] = {name: [] for name in clients}
    for r in range(rounds):
        order = list(clients)[r % len(clients) :] + list(clients)[: r % len(clients)]
        for name in order:
            samples[name].append(_batch(clients[name], body, batch))
    for client in clients.values():
        client.close()
    print(f"  client: {rounds} rounds x {batch} calls")
    plain = samples["plain"]
    return {
        "rounds": rounds,
        "batch": batch,
        "median_us": {name: statistics.median(values) for name, values in samples.items()},
        "overhead_us": {
            name: statistics.median(a - b for a, b in zip(values, plain, strict=True))
            for name, values in samples.items()
            if name != "plain"
        },
    }
