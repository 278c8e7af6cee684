"""Failures: one exception type, one catalogue of what a client can be told.

The ``detail`` texts of the destiny-sdk causes are destiny-sdk's, byte for byte
(its client reacts to ``"Token is expired."``). Every failure also carries a
stable machine-readable ``code``: where destiny-sdk has one message for several
causes (a malformed signature is "invalid" there too), the code tells them apart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from starlette.exceptions import HTTPException

__all__ = ["CATALOGUE", "AuthException", "Code", "WeakSecretWarning", "failure"]

Code = Literal[
    "missing_authorization",
    "unsupported_scheme",
    "malformed_signature",
    "missing_client_id",
    "invalid_client_id",
    "missing_timestamp",
    "malformed_timestamp",
    "expired",
    "future_timestamp",
    "duplicate_header",
    "invalid_signature",
    "replayed",
    "body_timeout",
    "body_too_large",
    "length_required",
    "unavailable",
    "missing_header",
    "malformed_header",
    "missing_parameter",
    "unsupported_algorithm",
    "wrong_tag",
    "insufficient_coverage",
    "unsupported_component",
    "digest_mismatch",
    "unsigned_body",
    "no_signature",
    "ambiguous_signature",
]

# code -> (status, detail). A detail with {fields} is completed by ``failure(code, **fields)``.
CATALOGUE: Mapping[Code, tuple[int, str]] = {
    # destiny-sdk's causes, with its messages.
    "missing_authorization": (401, "Authorization header missing."),
    "unsupported_scheme": (401, "Authorization type not supported."),
    "malformed_signature": (401, "Signature is invalid."),
    "missing_client_id": (401, "X-Client-Id header missing"),
    "invalid_client_id": (401, "Invalid format for client id, expected UUIDv4 or UUIDv7."),
    "missing_timestamp": (401, "X-Request-Timestamp header missing"),
    "expired": (401, "Token is expired."),
    "invalid_signature": (401, "Signature is invalid."),
    # Causes destiny-sdk does not have.
    "malformed_timestamp": (
        401,
        "Malformed X-Request-Timestamp, expected seconds since the Unix epoch as a plain decimal"
        " number.",
    ),
    "future_timestamp": (401, "Request timestamp is too far in the future."),
    "duplicate_header": (401, "Duplicate {name} header."),
    "replayed": (401, "Request has already been used."),
    "body_timeout": (408, "Request body not received within {seconds:g} seconds."),
    "body_too_large": (413, "Request body exceeds the limit of {limit} bytes."),
    "length_required": (
        411,
        "Send the body with a Content-Length: a chunked body cannot be bounded and handed on"
        " here (HMACMiddleware can).",
    ),
    "unavailable": (503, "Authentication is temporarily unavailable ({what})."),
    # RFC 9421 and Standard Webhooks; {name} and {required} are the server's own words.
    "missing_header": (401, "Missing {name} header."),
    "malformed_header": (401, "Malformed {name} header."),
    "missing_parameter": (401, "Signature-Input lacks a valid {name} parameter."),
    "unsupported_algorithm": (401, "Signature algorithm is not hmac-sha256."),
    "wrong_tag": (401, "No signature has the tag this server requires ({tag})."),
    "insufficient_coverage": (401, "Signature must cover {required}."),
    "unsupported_component": (
        401,
        "Signature covers a component the request does not carry or this server cannot derive.",
    ),
    "digest_mismatch": (401, "Content-Digest does not match the body."),
    "unsigned_body": (401, "Request has a body, but its signature does not cover content-digest."),
    "no_signature": (401, "Request is not signed in a format this server accepts ({schemes})."),
    "ambiguous_signature": (401, "Request is signed in more than one format ({schemes})."),
}

_CHALLENGE = {"WWW-Authenticate": "Signature"}


class WeakSecretWarning(UserWarning):
    """A secret shorter than 32 bytes was configured: it works, but is weak."""


class AuthException(HTTPException):
    """An authentication failure: ``status_code``, ``detail``, ``headers`` and ``code``.

    A subclass of Starlette's ``HTTPException`` (as destiny-sdk's is of FastAPI's),
    so raised from a route dependency it becomes the JSON error response FastAPI
    renders for any ``HTTPException``.
    """

    def __init__(
        self,
        status_code: int,
        detail: str,
        headers: Mapping[str, str] | None = None,
        code: str = "unauthorized",
    ) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.code = code
        # What the server signed, with explain_failures=True: never a secret or a MAC.
        self.explain: dict[str, Any] | None = None

    def json_body(self) -> bytes:
        """The response body: ``{"detail": ..., "code": ...}`` (and ``"explain"``, if any)."""
        payload: dict[str, Any] = {"detail": self.detail, "code": self.code}
        if self.explain is not None:
            payload["explain"] = self.explain
        return json.dumps(payload).encode("utf-8")


def failure(code: Code, **fields: object) -> AuthException:
    """The :class:`AuthException` for ``code``; 401s carry ``WWW-Authenticate: Signature``.

    ``fields`` fill the detail's placeholders (``name``, ``seconds``, ``limit``,
    ``what``): values of the server's own configuration, never a client's input.
    """
    status, detail = CATALOGUE[code]
    return AuthException(
        status,
        detail.format(**fields) if fields else detail,
        _CHALLENGE if status == 401 else None,
        code,
    )
