"""The destiny-sdk wire format: the one module that knows it.

    Authorization:       Signature <64 lowercase hex>
    X-Client-Id:         <UUID version 4 or 7, canonical text>
    X-Request-Timestamp: <seconds since the epoch, plain decimal>

    message   = body + b":" + UUID(client_id).bytes + b":" + repr(float(timestamp))
    signature = hex(HMAC-SHA256(secret_key, message))

The body comes first, so a verifier feeds it into the MAC chunk by chunk as it
arrives and adds the fixed-size suffix at the end: one pass, no joined copy.
Strict forms, so that what is verified is exactly what was signed: the scheme
name is case-insensitive (RFC 9110), everything else is canonical; each header
must appear exactly once; a timestamp is ``digits[.digits]`` and so always finite.
"""

from __future__ import annotations

import hmac
import math
import re
import uuid
from collections.abc import Callable, Mapping, MutableMapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Union

from pydantic import BaseModel, ConfigDict, field_validator

from .._checks import type_name
from .._errors import AuthException, failure
from .._keys import KeyRing, Lookup, Secrets
from .._mac import MacKey, Running
from . import OpenAPIDescription, Verified

if TYPE_CHECKING:
    import httpx
    from starlette.requests import HTTPConnection
    from starlette.types import Scope

__all__ = [
    "HEADERS",
    "OPENAPI",
    "DestinyScheme",
    "DestinySigner",
    "HMACAuthorizationHeaders",
    "client_uuid",
    "create_signature",
    "is_timestamp",
]

HEADERS = ("Authorization", "X-Client-Id", "X-Request-Timestamp")
_SIGNATURE = re.compile(rb"[0-9a-f]{64}")
_CLIENT_ID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_TIMESTAMP = re.compile(rb"[0-9]{1,15}(?:\.[0-9]{1,30})?")
# _signature's rules in one match: the scheme name in any case, one space, the signature.
_AUTHORIZATION = re.compile(rb"(?i:signature) ([0-9a-f]{64})")

# The format in an app's OpenAPI document (hmac_asgi.hmac_openapi), Markdown.
OPENAPI = OpenAPIDescription(
    name="destiny",
    headers=tuple(
        zip(
            HEADERS,
            (
                "`Signature <64 lowercase hex>`: the HMAC-SHA256 of the message below.",
                "Your client id: a UUID version 4 or 7, canonical lowercase text.",
                "When you signed: seconds since the epoch as a plain decimal,"
                " e.g. `1732838400.123456`.",
            ),
            strict=True,
        )
    ),
    recipe=(
        "**destiny-sdk's HMAC-SHA256 format.** It signs the body, the client id and the time,"
        " not the method, path or query:\n\n"
        '    message   = body + b":" + UUID(client_id).bytes + b":" + repr(float(timestamp))\n'
        "    signature = hex(HMAC-SHA256(secret, message))\n\n"
        "`UUID(client_id).bytes` is the id's 16 raw bytes, `repr(float(timestamp))` Python's"
        " text of the `X-Request-Timestamp` value (`1732838400` is signed as `1732838400.0`),"
        " `body` the exact bytes sent (empty without one). The timestamp must be within the"
        " server's `max_age` of its clock, in either direction.\n\n"
        "By hand: `hmac-asgi sign --secret-env VAR --client-id <uuid> --data @body.json`"
        " prints the three headers (`--curl URL`: a ready curl command). From Python:"
        " `httpx.Client(transport=HMACSigningTransport(secret_key=..., client_id=...))`."
    ),
)


# The signing primitive.


def signed_suffix(client_id: uuid.UUID, timestamp: float | str) -> bytes:
    """What follows the body in the signed message: ``:<16 uuid bytes>:<repr(float(ts))>``.

    Raises:
        ValueError: ``timestamp`` is not a number (the value is not shown).
    """
    try:
        seconds = float(timestamp)
    except (TypeError, ValueError):
        raise ValueError("timestamp must be seconds since the epoch, a float or its text") from None
    return b":" + client_id.bytes + b":" + repr(seconds).encode("ascii")


