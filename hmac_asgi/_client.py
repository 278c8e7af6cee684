"""The client half: sign outgoing httpx requests, as ``httpx.Auth`` or as a transport.

Both add the three headers through :mod:`hmac_asgi._signing`, with a fresh
timestamp per request sent as ``f"{time.time()}"`` (so the header text is the
``repr(float)`` that is signed). Both correct a skewed clock once: when a 401 says
the timestamp was expired or in the future and the server's ``Date`` header
disagrees with ours by more than a few seconds, the request is signed again with
the server's time, once, and the offset is kept for later requests.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncGenerator, Generator, Iterable

import httpx

from ._signer import Clock, Signer, replayable

__all__ = ["HMACSigningAuth", "HMACSigningTransport"]

logger = logging.getLogger("hmac_asgi")

Origin = tuple[str, str, int]


def _origin(url: httpx.URL) -> Origin:
    return (url.scheme, url.host, url.port or {"http": 80, "https": 443}.get(url.scheme, 0))


class HMACSigningAuth(httpx.Auth):
    """``httpx.Auth`` signing each request; a drop-in for destiny-sdk's class of this name.

    Works with ``httpx.Client`` and ``httpx.AsyncClient``. Redirects followed by the
    client reuse the first hop's headers (httpx drops ``Authorization`` across
    origins): use :class:`HMACSigningTransport` to sign every hop.

    Parameters:
        secret_key: the secret shared with the server (``str`` is UTF-8 encoded).
        client_id: this client's UUID (version 4 or 7), a ``uuid.UUID`` or its text.
        clock: seconds since the epoch; injectable for tests.

    Raises:
        ValueError: empty ``secret_key``; ``client_id`` is not a UUIDv4/UUIDv7.
        TypeError: an argument of the wrong type.
    """

    requires_request_body = True
    # Only a 401 that may be a clock refusal has its (small) body read, by the
    # flows below; every other response stays unread, so streaming still works.
    requires_response_body = False

    def __init__(
        self, secret_key: str | bytes, client_id: uuid.UUID | str, *, clock: Clock = time.time
    ) -> None:
        self._signer = Signer(secret_key, client_id, clock)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id='{self._signer.client_id}')"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self._signer.sign(request)
        response = yield request
        if self._signer.corrected(response):
            self._signer.sign(request)  # once: a second refusal is returned as it is
            yield request

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()
        flow = self.auth_flow(request)
        request = next(flow)
        while True:
            response = yield request
            if self._signer.server_offset(response) is not None:
                response.read()
            try:
                request = flow.send(response)
            except StopIteration:
                return

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        flow = self.auth_flow(request)
        request = next(flow)
        while True:
            response = yield request
            if self._signer.server_offset(response) is not None:
                await response.aread()
            try:
                request = flow.send(response)
            except StopIteration:
                return


class HMACSigningTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Transport wrapper signing every request that goes out, each redirect hop afresh.

    Use it as ``httpx.Client(transport=...)`` or ``httpx.AsyncClient(transport=...)``.
    A streaming body (generator, file) is read into memory once to be signed.

    Only requests to trusted origins are signed, so a redirect to another host never
    carries a valid signature (the scheme does not sign the host or path, so such a
    signature could be replayed against you). By default the trusted origin is the
    one of the first request sent; pass ``origins`` to name them.

    Parameters:
        secret_key: the secret shared with the server (``str`` is UTF-8 encoded).
        client_id: this client's UUID (version 4 or 7), a ``uuid.UUID`` or its text.
        transport: the transport to wrap; by default an ``httpx.HTTPTransport``
            (sync use) or ``httpx.AsyncHTTPTransport`` (async use), made on first use.
        origins: base URLs to sign for, e.g. ``["https://api.example.com"]``;
            requests elsewhere go out unsigned (and a warning is logged).
        clock: seconds since the epoch; injectable for tests.

    Raises:
        ValueError: empty ``secret_key``; ``client_id`` is not a UUIDv4/UUIDv7;
            an origin that is not an absolute http(s) URL.
        TypeError: an argument of the wrong type.
    """

    def __init__(
        self,
        *,
        secret_key: str | bytes,
        client_id: uuid.UUID | str,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        origins: Iterable[str] | None = None,
        clock: Clock = time.time,
    ) -> None:
        if not isinstance(transport, (httpx.BaseTransport, httpx.AsyncBaseTransport, type(None))):
            raise TypeError(f"transport must be an httpx transport, not {type(transport).__name__}")
        self._signer = Signer(secret_key, client_id, clock)
        self._default = transport is None
        self._sync = transport if isinstance(transport, httpx.BaseTransport) else None
        self._async = transport if isinstance(transport, httpx.AsyncBaseTransport) else None
        self._origins: set[Origin] | None = None
        if origins is not None:
            if isinstance(origins, str):
                raise TypeError('origins takes a list of URLs, e.g. ["https://api.example.com"]')
            urls = [httpx.URL(origin) for origin in origins]
            for url in urls:
                if url.scheme not in ("http", "https") or not url.host:
                    raise ValueError(f"origins must be absolute http(s) URLs, not {str(url)!r}")
            self._origins = {_origin(url) for url in urls}

    def _trusted(self, request: httpx.Request) -> bool:
        """Whether to sign this request: its origin is trusted (pinned on first use)."""
        origin = _origin(request.url)
        if self._origins is None:
            self._origins = {origin}
        if origin in self._origins:
            return True
        logger.warning("not signing a request to untrusted origin %s://%s:%d", *origin)
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id='{self._signer.client_id}')"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._sync is None:
            if not self._default:
                raise TypeError("the wrapped transport is async-only: use an httpx.AsyncClient")
            self._sync = httpx.HTTPTransport()
        if not self._trusted(request):
            return self._sync.handle_request(request)
        request.read()
        self._signer.sign(request)
        response = self._sync.handle_request(request)
        if self._signer.server_offset(response) is None:
            return response
        try:  # a 401 that may refuse our clock: small, read it whole
            raw = b"".join(response.iter_raw())
        finally:
            response.close()
        if self._signer.resend(request, response, raw):
            return self._sync.handle_request(request)
        return replayable(response, raw)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._async is None:
            if not self._default:
                raise TypeError("the wrapped transport is sync-only: use an httpx.Client")
            self._async = httpx.AsyncHTTPTransport()
        if not self._trusted(request):
            return await self._async.handle_async_request(request)
        await request.aread()
        self._signer.sign(request)
        response = await self._async.handle_async_request(request)
        if self._signer.server_offset(response) is None:
            return response
        try:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
        if self._signer.resend(request, response, raw):
            return await self._async.handle_async_request(request)
        return replayable(response, raw)

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
