"""The client half: sign outgoing httpx requests, as ``httpx.Auth`` or as a transport.

Both sign through a scheme's :class:`~hmac_asgi.schemes.Signer`, with a fresh
timestamp per request. Both correct a skewed clock once: when a 401 from the
origin the request was signed for says the timestamp was expired or in the
future, and that server's ``Date`` header disagrees with our clock by more than
a few seconds, the request is signed again with the server's time, once, and
the offset is kept for later requests (replacing any earlier one).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Generator, Iterable
from datetime import timezone
from email.utils import parsedate_to_datetime

import httpx

from ._errors import CATALOGUE, Code
from .schemes import Signer, destiny, rfc9421, webhooks

__all__ = ["HMACSigningAuth", "HMACSigningTransport"]

logger = logging.getLogger("hmac_asgi")

Clock = Callable[[], float]
Origin = tuple[str, str, int]

# Every scheme's signing headers: a hop that is not signed carries none of them.
_SIGNING_HEADERS = destiny.HEADERS + rfc9421.HEADERS + webhooks.HEADERS
SCHEMES = ("destiny", "rfc9421", "standard-webhooks")
_MIN_SKEW = 2.0  # seconds; ``Date`` has a resolution of one second
_CLOCK_CODES: tuple[Code, ...] = ("expired", "future_timestamp")
_CLOCK_DETAILS = tuple(CATALOGUE[code][1] for code in _CLOCK_CODES)


def signer_for(
    scheme: str,
    secret_key: str | bytes,
    client_id: uuid.UUID | str | None = None,
    key_id: str | None = None,
    components: Iterable[str] | None = None,
    tag: str | None = None,
) -> Signer:
    """The signing half of ``scheme`` for one key (what the Auth, transport and CLI sign with).

    Raises:
        TypeError, ValueError: an unknown scheme, or arguments it does not take or lacks.
    """
    given = {"client_id": client_id, "key_id": key_id, "components": components, "tag": tag}
    takes = (
        {
            "destiny": {"client_id"},
            "rfc9421": {"key_id", "components", "tag"},
            "standard-webhooks": set(),
        }.get(scheme)
        if isinstance(scheme, str)
        else None
    )
    if takes is None:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}")
    extra = [name for name, value in given.items() if value is not None and name not in takes]
    if extra:
        raise TypeError(f"the {scheme} scheme does not take {', '.join(extra)}")
    if scheme == "destiny":
        if client_id is None:
            raise TypeError("the destiny scheme needs client_id (the client's UUID)")
        return destiny.DestinySigner(secret_key, client_id)
    if scheme == "rfc9421":
        if key_id is None:
            raise TypeError("the rfc9421 scheme needs key_id (the keyid the server knows)")
        if components is None:
            return rfc9421.MessageSigner(secret_key, key_id, tag=tag)
        return rfc9421.MessageSigner(secret_key, key_id, components=components, tag=tag)
    return webhooks.WebhookSigner(secret_key)


def _origin(url: httpx.URL) -> Origin:
    return (url.scheme, url.host, url.port or {"http": 80, "https": 443}.get(url.scheme, 0))


class _Signing:
    """What both front ends share: the scheme's signer, the clock and its learnt offset."""

    __slots__ = ("_clock", "offset", "signer")

    def __init__(self, signer: Signer, clock: Clock) -> None:
        if not callable(clock):
            raise TypeError("clock must be a callable returning seconds since the epoch")
        self.signer = signer
        self._clock = clock
        self.offset = 0.0  # server time minus ours, learnt from a refused request

    def sign(self, request: httpx.Request) -> None:
        """Set the signing headers on a request whose body has been read."""
        headers = request.headers  # one by one: Headers.update() costs ~9 us for three
        for name, value in self.signer.headers(request, self._clock() + self.offset).items():
            headers[name] = value

    def server_offset(
        self, response: httpx.Response, signed: httpx.Request | None = None
    ) -> float | None:
        """For a 401 from the origin the request was signed for, the clock offset its
        ``Date`` implies, if that differs from ours. Another host's clock (a redirect
        target's, seen by an ``httpx.Auth`` after redirects) is none of our business:
        give the ``signed`` request to check that (a transport sees each hop's own)."""
        if response.status_code != 401:
            return None
        if signed is not None and _origin(response.request.url) != _origin(signed.url):
            return None
        date = response.headers.get("Date")
        if date is None:
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

    def corrected(self, response: httpx.Response, signed: httpx.Request | None = None) -> bool:
        """Whether ``response`` (body read) refused our clock and taught us a better one."""
        offset = self.server_offset(response, signed)
        if offset is None:
            return False
        try:
            payload = json.loads(response.content)
        except ValueError:  # also UnicodeDecodeError
            return False
        if not isinstance(payload, dict) or not (
            payload.get("detail") in _CLOCK_DETAILS or payload.get("code") in _CLOCK_CODES
        ):
            return False
        self.offset = offset  # replaced, not added to: our clock may have been fixed since
        return True