def create_signature(
    secret_key: str | bytes,
    request_body: bytes,
    client_id: uuid.UUID | str,
    timestamp: float | str,
) -> str:
    """Sign one request, byte for byte as ``destiny_sdk.auth.create_signature`` does.

    Parameters:
        secret_key: the shared secret (``str`` is UTF-8 encoded).
        request_body: the exact raw body (``b""`` when there is none).
        client_id: a ``uuid.UUID`` or its text.
        timestamp: seconds since the epoch, a float or the header text.

    Returns:
        64 lowercase hex characters.
    """
    if not isinstance(client_id, uuid.UUID):
        client_id = uuid.UUID(client_id)
    return _sign(_key(secret_key), request_body, client_id, timestamp)


def _key(secret: str | bytes) -> MacKey:
    return MacKey(secret.encode("utf-8") if isinstance(secret, str) else secret)


def _sign(key: MacKey, body: bytes, client_id: uuid.UUID, timestamp: float | str) -> str:
    running = key.start()
    running.update(body)
    running.update(signed_suffix(client_id, timestamp))
    return key.finish(running).hex()


def client_uuid(value: uuid.UUID | str) -> uuid.UUID:
    """A client id as a UUIDv4/v7, from a ``uuid.UUID`` or any text ``uuid.UUID`` accepts.

    Raises:
        ValueError: "not a UUID" or "a version N UUID, not a UUIDv4 or UUIDv7". The
            value itself is never echoed: a secret passed where a client id belongs
            must not reach an error message, and from there a log.
    """
    try:
        parsed = value if isinstance(value, uuid.UUID) else uuid.UUID(value)
    except ValueError:
        raise ValueError("not a UUID") from None
    if parsed.version not in (4, 7):  # None for a non-RFC 4122 variant
        kind = f"version {parsed.version}" if parsed.version else "non-RFC 4122"
        raise ValueError(f"a {kind} UUID, not a UUIDv4 or UUIDv7")
    return parsed


def is_timestamp(text: str) -> bool:
    """Whether ``text`` is a timestamp in the form this scheme sends and accepts."""
    return _TIMESTAMP.fullmatch(text.encode("utf-8", "surrogateescape")) is not None


# The headers, parsed.


def _signature(value: bytes) -> str:
    if not value:
        raise failure("missing_authorization")
    scheme, _, signature = value.partition(b" ")
    if scheme.lower() != b"signature":
        raise failure("unsupported_scheme")
    if _SIGNATURE.fullmatch(signature) is None:
        raise failure("malformed_signature")
    return signature.decode("ascii")


def _client_id(value: bytes) -> uuid.UUID:
    if not value:
        raise failure("missing_client_id")
    if _CLIENT_ID.fullmatch(value) is None:
        raise failure("invalid_client_id")
    return uuid.UUID(value.decode("ascii"))


def _timestamp(value: bytes) -> float:
    if not value:
        raise failure("missing_timestamp")
    if _TIMESTAMP.fullmatch(value) is None:
        raise failure("malformed_timestamp")
    return float(value)


def _validated(parse: Callable[[bytes], Any], value: Any) -> Any:
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    elif not isinstance(value, bytes):
        raise ValueError(f"expected str or bytes, got {type_name(value)}")
    try:
        return parse(value)
    except AuthException as exc:
        raise ValueError(exc.detail) from exc


