"""Standard Webhooks (standardwebhooks.com): the one module that knows the format.

    webhook-id:        msg_p5jXN8AQM9LWM0D4loKWxJek
    webhook-timestamp: 1614265330
    webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=

    signature = base64(HMAC-SHA256(key, f"{id}.{timestamp}.".encode() + body))

The key is the base64 text after ``whsec_``. ``webhook-signature`` lists one or
more space-separated ``version,signature`` entries: several ``v1`` ones while a
secret rotates, and versions this server does not verify (``v1a`` is ed25519)
are skipped. The prefix is fed to the MAC first, then the body as it arrives.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
from collections.abc import Mapping, MutableMapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .._checks import type_name
from .._errors import failure
from .._keys import KeyRing
from .._mac import MacKey, Running
from . import OpenAPIDescription, Verified

if TYPE_CHECKING:
    import httpx
    from starlette.types import Scope

__all__ = ["HEADERS", "OPENAPI", "StandardWebhookScheme", "WebhookSigner", "webhook_key"]

HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
_PREFIX = "whsec_"
_ID = re.compile(rb"[\x21-\x7e]{1,256}")  # printable ASCII, no spaces or dots' ambiguity
_TIMESTAMP = re.compile(rb"[0-9]{1,15}")
_MAX_ENTRIES = 32  # v1 signatures to compare at most: a key rotation needs two

# The format in an app's OpenAPI document (hmac_asgi.hmac_openapi), Markdown.
OPENAPI = OpenAPIDescription(
    name="standard-webhooks",
    headers=tuple(
        zip(
            HEADERS,
            (
                "The message id, printable ASCII (e.g. `msg_p5jXN8AQM9LWM0D4loKWxJek`):"
                " a retry of the same message keeps it.",
                "When you signed: integer seconds since the epoch.",
                "`v1,<base64 HMAC-SHA256>`; while a secret rotates, several such entries"
                " separated by spaces.",
            ),
            strict=True,
        )
    ),
    recipe=(
        "**Standard Webhooks.** It signs the message id, the time and the body:\n\n"
        '    signed    = f"{webhook_id}.{webhook_timestamp}.".encode() + body\n'
        "    signature = base64(HMAC-SHA256(key, signed))\n\n"
        "The key is the base64-decoded text after `whsec_` in the endpoint's secret, `body`"
        " the exact bytes sent. The timestamp must be within the server's `max_age` of its"
        " clock, in either direction.\n\n"
        "By hand: `hmac-asgi sign --scheme standard-webhooks --secret-env VAR --data"
        " @body.json` prints the three headers. From Python: `httpx.Client(transport="
        'HMACSigningTransport(secret_key="whsec_...", scheme="standard-webhooks"))`.'
    ),
)


def webhook_key(secret: object, what: str = "secret") -> bytes:
    """The MAC key of a Standard Webhooks secret: ``whsec_<base64>`` decoded, or raw bytes.

    Raises:
        TypeError: neither ``str`` nor ``bytes``.
        ValueError: a ``str`` without the ``whsec_`` prefix or with invalid base64, or
            an empty key (the value is not shown).
    """
    if isinstance(secret, bytes):
        key = secret
    elif isinstance(secret, str):
        if not secret.startswith(_PREFIX):
            raise ValueError(f"{what} must be whsec_<base64> (as Standard Webhooks issues it)")
        try:
            key = base64.b64decode(secret[len(_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{what} is not valid base64 after whsec_ (not shown)") from None
    else:
        raise TypeError(f"{what} must be a whsec_ str or raw bytes, not {type_name(secret)}")
    if not key:
        raise ValueError(f"{what} is empty: an empty key would let anyone sign")
    return key


class _Claim:
    __slots__ = ("created", "message_id", "prefix", "signatures")

    key_id = None  # the format names no key: every configured secret is tried
    expires = None

    def __init__(self, message_id: str, created: int, signatures: list[bytes]) -> None:
        self.message_id = message_id
        self.created = float(created)
        self.prefix = f"{message_id}.{created}.".encode("ascii")
        self.signatures = signatures


class _Check:
    """Every secret's MAC over ``id.timestamp.`` and the body; any v1 entry may match."""

    __slots__ = ("_claim", "_keys", "_known", "_running")

    def __init__(self, claim: _Claim, keys: tuple[MacKey, ...], known: bool) -> None:
        self._claim = claim
        self._keys = keys
        self._known = known
        self._running: list[Running] = []
        for key in keys:
            running = key.start()
            running.update(claim.prefix)
            self._running.append(running)

    def update(self, chunk: bytes) -> None:
        for running in self._running:
            running.update(chunk)

    def verify(self) -> None:
        matched = False
        for key, running in zip(self._keys, self._running, strict=True):
            mac = key.finish(running)
            for signature in self._claim.signatures:
                # compare_digest decides, in constant time; every pair is compared.
                matched |= hmac.compare_digest(mac, signature)
        if not (matched and self._known):
            raise failure("invalid_signature")


