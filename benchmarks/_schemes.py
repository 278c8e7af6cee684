"""The three wire formats side by side, and the peers' own verifiers on the same requests.

In process, 1 KiB ``POST /echo`` on Starlette: the middleware verifying destiny-sdk's
format, RFC 9421 (five covered components: method, authority, path, query and
``Content-Digest``) and Standard Webhooks, each signed afresh every round by the
package's signers. Beside them, on the very same signed requests: pyauth
``http-message-signatures``' ``HTTPMessageVerifier.verify(..., body=...)`` and
``standardwebhooks``' ``Webhook.verify`` called directly (no framework at all).
"""

from __future__ import annotations

import base64
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from time import perf_counter
from types import SimpleNamespace
from typing import Any

import httpx
from _apps import SECRET, make_body, sign, starlette
from _inprocess import Exchange, _batch
from http_message_signatures import HTTPMessageVerifier, algorithms
from http_message_signatures.resolvers import MappingKeyResolver
from standardwebhooks import Webhook

from hmac_asgi import HMACMiddleware, MessageSignatureScheme, StandardWebhookScheme
from hmac_asgi.schemes.rfc9421 import MessageSigner
from hmac_asgi.schemes.webhooks import WebhookSigner

KEY_ID = "bench-key"
WHSEC = "whsec_" + base64.b64encode(SECRET.encode()).decode()
URL = "http://127.0.0.1:8000/echo"  # what Exchange's scope says
Headers = list[tuple[bytes, bytes]]

APPS = {
    "bare": starlette(),
    "destiny": starlette(HMACMiddleware, secret_key=SECRET),
    "rfc9421": starlette(HMACMiddleware, schemes=[MessageSignatureScheme(keys={KEY_ID: SECRET})]),
    "webhooks": starlette(HMACMiddleware, schemes=[StandardWebhookScheme(secrets=[WHSEC])]),
}
LABELS = {
    "destiny": "destiny-sdk's format",
    "rfc9421": "RFC 9421 (5 components + Content-Digest)",
    "webhooks": "Standard Webhooks",
    "pyauth_verify": "http-message-signatures `verify(body=...)` alone",
    "standardwebhooks_verify": "standardwebhooks `Webhook.verify` alone",
}


def _signed(signer: Any, body: bytes) -> Headers:
    request = httpx.Request("POST", URL, content=body)
    return [
        (k.lower().encode(), v.encode()) for k, v in signer.headers(request, time.time()).items()
    ]


SIGNERS: dict[str, Callable[[bytes], Headers]] = {
    "bare": sign,
    "destiny": sign,
    "rfc9421": lambda body: _signed(MessageSigner(SECRET, KEY_ID), body),
    "webhooks": lambda body: _signed(WebhookSigner(WHSEC), body),
}


def _pyauth(body: bytes, n: int) -> float:
    """``HTTPMessageVerifier.verify`` on the request the RFC 9421 app gets, with its body."""
    raw = Exchange(APPS["rfc9421"](), body, SIGNERS["rfc9421"](body)).headers
    headers = [(k.decode(), v.decode()) for k, v in raw]
    message = SimpleNamespace(
        method="POST", url=URL, headers=SimpleNamespace(items=lambda: headers)
    )
    resolver = MappingKeyResolver(public_keys={KEY_ID: SECRET.encode()}, private_keys={})
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.HMAC_SHA256, key_resolver=resolver
    )
    verifier.verify(message, body=body, max_age=timedelta(minutes=5))  # it verifies
    start = perf_counter()
    for _ in range(n):
        verifier.verify(message, body=body, max_age=timedelta(minutes=5))
    return (perf_counter() - start) / n * 1e6


def _standardwebhooks(body: bytes, n: int) -> float:
    headers = {k.decode(): v.decode() for k, v in SIGNERS["webhooks"](body)}
    webhook = Webhook(WHSEC)
    webhook.verify(body, headers, json_parse=False)  # it verifies
    start = perf_counter()
    for _ in range(n):
        webhook.verify(body, headers, json_parse=False)
    return (perf_counter() - start) / n * 1e6


async def measure_schemes(rounds: int, batch: int) -> dict[str, Any]:
    """Median µs per request for each format's app and each peer's verifier; overheads paired
    per round against bare Starlette."""
    body = make_body(1024)
    apps = {name: factory() for name, factory in APPS.items()}
    for name, app in apps.items():
        status, text = await Exchange(app, body, SIGNERS[name](body))(keep_body=True)
        assert (status, text) == (200, b"1024"), f"{name}: {status} {text[:80]!r}"
        if name != "bare":
            assert (await Exchange(app, body, [])())[0] == 401, f"{name}: unsigned passed"
    samples: dict[str, list[float]] = {name: [] for name in {**apps, **LABELS}}
    for r in range(rounds):
        order = list(apps)[r % len(apps) :] + list(apps)[: r % len(apps)]
        for name in order:
            exchange = Exchange(apps[name], body, SIGNERS[name](body))
            samples[name].append(await _batch(name, exchange, batch))
        samples["pyauth_verify"].append(_pyauth(body, batch))
        samples["standardwebhooks_verify"].append(_standardwebhooks(body, batch))
    over = {
        name: statistics.median(a - b for a, b in zip(samples[name], samples["bare"], strict=True))
        for name in ("destiny", "rfc9421", "webhooks")
    }
    print(f"  schemes: {rounds} rounds x {batch} requests")
    return {
        "rounds": rounds,
        "batch": batch,
        "median_us": {name: statistics.median(values) for name, values in samples.items()},
        "overhead_us": over,
    }