class HMACAuthorizationHeaders(BaseModel):
    """The three header values of one request, in their strict forms.

    Build it from a request with :meth:`from_scope` / :meth:`from_request`, which
    raise :class:`AuthException` (401) with the destiny-sdk message for each cause;
    constructed directly, it validates the same strict forms (``ValueError``).
    As a claim (what the middleware verifies), its key id is the client id and
    it was created at its timestamp.
    """

    # A value refused is not repeated in the error: it may be a secret in the wrong place.
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    signature: str
    client_id: uuid.UUID
    timestamp: float

    expires: ClassVar[None] = None  # the format has no expiry of its own

    @property
    def key_id(self) -> uuid.UUID:
        """The client id: whose keys may have signed it."""
        return self.client_id

    @property
    def created(self) -> float:
        """The timestamp: when it says it was signed."""
        return self.timestamp

    @field_validator("signature", mode="before")
    @classmethod
    def _check_signature(cls, value: Any) -> str:
        parsed: str = _validated(lambda raw: _signature(b"Signature " + raw), value)
        return parsed

    @field_validator("client_id", mode="before")
    @classmethod
    def _check_client_id(cls, value: Any) -> uuid.UUID:
        parsed: uuid.UUID = _validated(
            _client_id, str(value) if isinstance(value, uuid.UUID) else value
        )
        return parsed

    @field_validator("timestamp", mode="before")
    @classmethod
    def _check_timestamp(cls, value: Any) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value) or value < 0:
                raise ValueError("timestamp must be a finite, non-negative number")
            return float(value)
        parsed: float = _validated(_timestamp, value)
        return parsed

    @classmethod
    def from_scope(cls, scope: Scope) -> HMACAuthorizationHeaders:
        """Parse straight from an ASGI scope's raw ``headers``.

        Raises:
            AuthException: 401, a header is missing, duplicated or malformed.
        """
        return _parse(scope["headers"], _new_uuid)

    @classmethod
    def from_request(cls, request: HTTPConnection) -> HMACAuthorizationHeaders:
        """Parse from a Starlette/FastAPI ``Request`` (or ``WebSocket``)."""
        return cls.from_scope(request.scope)


def _new_uuid(valid: bytes) -> uuid.UUID:
    return uuid.UUID(valid.decode("ascii"))


def _parse(raw_headers: Any, uuid_of: Callable[[bytes], uuid.UUID]) -> HMACAuthorizationHeaders:
    """One pass over the raw headers into the model; ``uuid_of`` turns valid client id bytes
    into a UUID (a scheme memoises it)."""
    authorization = client_id = timestamp = None
    for name, value in raw_headers:
        if name == b"authorization":
            if authorization is not None:
                raise failure("duplicate_header", name="Authorization")
            authorization = value
        elif name == b"x-client-id":
            if client_id is not None:
                raise failure("duplicate_header", name="X-Client-Id")
            client_id = value
        elif name == b"x-request-timestamp":
            if timestamp is not None:
                raise failure("duplicate_header", name="X-Request-Timestamp")
            timestamp = value
    # The well-formed case in one expression ...
    if authorization is not None and client_id is not None and timestamp is not None:
        signature = _AUTHORIZATION.fullmatch(authorization)
        if signature and _CLIENT_ID.fullmatch(client_id) and _TIMESTAMP.fullmatch(timestamp):
            # The checks above are the validators' own: construct without repeating them.
            return HMACAuthorizationHeaders.model_construct(
                signature=signature[1].decode("ascii"),
                client_id=uuid_of(client_id),
                timestamp=float(timestamp),
            )
    # ... else the first failure in destiny-sdk's order, so a request gets its message.
    _signature(authorization or b"")
    _client_id(client_id or b"")
    _timestamp(timestamp or b"")
    # The parsers accept exactly what the fast check does (a property test compares
    # both with a reference), so one of them has raised.
    raise AssertionError("unreachable")  # pragma: no cover


# Verifying: the scheme.

ClientSecrets = Union[
    # Mapping is invariant in its key: spell out each key type a user's dict may have.
    Mapping[uuid.UUID, Secrets],
    Mapping[str, Secrets],
    Mapping[Union[uuid.UUID, str], Secrets],
]
_UUID_MEMO = 4096  # client ids remembered as UUID objects, per scheme


