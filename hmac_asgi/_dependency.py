"""Per-route dependency form, as in destiny-sdk: ``Depends(HMACAuth(secret_key))``.

Same verifier as the middleware (one scheme module, one pipeline); use it where
only some routes are protected, or when migrating from destiny-sdk. The body is
read under the same limits as the middleware's: a ``Content-Length`` over
``max_body_size`` is refused before a byte is read, a body growing past it while
read, and a body slower than ``body_timeout`` too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import anyio
from starlette.requests import Request

from ._checks import number
from ._errors import failure
from ._keys import Secrets
from ._verify import Clock, Verifier
from .schemes.destiny import DestinyScheme

__all__ = ["BypassHMACAuth", "HMACAuth", "HMACAuthMethod"]


class HMACAuthMethod(Protocol):
    """An auth method usable as a FastAPI dependency: ``Depends(instance)``."""

    async def __call__(self, request: Request) -> bool:
        """Return ``True`` when authorised; raise :class:`AuthException` otherwise."""
        ...  # pragma: no cover


class HMACAuth(HMACAuthMethod):
    """Verify the request's HMAC signature when used as a route or router dependency.

    FastAPI reads the body of a route that declares a body parameter *before*
    its dependencies run, so such a route's body is not bounded by this class:
    put :class:`HMACMiddleware` in front for that. A chunked HTTP/1.1 body (no
    ``Content-Length``) is refused with 411; an HTTP/2 body without a length is
    read under the limit and handed on at ``request.state.hmac_body``.

    Parameters:
        secret_key: the shared secret, or a list of secrets during rotation.
        max_age: seconds a timestamp stays valid, in the past and the future.
        max_body_size: the largest body read, in bytes (413 beyond).
        body_timeout: seconds the body may take to arrive (408 beyond); ``None``
            for no limit.
        clock: seconds since the epoch; inject one in tests.

    Raises:
        AuthException: 401 with destiny-sdk's messages, 408, 411, 413 (from ``__call__``).
    """

    def __init__(
        self,
        secret_key: Secrets,
        *,
        max_age: float = 300.0,
        max_body_size: int = 10 * 1024 * 1024,
        body_timeout: float | None = 30.0,
        clock: Clock = time.time,
    ) -> None:
        self._limit = number("max_body_size", max_body_size, integer=True, minimum=0)
        self._timeout = None if body_timeout is None else number("body_timeout", body_timeout)
        self._verifier = Verifier(
            DestinyScheme(secret_key=secret_key),
            max_age=max_age,
            body_time=self._timeout,
            clock=clock,
        )

    async def __call__(self, request: Request) -> bool:
        """Perform the authorisation check; sets ``request.state.hmac_client_id``."""
        verifier = self._verifier
        claim = verifier.claim(request.scope)
        check = await verifier.begin(claim)
        with anyio.move_on_after(self._timeout) as deadline:
            await self._read(request, check.update)
        if deadline.cancelled_caught:
            raise failure("body_timeout", seconds=self._timeout)
        verifier.verify(claim, check)
        verifier.accept(claim, request.scope, set_user=False)  # the app's own auth rules there
        return True

    async def _read(self, request: Request, update: Callable[[bytes], None]) -> None:
        """Feed the body to ``update``, never reading more than the limit.

        The route must still be able to read the body, and only ``request.body()``
        keeps it for the route (no public API hands a body back to a ``Request``):
        so it is used where the server bounds the body by its framing, a declared
        ``Content-Length`` or, in HTTP/1, none at all (no body). A chunked HTTP/1.1
        body has no such bound: 411 before reading. An HTTP/2 one without a length
        is read here, under the limit, and handed on at ``request.state.hmac_body``.
        """
        limit = self._limit
        headers = request.headers
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit():
            if len(declared) > 18 or int(declared) > limit:
                raise failure("body_too_large", limit=limit)  # before reading a byte
        elif "transfer-encoding" in headers:
            raise failure("length_required")
        if declared is not None or request.scope.get("http_version", "1.1") in ("1.0", "1.1"):
            update(await request.body())  # bounded by the framing
            return
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise failure("body_too_large", limit=limit)
            update(chunk)
            chunks.append(chunk)
        request.state.hmac_body = b"".join(chunks)


class BypassHMACAuth(HMACAuthMethod):
    """Always authorises. For local development and tests only, never production."""

    async def __call__(self, request: Request) -> bool:
        """Bypass the authorisation check."""
        return True
