"""Client-side signing state shared by the httpx Auth, the transport and the CLI.

Keys the HMAC once (never keeps the secret text), signs with a fresh timestamp per
request through :mod:`hmac_asgi._signing`, and learns a clock offset from a 401
that refused our timestamp when the server's ``Date`` disagrees with our clock.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timezone
from email.utils import parsedate_to_datetime

import httpx

from ._signing import client_uuid, finish_signature, new_mac, signed_suffix

__all__ = ["Clock", "Signer", "parse_client_id", "replayable"]

Clock = Callable[[], float]
_MIN_SKEW = 2.0  # seconds; ``Date`` has a resolution of one second
_CLOCK_REFUSALS = ("Token is expired.", "Request timestamp is too far in the future.")


def parse_client_id(client_id: uuid.UUID | str) -> uuid.UUID:
    """The client id as a ``uuid.UUID``; raises ``ValueError`` unless it is a UUIDv4/v7."""
    if not isinstance(client_id, (uuid.UUID, str)):
        raise TypeError(f"client_id must be a uuid.UUID or str, not {type(client_id).__name__}")
    try:
        return client_uuid(client_id)
    except ValueError as exc:
        hint = (
            f" (this {len(client_id)}-character str is not shown, in case it is the secret:"
            " are secret_key and client_id swapped?)"
            if isinstance(client_id, str)
            else ""
        )
        raise ValueError(f"client_id must be a UUID version 4 or 7, not {exc}{hint}") from None


class Signer:
    """The signing state both front ends share; keeps the key, never the secret text."""

    __slots__ = ("_clock", "_mac", "client_id", "offset")

    def __init__(self, secret_key: str | bytes, client_id: uuid.UUID | str, clock: Clock) -> None:
        if not isinstance(secret_key, (str, bytes)):
            raise TypeError(f"secret_key must be a str or bytes, not {type(secret_key).__name__}")
        if not secret_key:
            raise ValueError("secret_key is empty: pass the secret shared with the server")
        if not callable(clock):
            raise TypeError("clock must be a callable returning seconds since the epoch")
        self.client_id = parse_client_id(client_id)
        self._mac = new_mac(secret_key)  # keyed once, copied per request
        self._clock = clock
        self.offset = 0.0  # server time minus ours, learnt from a refused request

    def headers(self, body: bytes, timestamp: str | None = None) -> dict[str, str]:
        """The three headers for ``body``, signed now (or at ``timestamp``, header text)."""
        if timestamp is None:
            timestamp = f"{self._clock() + self.offset}"
        mac = self._mac.copy()
        mac.update(body)
        signature = finish_signature(mac, signed_suffix(self.client_id, timestamp))
        return {
            "Authorization": f"Signature {signature}",
            "X-Client-Id": str(self.client_id),
            "X-Request-Timestamp": timestamp,
        }

    def sign(self, request: httpx.Request) -> None:
        """Set the headers on a request whose body has been read."""
        request.headers.update(self.headers(request.content))

    def server_offset(self, response: httpx.Response) -> float | None:
        """For a 401, the clock offset its ``Date`` header implies, if it differs from ours."""
        date = response.headers.get("Date")
        if response.status_code != 401 or date is None:
            return None
        try:
            server = parsedate_to_datetime(date)
        except (TypeError, ValueError, IndexError):
            return None
        # HTTP dates are UTC, truncated to the second: the server's time is ~0.5 s later.
        server_time = server.replace(tzinfo=server.tzinfo or timezone.utc).timestamp() + 0.5
        now = self._clock()
        if abs(server_time - (now + self.offset)) <= _MIN_SKEW:
            return None
        return server_time - now

    def corrected(self, response: httpx.Response) -> bool:
        """Whether ``response`` (body read) refused our clock and taught us a better one."""
        offset = self.server_offset(response)
        if offset is None:
            return False
        try:
            payload = json.loads(response.content)
        except ValueError:  # also UnicodeDecodeError
            return False
        if not isinstance(payload, dict) or not (
            payload.get("detail") in _CLOCK_REFUSALS or payload.get("code") == "future_timestamp"
        ):
            return False
        self.offset = offset
        return True

    def resend(self, request: httpx.Request, response: httpx.Response, raw: bytes) -> bool:
        """The transport's decision on a 401 read as ``raw``: ``True`` when re-signed."""
        if not self.corrected(httpx.Response(401, headers=response.headers, content=raw)):
            return False
        self.sign(request)  # once: a second refusal is returned as it is
        return True


def replayable(response: httpx.Response, raw: bytes) -> httpx.Response:
    """A response handed on unchanged, its raw body now held in memory."""
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        stream=httpx.ByteStream(raw),
        extensions=response.extensions,
    )