class _Check:
    """A destiny-format request being verified: every candidate MAC fed the body."""

    __slots__ = ("_claim", "_keys", "_known", "_running")

    def __init__(self, claim: HMACAuthorizationHeaders, keys: tuple[MacKey, ...], known: bool):
        self._claim = claim
        self._keys = keys
        self._known = known
        self._running: list[Running] = [key.start() for key in keys]

    def update(self, chunk: bytes) -> None:
        for running in self._running:
            running.update(chunk)

    def verify(self) -> None:
        claim = self._claim
        suffix = signed_suffix(claim.client_id, claim.timestamp)
        expected = bytes.fromhex(claim.signature)
        matched = False
        for key, running in zip(self._keys, self._running, strict=True):
            running.update(suffix)
            # compare_digest decides, in constant time; every candidate is computed.
            matched |= hmac.compare_digest(key.finish(running), expected)
        if not (matched and self._known):
            raise failure("invalid_signature")


class DestinyScheme:
    """Verifies requests signed in destiny-sdk's format (``name = "destiny"``).

    Give exactly one source of secrets; a secret is ``str`` (UTF-8 encoded) or
    ``bytes``, a list of them means rotation (any listed secret passes, the first
    is the current one).

    Parameters:
        secret_key: one secret (or list) shared by every client, as destiny-sdk's
            ``HMACAuth`` has it.
        client_secrets: ``{client_id: secret or [secrets]}``; client ids are
            UUIDv4/v7 (``uuid.UUID`` or text). Unknown clients are refused exactly
            like a bad signature.
        secret_lookup: ``async (client_id: UUID) -> secret(s) | None``: your store.
            ``None`` or an empty list means unknown. If it raises, or answers
            another type, the request gets 503 and the error is logged.
        secret_lookup_ttl: seconds to cache lookup answers (unknown included, at
            most 10 000 clients); 0 asks on every request.

    Raises:
        TypeError: not exactly one source, or a value of the wrong type.
        ValueError: an empty secret or list, a client id that is not a UUIDv4/v7,
            a negative ``secret_lookup_ttl``, or one without ``secret_lookup``.
    """

    name = "destiny"
    # "Authorization" alone is not ours: other schemes (Bearer...) use it too.
    markers = frozenset({b"x-client-id", b"x-request-timestamp"})
    challenge: Mapping[str, str] = MappingProxyType({})

    def __init__(
        self,
        *,
        secret_key: Secrets | None = None,
        client_secrets: ClientSecrets | None = None,
        secret_lookup: Lookup[uuid.UUID] | None = None,
        secret_lookup_ttl: float = 0.0,
    ) -> None:
        given = [
            name
            for name, value in (
                ("secret_key", secret_key),
                ("client_secrets", client_secrets),
                ("secret_lookup", secret_lookup),
            )
            if value is not None
        ]
        if len(given) != 1:
            raise TypeError(
                "give exactly one of secret_key, client_secrets or secret_lookup"
                f" (got {', '.join(given) or 'none'})"
            )
        if secret_lookup is None and secret_lookup_ttl != 0.0:
            raise ValueError("secret_lookup_ttl only applies to secret_lookup")
        table: dict[uuid.UUID, Secrets] | None = None
        labels: dict[uuid.UUID, str] = {}
        if client_secrets is not None:
            if not isinstance(client_secrets, Mapping):
                raise TypeError("client_secrets must be a mapping {client_id: secret or [secrets]}")
            table = {}
            for position, (client_id, value) in enumerate(client_secrets.items(), 1):
                parsed = _table_uuid(client_id, position)
                table[parsed] = value
                # Shown in errors only when written as a client id is: a 32-hex-digit
                # secret, in a mapping written the wrong way round, parses as a UUID too.
                if isinstance(client_id, uuid.UUID) or client_id == str(parsed):
                    labels[parsed] = str(parsed)
        self.keys: KeyRing[uuid.UUID] = KeyRing(
            shared=secret_key,
            table=table,
            lookup=secret_lookup,
            lookup_ttl=secret_lookup_ttl,
            names=given[0],
            labels=labels,
        )
        self._uuids: dict[bytes, uuid.UUID] = {}
        self._texts: dict[uuid.UUID, str] = {}  # and back: str(UUID) is slow too

    def _uuid(self, valid: bytes) -> uuid.UUID:
        """The UUID of a well-formed client id: memoised, as clients come back."""
        known = self._uuids.get(valid)
        if known is None:
            if len(self._uuids) >= _UUID_MEMO:
                self._uuids.clear()
                self._texts.clear()
            text = valid.decode("ascii")  # canonical (the pattern said so): str(UUID)'s
            known = self._uuids[valid] = uuid.UUID(text)
            self._texts[known] = text
        return known

    def parse(self, scope: Scope) -> HMACAuthorizationHeaders:
        return _parse(scope["headers"], self._uuid)

    def begin(
        self, claim: HMACAuthorizationHeaders, keys: tuple[MacKey, ...], known: bool
    ) -> _Check:
        return _Check(claim, keys, known)

    def replay_key(self, claim: HMACAuthorizationHeaders) -> str:
        client_id = claim.client_id
        return f"{self._texts.get(client_id) or client_id}:{claim.signature}"

    def accept(self, claim: HMACAuthorizationHeaders, state: MutableMapping[str, Any]) -> Verified:
        state["hmac_client_id"] = claim.client_id
        return Verified(self.name, claim.client_id)

    def explain(self, claim: HMACAuthorizationHeaders) -> dict[str, Any]:
        return _explained(claim.client_id, claim.timestamp)

    def openapi(self) -> OpenAPIDescription:
        return OPENAPI


