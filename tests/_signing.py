"""The test vocabulary for signed requests, in all three wire formats.

``signed(scheme, body, method=..., url=..., at=..., secret=..., key_id=...)`` signs one
request the way a correct client would and returns a :class:`Signed`: the signing
headers as httpx takes them (``.httpx``, a dict) and as an ASGI server hands them over
(``.raw``, lower-cased bytes pairs), and the whole request as a scope (``.scope()``).
Each format has its defaults (the suite's client, keyid or endpoint, and its secret); a
timestamp ``at`` is the current time unless given (``NOW`` is what in-process
middlewares are set to).

Who signs: destiny-sdk's format with the package's ``create_signature`` (the function
destiny-sdk's vectors check); RFC 9421 with the package's ``MessageSigner``, or, for
signatures no correct signer makes, by hand (:func:`hand_signed`: the package's
signature base and the standard library's HMAC; :func:`signed_over`: a base written out
line by line); Standard Webhooks with the standard library alone, as the spec writes it,
so that the middleware is checked against something else than itself. :func:`without`,
:func:`replaced` and :func:`twice` edit raw header lists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from _asgi import Headers, raw, scope_for
from _secrets import secret
from starlette.types import ASGIApp

from hmac_asgi import HMACSigningAuth, HMACSigningTransport, create_signature
from hmac_asgi._sfv import parse_dictionary, serialize_inner_list, serialize_item
from hmac_asgi.schemes.rfc9421 import (
    ComponentError,
    MessageSigner,
    RequestMessage,
    signature_base,
)

SCHEMES = ("destiny", "rfc9421", "standard-webhooks")
NOW = 1_800_000_000  # the clock in-process middlewares are given: whole seconds suit every format
URL = "http://testserver/"

# destiny-sdk's format: a client id and its secret; a second client.
CLIENT_ID = uuid.UUID("6234ddc9-6b49-4e45-9c0f-e91d2c381222")
SECRET = secret("destiny client")
SECOND_ID = uuid.UUID("0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b")  # a UUIDv7
SECOND_SECRET = secret("second destiny client")

# RFC 9421: a keyid and its secret, while it rotates; a second keyid.
KEY_ID = "orders-key-1"
RFC_SECRET = secret("rfc9421 key")
RFC_OLD_SECRET = secret("rfc9421 retiring key")
RFC_OTHER_SECRET = secret("rfc9421 key nobody has")
SECOND_KEY_ID = "billing-key-1"
RFC_SECOND_SECRET = secret("rfc9421 second key")

# Standard Webhooks: the endpoint's raw key and its whsec_ secret, while it rotates.
WEBHOOK_KEY = secret("webhook endpoint").encode()
WEBHOOK_OLD_KEY = secret("webhook endpoint, retiring").encode()
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"

WRONG_SECRET = secret("a secret the server does not know")


def whsec(key: bytes) -> str:
    """A raw key as Standard Webhooks senders give it out: ``whsec_<base64>``."""
    return "whsec_" + base64.b64encode(key).decode()


WEBHOOK_SECRET = whsec(WEBHOOK_KEY)
WEBHOOK_OLD_SECRET = whsec(WEBHOOK_OLD_KEY)

# Each format's two keys, (key id, secret), the first its default: two destiny-sdk
# clients, two RFC 9421 keyids, a webhook endpoint's secrets while it rotates.
KEYS: dict[str, list[tuple[Any, str]]] = {
    "destiny": [(CLIENT_ID, SECRET), (SECOND_ID, SECOND_SECRET)],
    "rfc9421": [(KEY_ID, RFC_SECRET), (SECOND_KEY_ID, RFC_SECOND_SECRET)],
    "standard-webhooks": [(None, WEBHOOK_SECRET), (None, WEBHOOK_OLD_SECRET)],
}


def signing_client(
    kind: str, app: ASGIApp, *, base_url: str = "http://testserver", **signing: Any
) -> httpx.AsyncClient:
    """An AsyncClient to ``app`` (in process) whose requests our client signs, as an
    ``httpx.Auth`` (``kind="auth"``) or as a transport (``"transport"``); ``signing`` is
    what both take (``secret_key``, ``client_id``, ``scheme``, ``key_id``, ``clock``...)."""
    inner = httpx.ASGITransport(app)
    if kind == "auth":
        auth = HMACSigningAuth(**signing)
        return httpx.AsyncClient(auth=auth, transport=inner, base_url=base_url)
    transport = HMACSigningTransport(transport=inner, **signing)
    return httpx.AsyncClient(transport=transport, base_url=base_url)


@dataclass(frozen=True)
class Signed:
    """A request and the headers that sign it."""

    method: str
    url: str
    body: bytes
    httpx: dict[str, str]  # the signing headers, named as the signer names them
    others: dict[str, str] = field(default_factory=dict)  # what else the request carries

    @property
    def raw(self) -> Headers:
        """The signing headers as a server hands them over."""
        return raw(self.httpx)

    def scope(self, **extra: Any) -> dict[str, Any]:
        """The whole request as an ASGI server builds its scope (``Host`` from the URL)."""
        return scope_for(self.method, self.url, [*raw(self.others), *self.raw], **extra)


def signed(
    scheme: str,
    body: bytes = b"",
    *,
    method: str = "POST",
    url: str = URL,
    at: float | str | None = None,
    secret: str | bytes | None = None,
    key_id: uuid.UUID | str | None = None,
    headers: Mapping[str, str] | None = None,
    **options: Any,
) -> Signed:
    """``method url`` with ``body`` (and ``headers``), signed in ``scheme`` at ``at``.

    ``secret`` and ``key_id`` default to the format's own (``SECRET`` and ``CLIENT_ID``,
    ``RFC_SECRET`` and ``KEY_ID``, ``WEBHOOK_KEY``). ``at`` is the timestamp: as text it
    is sent as it is (destiny-sdk's header, a webhook's); RFC 9421 and webhooks sign whole
    seconds.
    ``options`` are ``MessageSigner``'s for RFC 9421 (``components``, ``label``, ``tag``,
    ``nonce``, ``expires_in``, ``include_alg``), ``msg_id`` for a webhook.
    """
    others = dict(headers or {})
    if scheme == "destiny":
        assert not options, options
        text = f"{time.time()}" if at is None else str(at)
        client_id = CLIENT_ID if key_id is None else key_id
        signature = create_signature(SECRET if secret is None else secret, body, client_id, text)
        made = {
            "Authorization": f"Signature {signature}",
            "X-Client-Id": str(client_id),
            "X-Request-Timestamp": text,
        }
    elif scheme == "rfc9421":
        request = httpx.Request(method, url, content=body, headers=others)
        signer = MessageSigner(
            RFC_SECRET if secret is None else secret,
            KEY_ID if key_id is None else str(key_id),
            **options,
        )
        made = signer.headers(request, int(time.time()) if at is None else at)
    elif scheme == "standard-webhooks":
        assert key_id is None, "a webhook names no key"
        msg_id = options.pop("msg_id", MSG_ID)
        assert not options, options
        key = WEBHOOK_KEY if secret is None else secret
        if isinstance(key, str):
            key = base64.b64decode(key.removeprefix("whsec_"))
        # Whole seconds, as the format sends them; text as it is.
        timestamp = at if isinstance(at, str) else int(time.time() if at is None else at)
        made = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": webhook_signature(key, msg_id, timestamp, body),
        }
    else:
        raise ValueError(f"no such scheme: {scheme!r}")
    return Signed(method, url, body, made, others)


# RFC 9421 by hand.


def hand_signed(
    member: str,
    *,
    method: str = "GET",
    url: str = URL,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    secret: str = RFC_SECRET,
    label: str = "sig1",
) -> dict[str, str]:
    """``Signature-Input: <label>=<member>`` and the ``Signature`` a correct signer would
    send for it over that request (a dummy one when no signature base can be built)."""
    request = httpx.Request(method, url, content=body, headers=headers)
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


def signed_over(
    lines: list[str], member: str, *, secret: str | bytes = RFC_SECRET, label: str = "sig1"
) -> dict[str, str]:
    """The signature headers for a signature base written out here, line by line: the
    covered components' ``lines``, then ``"@signature-params": member``. An oracle that
    owes nothing to the package's base."""
    base = "\n".join([*lines, f'"@signature-params": {member}']).encode()
    key = secret.encode() if isinstance(secret, str) else secret
    mac = hmac.new(key, base, hashlib.sha256).digest()
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


# Standard Webhooks by hand.


def webhook_signature(key: bytes, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """``v1,<base64>``, computed as the spec writes it, with the standard library."""
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


# Editing raw header lists.

Edit = Callable[[Headers], Headers]


def without(name: bytes) -> Edit:
    """Drop every ``name`` header."""
    return lambda hs: [(k, v) for k, v in hs if k != name]


def replaced(name: bytes, value: bytes) -> Edit:
    """Every ``name`` header's value becomes ``value``."""
    return lambda hs: [(k, value if k == name else v) for k, v in hs]


def twice(name: bytes, value: bytes | None = None) -> Edit:
    """A second ``name`` header after the others: the same value, or ``value``."""
    return lambda hs: hs + [(k, value or v) for k, v in hs if k == name]
