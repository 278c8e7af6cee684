"""Per-route dependency form, as in destiny-sdk: ``Depends(HMACAuth(secret_key))``.

Same verifier as the middleware (one header parser, one signing primitive); use
it where only some routes are protected, or when migrating from destiny-sdk.
"""

from __future__ import annotations

import time
from typing import Protocol

from starlette.requests import Request

from ._headers import HMACAuthorizationHeaders
from ._keys import KeyRing, SecretsValue
from ._verify import Clock, Verifier

__all__ = ["BypassHMACAuth", "HMACAuth", "HMACAuthMethod"]


class HMACAuthMethod(Protocol):
    """An auth method usable as a FastAPI dependency: ``Depends(instance)``."""

    async def __call__(self, request: Request) -> bool:
        """Return ``True`` when authorised; raise :class:`AuthException` otherwise."""
        ...  # pragma: no cover


class HMACAuth(HMACAuthMethod):
    """Verify the request's HMAC signature when used as a route or router dependency.

    Parameters:
        secret_key: the shared secret, or a list of secrets during rotation.
        max_age: seconds a timestamp stays valid, in the past and the future.
        clock: seconds since the epoch; inject one in tests.

    Raises:
        AuthException: 401 with destiny-sdk's messages (from ``__call__``).
    """

    def __init__(
        self, secret_key: SecretsValue, *, max_age: float = 300.0, clock: Clock = time.time
    ) -> None:
        self._verifier = Verifier(KeyRing(secret_key=secret_key), max_age, clock)

    async def __call__(self, request: Request) -> bool:
        """Perform the authorisation check; sets ``request.state.hmac_client_id``."""
        headers = HMACAuthorizationHeaders.from_request(request)
        verification = await self._verifier.start(headers)
        verification.update(await request.body())
        verification.verify()
        request.state.hmac_client_id = headers.client_id
        return True


class BypassHMACAuth(HMACAuthMethod):
    """Always authorises. For local development and tests only, never production."""

    async def __call__(self, request: Request) -> bool:
        """Bypass the authorisation check."""
        return True