def _table_uuid(value: object, position: int) -> uuid.UUID:
    # Keys are named by position, never shown: in a mapping written the wrong way
    # round ({secret: client_id}) the key is the secret, and errors end up in logs.
    try:
        return client_uuid(value if isinstance(value, uuid.UUID) else str(value))
    except ValueError as exc:
        raise ValueError(
            f"client_secrets key number {position} is {exc} (not shown, in case it is a"
            " secret): the mapping is {client_id: secret or [secrets]}"
        ) from None


def _explained(client_id: uuid.UUID, timestamp: float | str) -> dict[str, Any]:
    """What follows the body in the signed message, in the words of ``explain``."""
    return {"client_id_bytes": client_id.bytes.hex(), "signed_timestamp": repr(float(timestamp))}


# Signing: the client half.


class DestinySigner:
    """Signs outgoing requests for one client: keyed once, never keeps the secret text.

    Raises:
        TypeError: a secret that is not ``str``/``bytes``, a client id that is not
            a ``uuid.UUID``/``str``.
        ValueError: an empty secret; a client id that is not a UUIDv4/UUIDv7 (the
            value is not shown: it may be the secret, passed in the wrong place).
    """

    __slots__ = ("_key", "_text", "client_id")

    header_names = HEADERS

    @property
    def key_id(self) -> uuid.UUID:
        """The client id."""
        return self.client_id

    def __init__(self, secret_key: str | bytes, client_id: uuid.UUID | str) -> None:
        if not isinstance(secret_key, (str, bytes)):
            raise TypeError(f"secret_key must be a str or bytes, not {type_name(secret_key)}")
        if not secret_key:
            raise ValueError("secret_key is empty: pass the secret shared with the server")
        if not isinstance(client_id, (uuid.UUID, str)):
            raise TypeError(f"client_id must be a uuid.UUID or str, not {type_name(client_id)}")
        try:
            self.client_id = client_uuid(client_id)
        except ValueError as exc:
            hint = (
                f" (this {len(client_id)}-character str is not shown, in case it is the secret:"
                " are secret_key and client_id swapped?)"
                if isinstance(client_id, str)
                else ""
            )
            raise ValueError(f"client_id must be a UUID version 4 or 7, not {exc}{hint}") from None
        self._key = _key(secret_key)
        self._text = str(self.client_id)

    def headers(self, request: httpx.Request, timestamp: float | str) -> dict[str, str]:
        text = timestamp if isinstance(timestamp, str) else f"{timestamp}"  # repr(float)
        signature = _sign(self._key, request.content, self.client_id, timestamp)
        return {
            "Authorization": f"Signature {signature}",
            "X-Client-Id": self._text,
            "X-Request-Timestamp": text,
        }

    def explain(self, request: httpx.Request) -> dict[str, Any]:
        return _explained(self.client_id, request.headers["X-Request-Timestamp"])