def _one(values: dict[bytes, bytes | None], name: bytes, title: str) -> bytes:
    value = values[name]
    if not value:
        raise failure("missing_header", name=title)
    return value


class StandardWebhookScheme:
    """Verifies Standard Webhooks deliveries (``name = "standard-webhooks"``).

    Parameters:
        secrets: the endpoint's secret(s), ``whsec_<base64>`` as the sender issued
            it, or the raw key ``bytes``; several while one rotates (a delivery
            passes when any ``v1`` entry matches any secret).

    Freshness is the middleware's ``max_age`` (the spec's tolerance is 5 minutes,
    the default), both ways. Replays are keyed by ``webhook-id`` and timestamp: a
    captured delivery is refused, while the sender's retry of a message (same
    id, new timestamp and signature) still passes, so a delivery the app failed
    is not lost; de-duplicating messages the app did process stays the app's
    job (by ``webhook-id``).

    Raises:
        TypeError, ValueError: no secret, or one that is not a valid secret (not shown).
    """

    name = "standard-webhooks"
    markers = frozenset({b"webhook-id", b"webhook-timestamp", b"webhook-signature"})
    challenge: Mapping[str, str] = MappingProxyType({})

    def __init__(self, *, secrets: str | bytes | Sequence[str | bytes]) -> None:
        items = [secrets] if isinstance(secrets, (str, bytes)) else secrets
        if not isinstance(items, Sequence) or not items:
            raise TypeError("secrets takes a whsec_ secret or a non-empty list of them")
        keys = [webhook_key(item, "secrets") for item in items]
        # The sender issues the secret, 24 bytes or more as the spec has it: no warning there.
        self.keys: KeyRing[None] = KeyRing(shared=keys, names="secrets", weak_below=24)

    def parse(self, scope: Scope) -> _Claim:
        values: dict[bytes, bytes | None] = dict.fromkeys(self.markers)
        for name, value in scope["headers"]:
            if name in values:
                if values[name] is not None:
                    raise failure("duplicate_header", name=name.decode("ascii"))
                values[name] = value
        message_id = _one(values, b"webhook-id", "webhook-id")
        timestamp = _one(values, b"webhook-timestamp", "webhook-timestamp")
        listed = _one(values, b"webhook-signature", "webhook-signature")
        if _ID.fullmatch(message_id) is None:
            raise failure("malformed_header", name="webhook-id")
        if _TIMESTAMP.fullmatch(timestamp) is None:
            raise failure("malformed_header", name="webhook-timestamp")
        signatures = []
        for entry in listed.split():
            version, _, encoded = entry.partition(b",")
            if version != b"v1":
                continue  # another version (v1a is ed25519), or not an entry: not ours
            try:
                signature = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                continue
            if len(signature) == 32:
                signatures.append(signature)
        if not signatures or len(signatures) > _MAX_ENTRIES:
            raise failure("malformed_header", name="webhook-signature")
        return _Claim(message_id.decode("ascii"), int(timestamp), signatures)

    def begin(self, claim: _Claim, keys: tuple[MacKey, ...], known: bool) -> _Check:
        return _Check(claim, keys, known)

    def replay_key(self, claim: _Claim) -> str:
        return f"webhook:{int(claim.created)}:{claim.message_id}"

    def accept(self, claim: _Claim, state: MutableMapping[str, Any]) -> Verified:
        state["webhook_id"] = claim.message_id
        return Verified(self.name, None)

    def explain(self, claim: _Claim) -> dict[str, Any]:
        return {"signed_prefix": claim.prefix.decode("ascii")}

    def openapi(self) -> OpenAPIDescription:
        return OPENAPI


class WebhookSigner:
    """Signs outgoing webhook deliveries with one endpoint secret.

    A request that already has a ``webhook-id`` header keeps it (a retry of the
    same message); otherwise each request gets a new ``msg_...`` id.

    Raises:
        TypeError, ValueError: a secret that is not ``whsec_<base64>`` or raw bytes.
    """

    __slots__ = ("_key",)

    header_names = HEADERS
    key_id = None

    def __init__(self, secret: str | bytes) -> None:
        self._key = MacKey(webhook_key(secret, "secret_key"))

    def headers(self, request: httpx.Request, timestamp: float | str) -> dict[str, str]:
        message_id = request.headers.get("webhook-id") or "msg_" + secrets.token_urlsafe(18)
        created = int(float(timestamp))
        running = self._key.start()
        running.update(f"{message_id}.{created}.".encode("ascii"))
        running.update(request.content)
        signature = base64.b64encode(self._key.finish(running)).decode("ascii")
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(created),
            "webhook-signature": f"v1,{signature}",
        }

    def explain(self, request: httpx.Request) -> dict[str, Any]:
        headers = request.headers
        return {"signed_prefix": f"{headers['webhook-id']}.{headers['webhook-timestamp']}."}
