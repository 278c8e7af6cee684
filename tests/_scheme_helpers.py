"""Helpers for the RFC 9421 and Standard Webhooks tests: secrets, signing, scopes, an app.

RFC 9421 requests are signed with the package's own signer (``MessageSigner``), or,
for signatures no well-behaved signer makes, by hand: the package's signature base
MAC'd with the standard library's ``hmac``. Webhook deliveries are signed with the
standard library alone, as the spec writes it, so the two halves are checked
against each other rather than against themselves.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import httpx
from _secrets import secret

from hmac_asgi.schemes.rfc9421 import (
    ComponentError,
    MessageSigner,
    RequestMessage,
    signature_base,
)

NOW = 1_800_000_000  # the clock every middleware here is given

KEY_ID = "orders-key-1"
RFC_SECRET = secret("rfc9421 key")
RFC_OLD_SECRET = secret("rfc9421 retiring key")
RFC_OTHER_SECRET = secret("rfc9421 key nobody has")

WEBHOOK_KEY = secret("webhook endpoint").encode()  # the raw MAC key
WEBHOOK_SECRET = "whsec_" + base64.b64encode(WEBHOOK_KEY).decode()
WEBHOOK_OLD_KEY = secret("webhook endpoint, retiring").encode()
WEBHOOK_OLD_SECRET = "whsec_" + base64.b64encode(WEBHOOK_OLD_KEY).decode()

# --- RFC 9421 ------------------------------------------------------------------------


def rfc_request(
    method: str, url: str, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> httpx.Request:
    return httpx.Request(method, url, content=body, headers=headers)


def rfc_headers(
    method: str,
    url: str,
    body: bytes = b"",
    *,
    headers: Mapping[str, str] | None = None,
    created: int = NOW,
    secret: str | bytes = RFC_SECRET,
    key_id: str = KEY_ID,
    **signer: Any,
) -> dict[str, str]:
    """The signing headers our signer sets for this request, signed at ``created``."""
    request = rfc_request(method, url, body, headers)
    return MessageSigner(secret, key_id, **signer).headers(request, created)


def hand_signed(
    request: httpx.Request, member: str, *, secret: str = RFC_SECRET, label: str = "sig1"
) -> dict[str, str]:
    """``Signature-Input: <label>=<member>`` and the ``Signature`` a correct signer would
    send for it (or a dummy one, when no signature base can be built for ``member``)."""
    from hmac_asgi._sfv import parse_dictionary, serialize_inner_list, serialize_item

    covered, params = parse_dictionary(f"{label}={member}")[label]
    components = [(serialize_item(item), str(item[0]), item[1]) for item in covered]
    try:
        base = signature_base(
            components, serialize_inner_list((covered, params)), RequestMessage(request)
        )
        mac = hmac.new(secret.encode(), base, hashlib.sha256).digest()
    except ComponentError:
        mac = b"\0" * 32
    return {
        "Signature-Input": f"{label}={member}",
        "Signature": f"{label}=:{base64.b64encode(mac).decode()}:",
    }


def joined(*signatures: Mapping[str, str]) -> dict[str, str]:
    """Several signatures in one request: their members joined in order, per header."""
    return {
        name: ", ".join(sig[name] for sig in signatures)
        for name in ("Signature-Input", "Signature")
    }


# --- Standard Webhooks ---------------------------------------------------------------


def webhook_signature(key: bytes, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """``v1,<base64>``, computed as the spec writes it, with the standard library."""
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def webhook_headers(
    body: bytes = b"",
    *,
    key: bytes = WEBHOOK_KEY,
    msg_id: str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
    timestamp: int | str = NOW,
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_signature(key, msg_id, timestamp, body),
    }
