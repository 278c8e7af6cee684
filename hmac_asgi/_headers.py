"""The three authentication headers, parsed strictly into a pydantic model.

Strict forms, so that what is verified is exactly what was signed:

- ``Authorization: Signature <64 lowercase hex>`` (the scheme name is
  case-insensitive, as RFC 9110 says);
- ``X-Client-Id``: a UUID version 4 or 7 in canonical text (lowercase, hyphenated);
- ``X-Request-Timestamp``: a plain ASCII decimal, ``digits[.digits]``, which is
  always finite (no ``nan``, ``inf``, ``1e309``, ``0x1``, ``1_000``, spaces).

Each header must appear exactly once.
"""

from __future__ import annotations

import math
import re
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, field_validator

from ._errors import AuthException, Failure

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection
    from starlette.types import Scope

__all__ = ["HMACAuthorizationHeaders", "scan_scope"]

_SIGNATURE = re.compile(rb"[0-9a-f]{64}")
_CLIENT_ID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_TIMESTAMP = re.compile(rb"[0-9]{1,15}(?:\.[0-9]{1,30})?")
# What _signature accepts, in one match: the scheme is case-insensitive (ASCII, as
# bytes.lower() is), one space, the signature.
_AUTHORIZATION = re.compile(rb"(?i:signature) ([0-9a-f]{64})")


def _signature(value: bytes) -> str:
    if not value:
        raise Failure.missing_authorization()
    scheme, _, signature = value.partition(b" ")
    if scheme.lower() != b"signature":
        raise Failure.unsupported_scheme()
    if _SIGNATURE.fullmatch(signature) is None:
        raise Failure.malformed_signature()
    return signature.decode("ascii")


def _client_id(value: bytes) -> uuid.UUID:
    if not value:
        raise Failure.missing_client_id()
    if _CLIENT_ID.fullmatch(value) is None:
        raise Failure.invalid_client_id()
    return _uuid_of(value)


_new = object.__new__
_set = object.__setattr__
_UUID = uuid.UUID
_UNKNOWN = uuid.SafeUUID.unknown


def _uuid_of(valid: bytes) -> uuid.UUID:
    """The UUID of a client id ``_CLIENT_ID`` has matched, from its 128-bit integer
    directly: what ``UUID.__init__`` does, without parsing the text again (0.5 us, not 1.2)."""
    parsed = _new(_UUID)
    _set(parsed, "int", int(valid.replace(b"-", b""), 16))
    _set(parsed, "is_safe", _UNKNOWN)
    return parsed


def _timestamp(value: bytes) -> float:
    if not value:
        raise Failure.missing_timestamp()
    if _TIMESTAMP.fullmatch(value) is None:
        raise Failure.malformed_timestamp()
    return float(value)


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    raise ValueError(f"expected str or bytes, got {type(value).__name__}")


def _validated(parse: Any, value: Any) -> Any:
    try:
        return parse(_as_bytes(value))
    except AuthException as exc:
        raise ValueError(exc.detail) from exc


class HMACAuthorizationHeaders(BaseModel):
    """The verified-format header values of one request.

    Build it from a request with :meth:`from_scope` / :meth:`from_request`, which
    raise :class:`AuthException` (401) with the destiny-sdk message for each cause;
    constructed directly, it validates the same strict forms (``ValueError``).
    """

    model_config = ConfigDict(frozen=True)

    signature: str
    client_id: uuid.UUID
    timestamp: float

    @field_validator("signature", mode="before")
    @classmethod
    def _check_signature(cls, value: Any) -> str:
        parsed: str = _validated(lambda raw: _signature(b"Signature " + raw), value)
        return parsed

    @field_validator("client_id", mode="before")
    @classmethod
    def _check_client_id(cls, value: Any) -> uuid.UUID:
        if isinstance(value, uuid.UUID):
            value = str(value)
        parsed: uuid.UUID = _validated(_client_id, value)
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
        return scan_scope(scope)[0]

    @classmethod
    def from_request(cls, request: HTTPConnection) -> HMACAuthorizationHeaders:
        """Parse from a Starlette/FastAPI ``Request`` (or ``WebSocket``)."""
        return cls.from_scope(request.scope)


def _trusted(signature: str, client_id: uuid.UUID, timestamp: float) -> HMACAuthorizationHeaders:
    """The model from values the parsers above have validated, without re-validating.

    What ``model_construct`` does (0.7 us here instead of its 2.2 us); a test
    checks both give equal models.
    """
    model = _new(HMACAuthorizationHeaders)
    _set(
        model, "__dict__", {"signature": signature, "client_id": client_id, "timestamp": timestamp}
    )
    _set(model, "__pydantic_fields_set__", {"signature", "client_id", "timestamp"})
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


def scan_scope(scope: Scope) -> tuple[HMACAuthorizationHeaders, int | None]:
    """One pass over the raw headers: the parsed model, and ``Content-Length`` if given.

    Raises:
        AuthException: 401, a header is missing, duplicated or malformed.
    """
    authorization = client_id = timestamp = None
    content_length = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if authorization is not None:
                raise Failure.duplicate_header("Authorization")
            authorization = value
        elif name == b"x-client-id":
            if client_id is not None:
                raise Failure.duplicate_header("X-Client-Id")
            client_id = value
        elif name == b"x-request-timestamp":
            if timestamp is not None:
                raise Failure.duplicate_header("X-Request-Timestamp")
            timestamp = value
        elif name == b"content-length" and value.isdigit():
            # int() refuses more than 4300 digits (ValueError: a 500). A number
            # that long is over any limit: cap it rather than convert it.
            digits = value.lstrip(b"0")
            content_length = int(digits or b"0") if len(digits) <= 18 else 10**18
    # The well-formed case in one expression (each helper call costs ~0.15 us) ...
    if authorization is not None and client_id is not None and timestamp is not None:
        signature = _AUTHORIZATION.fullmatch(authorization)
        if signature and _CLIENT_ID.fullmatch(client_id) and _TIMESTAMP.fullmatch(timestamp):
            headers = _trusted(signature[1].decode(), _uuid_of(client_id), float(timestamp))
            return headers, content_length
    # ... else the first failure in destiny-sdk's order, so a request gets its message.
    _signature(authorization or b"")
    _client_id(client_id or b"")
    _timestamp(timestamp or b"")
    # The parsers accept exactly what the fast check does (test_properties compares
    # both with a reference), so one of them has raised.
    raise AssertionError("unreachable")  # pragma: no cover
