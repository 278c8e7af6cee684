"""Failures: one exception type, one catalogue of what a client can be told.

The ``detail`` texts of the destiny-sdk causes are destiny-sdk's, byte for byte
(its client reacts to ``"Token is expired."``). Every failure also carries a
stable machine-readable ``code``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.exceptions import HTTPException

__all__ = ["AuthException", "Failure", "WeakSecretWarning"]

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

    def json_body(self) -> bytes:
        """The response body: ``{"detail": ..., "code": ...}``."""
        return json.dumps({"detail": self.detail, "code": self.code}).encode("utf-8")


class Failure:
    """Factories for every failure the verifier reports; one place for the texts."""

    @staticmethod
    def _401(code: str, detail: str) -> AuthException:
        return AuthException(401, detail, _CHALLENGE, code)

    # destiny-sdk's causes and messages.
    @classmethod
    def missing_authorization(cls) -> AuthException:
        return cls._401("missing_authorization", "Authorization header missing.")

    @classmethod
    def unsupported_scheme(cls) -> AuthException:
        return cls._401("unsupported_scheme", "Authorization type not supported.")

    @classmethod
    def missing_client_id(cls) -> AuthException:
        return cls._401("missing_client_id", "X-Client-Id header missing")

    @classmethod
    def invalid_client_id(cls) -> AuthException:
        return cls._401(
            "invalid_client_id", "Invalid format for client id, expected UUIDv4 or UUIDv7."
        )

    @classmethod
    def missing_timestamp(cls) -> AuthException:
        return cls._401("missing_timestamp", "X-Request-Timestamp header missing")

    @classmethod
    def expired(cls) -> AuthException:
        return cls._401("expired", "Token is expired.")

    @classmethod
    def invalid_signature(cls) -> AuthException:
        return cls._401("invalid_signature", "Signature is invalid.")

    # Causes destiny-sdk does not have.
    @classmethod
    def malformed_signature(cls) -> AuthException:
        return cls._401(
            "malformed_signature",
            "Malformed signature, expected 64 lowercase hexadecimal characters.",
        )

    @classmethod
    def malformed_timestamp(cls) -> AuthException:
        return cls._401(
            "malformed_timestamp",
            "Malformed X-Request-Timestamp, expected seconds since the Unix epoch "
            "as a plain decimal number.",
        )

    @classmethod
    def future_timestamp(cls) -> AuthException:
        return cls._401("future_timestamp", "Request timestamp is too far in the future.")

    @classmethod
    def duplicate_header(cls, name: str) -> AuthException:
        return cls._401("duplicate_header", f"Duplicate {name} header.")

    @classmethod
    def replayed(cls) -> AuthException:
        return cls._401("replayed", "Request has already been used.")

    @classmethod
    def body_too_large(cls, limit: int) -> AuthException:
        return AuthException(
            413, f"Request body exceeds the limit of {limit} bytes.", None, "body_too_large"
        )

    @classmethod
    def body_timeout(cls, seconds: float) -> AuthException:
        return AuthException(
            408, f"Request body not received within {seconds:g} seconds.", None, "body_timeout"
        )

    @classmethod
    def unavailable(cls, what: str) -> AuthException:
        return AuthException(
            503, f"Authentication is temporarily unavailable ({what}).", None, "unavailable"
        )