class HMACSigningAuth(httpx.Auth):
    """``httpx.Auth`` signing each request; a drop-in for destiny-sdk's class of this name.

    Works with ``httpx.Client`` and ``httpx.AsyncClient``. Redirects followed by the
    client reuse the first hop's headers (httpx drops ``Authorization`` across
    origins): use :class:`HMACSigningTransport` to sign every hop.

    Parameters:
        secret_key: the secret shared with the server (``str`` is UTF-8 encoded;
            for Standard Webhooks the ``whsec_`` secret).
        client_id: this client's UUID (version 4 or 7), for destiny-sdk's format.
        scheme: ``"destiny"`` (the default), ``"rfc9421"`` or ``"standard-webhooks"``.
        key_id: the RFC 9421 ``keyid``.
        components: what an RFC 9421 signature covers (default: method, authority,
            path, query, and content-digest when there is a body).
        tag: an RFC 9421 ``tag`` parameter, if the server requires one.
        clock: seconds since the epoch; injectable for tests.

    Raises:
        ValueError: empty ``secret_key``; ``client_id`` is not a UUIDv4/UUIDv7.
        TypeError: an argument of the wrong type, or one the scheme does not take.
    """

    requires_request_body = True
    # Only a 401 that may be a clock refusal has its (small) body read, by the
    # flows below; every other response stays unread, so streaming still works.
    requires_response_body = False

    def __init__(
        self,
        secret_key: str | bytes,
        client_id: uuid.UUID | str | None = None,
        *,
        scheme: str = "destiny",
        key_id: str | None = None,
        components: Iterable[str] | None = None,
        tag: str | None = None,
        clock: Clock = time.time,
    ) -> None:
        signer = signer_for(scheme, secret_key, client_id, key_id, components, tag)
        self._signing = _Signing(signer, clock)

    def __repr__(self) -> str:
        return _repr(self, self._signing.signer)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self._signing.sign(request)
        response = yield request
        if self._signing.corrected(response, request):
            self._signing.sign(request)  # once: a second refusal is returned as it is
            yield request

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()
        flow = self.auth_flow(request)
        signed = next(flow)
        while True:
            response = yield signed
            if self._signing.server_offset(response, request) is not None:
                response.read()
            try:
                signed = flow.send(response)
            except StopIteration:
                return

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        flow = self.auth_flow(request)
        signed = next(flow)
        while True:
            response = yield signed
            if self._signing.server_offset(response, request) is not None:
                await response.aread()
            try:
                signed = flow.send(response)
            except StopIteration:
                return


class HMACSigningTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Transport wrapper signing every request that goes out, each redirect hop afresh.

    Use it as ``httpx.Client(transport=...)`` or ``httpx.AsyncClient(transport=...)``.
    A streaming body (generator, file) is read into memory once to be signed.

    Only requests to trusted origins are signed, so a redirect elsewhere never
    carries a valid signature (the scheme does not sign the host or path, so such a
    signature could be replayed against you): a request to another origin goes
    out with every signing header removed. By default the trusted origin is the
    one of the first request sent; pass ``origins`` to name them.

    Parameters:
        secret_key: the secret shared with the server (``str`` is UTF-8 encoded;
            for Standard Webhooks the ``whsec_`` secret).
        client_id: this client's UUID (version 4 or 7), for destiny-sdk's format.
        transport: the transport to wrap; by default an ``httpx.HTTPTransport``
            (sync use) or ``httpx.AsyncHTTPTransport`` (async use), made on first use.
        origins: base URLs to sign for, e.g. ``["https://api.example.com"]``;
            requests elsewhere go out unsigned (and a warning is logged).
        scheme: ``"destiny"`` (the default), ``"rfc9421"`` or ``"standard-webhooks"``.
        key_id: the RFC 9421 ``keyid``.
        components: what an RFC 9421 signature covers, as for :class:`HMACSigningAuth`.
        tag: an RFC 9421 ``tag`` parameter, if the server requires one.
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
        client_id: uuid.UUID | str | None = None,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        origins: Iterable[str] | None = None,
        scheme: str = "destiny",
        key_id: str | None = None,
        components: Iterable[str] | None = None,
        tag: str | None = None,
        clock: Clock = time.time,
    ) -> None:
        if not isinstance(transport, (httpx.BaseTransport, httpx.AsyncBaseTransport, type(None))):
            raise TypeError(f"transport must be an httpx transport, not {type(transport).__name__}")
        signer = signer_for(scheme, secret_key, client_id, key_id, components, tag)
        self._signing = _Signing(signer, clock)
        self._default = transport is None
        self._sync = transport if isinstance(transport, httpx.BaseTransport) else None
        self._async = transport if isinstance(transport, httpx.AsyncBaseTransport) else None
        self._origins: set[Origin] | None = None
        if origins is not None:
            if isinstance(origins, str):
                raise TypeError('origins takes a list of URLs, e.g. ["https://api.example.com"]')
            if not all(isinstance(origin, str) for origin in origins):
                raise TypeError(
                    'origins takes a list of str URLs, e.g. ["https://api.example.com"]'
                )
            urls = [httpx.URL(origin) for origin in origins]
            for url in urls:
                if url.scheme not in ("http", "https") or not url.host:
                    raise ValueError("origins must be absolute http(s) URLs like https://host")
            self._origins = {_origin(url) for url in urls}

    def _trusted(self, request: httpx.Request) -> bool:
        """Whether to sign this request: its origin is trusted (pinned on first use).

        A request that is not signed loses every signing header it carries (httpx
        keeps the previous hop's on a redirect to the same host, e.g. http to https).
        """
        origin = _origin(request.url)
        if self._origins is None:
            self._origins = {origin}
        if origin in self._origins:
            return True
        for name in _SIGNING_HEADERS:
            request.headers.pop(name, None)
        logger.warning("not signing a request to untrusted origin %s://%s:%d", *origin)
        return False

    def __repr__(self) -> str:
        return _repr(self, self._signing.signer)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._sync is None:
            if not self._default:
                raise TypeError("the wrapped transport is async-only: use an httpx.AsyncClient")
            self._sync = httpx.HTTPTransport()
        if not self._trusted(request):
            return self._sync.handle_request(request)
        request.read()
        self._signing.sign(request)
        response = self._sync.handle_request(request)
        if self._signing.server_offset(response) is None:
            return response
        try:  # a 401 that may refuse our clock: small, read it whole
            raw = b"".join(response.iter_raw())
        finally:
            response.close()
        if self._resend(request, response, raw):
            return self._sync.handle_request(request)
        return _replayable(response, raw)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._async is None:
            if not self._default:
                raise TypeError("the wrapped transport is sync-only: use an httpx.Client")
            self._async = httpx.AsyncHTTPTransport()
        if not self._trusted(request):
            return await self._async.handle_async_request(request)
        await request.aread()
        self._signing.sign(request)
        response = await self._async.handle_async_request(request)
        if self._signing.server_offset(response) is None:
            return response
        try:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
        if self._resend(request, response, raw):
            return await self._async.handle_async_request(request)
        return _replayable(response, raw)

    def _resend(self, request: httpx.Request, response: httpx.Response, raw: bytes) -> bool:
        """The decision on a 401 read as ``raw``: ``True`` when ``request`` was re-signed."""
        read = httpx.Response(401, headers=response.headers, content=raw)
        if not self._signing.corrected(read):  # a transport sees each hop's own answer
            return False
        self._signing.sign(request)  # once: a second refusal is returned as it is
        return True

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()


def _repr(owner: object, signer: Signer) -> str:
    """``HMACSigningAuth(client_id='...')``: which key, never the secret."""
    if isinstance(signer, destiny.DestinySigner):
        return f"{type(owner).__name__}(client_id='{signer.key_id}')"
    if isinstance(signer, rfc9421.MessageSigner):
        return f"{type(owner).__name__}(scheme='rfc9421', key_id={signer.key_id!r})"
    return f"{type(owner).__name__}(scheme='standard-webhooks')"


def _replayable(response: httpx.Response, raw: bytes) -> httpx.Response:
    """A response handed on unchanged, its raw body now held in memory."""
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        stream=httpx.ByteStream(raw),
        extensions=response.extensions,
    )
