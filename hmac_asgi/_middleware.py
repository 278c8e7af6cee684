"""``HMACMiddleware``: verify HMAC-signed requests in front of any ASGI app."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._checks import number, type_name
from ._deadline import Watchdog, receive_within
from ._errors import AuthException, failure
from ._keys import Lookup, Secrets
from ._replay import ReplayCache
from ._responses import send_failure
from ._verify import Clock, Explaining, Verifier
from .schemes import Claim, Scheme
from .schemes.destiny import ClientSecrets, DestinyScheme

__all__ = ["HMACMiddleware"]

logger = logging.getLogger("hmac_asgi")

# Body chunks smaller than this are copied together, so that what a request holds is
# its body bytes, a few dozen bytes per 64 KiB and one 64 KiB buffer, however the
# client chunks it (empty messages hold nothing).
_COALESCE = 64 * 1024


class HMACMiddleware:
    """Pure ASGI middleware that lets through only requests signed in an accepted format.

    Per ``http`` or ``websocket`` scope (``lifespan`` and excluded paths pass
    straight through, any other scope type is refused): headers → freshness →
    key → body and MAC in one pass → constant-time compare → replay cache →
    app. The body is held as its bytes (small chunks joined) and replayed to the
    app exactly once, after which ``receive`` is the server's. Who signed it is
    put at ``scope["state"]["hmac"]`` (a :class:`~hmac_asgi.schemes.Verified`),
    and for destiny-sdk's format the client id at ``["hmac_client_id"]``.
    Failures are answered here (401/408/413 JSON, 503 when the replay cache or a
    key lookup is down); the app is never called for them.

    The formats: ``secret_key`` / ``client_secrets`` / ``secret_lookup`` accept
    destiny-sdk's; ``schemes=[DestinyScheme(...), MessageSignatureScheme(...),
    StandardWebhookScheme(...)]`` any of them, each request verified by the one
    whose headers it carries. Trust assumptions: the secrets are shared only with
    the clients; destiny-sdk's format does not sign the method, path or query, so
    use TLS and a replay cache with it. Every parameter: docs/configuration.md.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        schemes: Sequence[Scheme[Any]] | None = None,
        secret_key: Secrets | None = None,
        client_secrets: ClientSecrets | None = None,
        secret_lookup: Lookup[uuid.UUID] | None = None,
        secret_lookup_ttl: float = 0.0,
        max_age: float = 300.0,
        max_body_size: int = 10 * 1024 * 1024,
        body_timeout: float | None = 30.0,
        exclude_paths: Iterable[str] = (),
        replay_cache: ReplayCache | None = None,
        replay_fail_open: bool = False,
        on_failure: Callable[[Scope, AuthException], None] | None = None,
        set_user: bool = True,
        explain_failures: bool = False,
        clock: Clock = time.time,
    ) -> None:
        self._max_body_size = number("max_body_size", max_body_size, integer=True, minimum=0)
        if body_timeout is None:
            self._watchdog = None
        else:
            try:
                self._watchdog = Watchdog(number("body_timeout", body_timeout))
            except TypeError as exc:  # a ValueError, as it always was
                raise ValueError(f"{exc} (or None)") from None
        if isinstance(exclude_paths, (str, bytes)):
            raise TypeError('exclude_paths takes a collection of paths, e.g. ("/health",)')
        self._excluded = frozenset(exclude_paths)
        for path in self._excluded:
            if not isinstance(path, str) or not path.startswith("/"):
                raise ValueError(
                    'exclude_paths entries are absolute paths starting with "/", e.g. "/health"'
                    f" (one is {type_name(path)} that is not)"
                )
        if on_failure is not None and not callable(on_failure):
            raise TypeError("on_failure must be a callable (scope, AuthException) -> None")
        self.app = app
        shorthands = (secret_key, client_secrets, secret_lookup)
        if schemes is None:
            if all(value is None for value in shorthands):
                raise TypeError(
                    "give exactly one of secret_key, client_secrets or secret_lookup,"
                    " or schemes=[...] (got none)"
                )
            schemes = [
                DestinyScheme(
                    secret_key=secret_key,
                    client_secrets=client_secrets,
                    secret_lookup=secret_lookup,
                    secret_lookup_ttl=secret_lookup_ttl,
                )
            ]
        elif any(value is not None for value in shorthands) or secret_lookup_ttl != 0.0:
            raise TypeError(
                "schemes= and secret_key / client_secrets / secret_lookup are exclusive:"
                " give the destiny-sdk format as DestinyScheme(...) among the schemes"
            )
        self._verifiers = [
            Verifier(
                scheme,
                max_age=max_age,
                body_time=self._watchdog.longest if self._watchdog is not None else None,
                replay_cache=replay_cache,
                replay_fail_open=replay_fail_open,
                clock=clock,
            )
            for scheme in _checked(schemes)
        ]
        # One format: it answers every request (with its own messages, destiny-sdk's
        # for "Authorization header missing."). Several: the headers choose.
        self._verifier = self._verifiers[0] if len(self._verifiers) == 1 else None
        self._owners = {
            marker: verifier for verifier in self._verifiers for marker in verifier.scheme.markers
        }
        self._names = ", ".join(verifier.scheme.name for verifier in self._verifiers)
        self._challenge = {
            name: value
            for verifier in self._verifiers
            for name, value in verifier.scheme.challenge.items()
        }
        self._on_failure = on_failure
        self._set_user = bool(set_user)
        self._explain = bool(explain_failures)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            if kind != "lifespan":
                # Not something we know how to authenticate: never hand it over unchecked.
                raise RuntimeError(f"HMACMiddleware refuses ASGI scope type {kind!r}")
            await self.app(scope, receive, send)
            return
        if scope["path"] in self._excluded:
            await self.app(scope, receive, send)
            return
        verifier = self._verifier
        claim: Claim | None = None
        body: list[bytes] = []
        try:
            if verifier is None:
                verifier = self._choose(scope)
            claim = verifier.claim(scope)
            if verifier.is_static:  # no await: the common case stays cheap
                check = verifier.begin_static(claim)
            else:
                check = await verifier.begin(claim)
            if self._explain:
                check = Explaining(check, verifier.scheme, claim)
            if kind == "http":
                limit = self._max_body_size
                if _content_length(scope) > limit:
                    raise failure("body_too_large", limit=limit)  # before reading a byte
                # The body, fed into the MAC as it arrives. Inline, not a helper
                # coroutine: each hop costs a fraction of a microsecond.
                watchdog, task, reader = self._watchdog, None, receive
                if watchdog is not None:
                    task = watchdog.arm()
                    if task is None:  # not asyncio (trio)
                        reader = receive_within(receive, watchdog.seconds)
                update = check.update
                size = 0
                tail: bytearray | None = None  # small chunks, being joined
                try:
                    while True:
                        message = await reader()
                        if message.get("type") != "http.request":
                            return  # the client went away: nobody to answer, nothing to run
                        chunk = message.get("body", b"")
                        if chunk:
                            size += len(chunk)
                            if size > limit:
                                raise failure("body_too_large", limit=limit)
                            update(chunk)
                            # Kept as is: the first chunk (a small body costs no copy)
                            # and big ones; small ones after the first are joined, so
                            # all but the first and the last hold 64 KiB or more.
                            if tail is not None:
                                tail += chunk
                                if len(tail) >= _COALESCE:
                                    body.append(bytes(tail))
                                    tail = None
                            elif not body or len(chunk) >= _COALESCE:
                                body.append(chunk)
                            else:
                                tail = bytearray(chunk)
                        if not message.get("more_body", False):
                            break
                except asyncio.CancelledError:
                    # Ours only if the watchdog fired and nobody else asked to cancel too.
                    if (
                        watchdog is None
                        or task is None
                        or not watchdog.disarm(task)
                        or (sys.version_info >= (3, 11) and task.uncancel())
                    ):
                        raise
                    raise failure("body_timeout", seconds=watchdog.seconds) from None
                finally:
                    if watchdog is not None and task is not None:
                        watchdog.disarm(task)
                if tail is not None:
                    body.append(bytes(tail))
            verifier.verify(claim, check)
            if verifier.replay is not None and (pending := verifier.record(claim)) is not None:
                await pending
        except AuthException as exc:
            await self._refuse(scope, send, exc, verifier, claim)
            return
        verifier.accept(claim, scope, self._set_user)
        await self.app(scope, _replaying(body, receive) if kind == "http" else receive, send)

    def _choose(self, scope: Scope) -> Verifier:
        """The one format whose headers the request carries.

        Raises:
            AuthException: 401, it carries none, or several.
        """
        owners = self._owners
        found = {owners[name] for name, _ in scope["headers"] if name in owners}
        if len(found) == 1:
            return found.pop()
        if not found:
            raise failure("no_signature", schemes=self._names)
        names = ", ".join(sorted(verifier.scheme.name for verifier in found))
        raise failure("ambiguous_signature", schemes=names)

    async def _refuse(
        self,
        scope: Scope,
        send: Send,
        exc: AuthException,
        verifier: Verifier | None,
        claim: Claim | None,
    ) -> None:
        """Log the refusal, tell the ``on_failure`` hook, answer it."""
        logger.info(
            "refused %s %s: %s (client %s)",
            scope.get("method", "WEBSOCKET"),
            # The path is the client's, percent-decoded by the server: quoted (as
            # uvicorn's access log does) so a %0A cannot forge a second log line.
            quote(scope["path"]),
            exc.code,
            "-" if claim is None or claim.key_id is None else claim.key_id,
        )
        if self._on_failure is not None:
            self._on_failure(scope, exc)
        # What the format wants (RFC 9421's Accept-Signature); every format's when
        # the request did not say which it meant.
        challenge = self._challenge if verifier is None else verifier.scheme.challenge
        await send_failure(scope, send, exc, challenge if exc.status_code == 401 else {})


def _checked(schemes: Sequence[Scheme[Any]]) -> Sequence[Scheme[Any]]:
    """Validate ``schemes=``: a non-empty list of formats, each at most once."""
    if isinstance(schemes, (str, bytes)) or not isinstance(schemes, Sequence) or not schemes:
        raise TypeError("schemes takes a non-empty list, e.g. [DestinyScheme(secret_key=...)]")
    names: set[str] = set()
    markers: set[bytes] = set()
    for scheme in schemes:
        needed = ("name", "markers", "keys", "challenge", "parse", "begin", "replay_key", "accept")
        if not all(hasattr(scheme, attribute) for attribute in needed):
            raise TypeError(f"schemes holds {type_name(scheme)}, which is not a scheme")
        if scheme.name in names or markers & scheme.markers:
            raise ValueError(f"schemes lists the {scheme.name} format twice: give it once")
        names.add(scheme.name)
        markers |= scheme.markers
    return schemes


def _content_length(scope: Scope) -> int:
    """The declared ``Content-Length`` (the largest, if repeated), or -1 when there is none
    that is a number (the server frames the body then, and the limit applies as it comes)."""
    declared = -1
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit():
            # int() refuses more than 4300 digits (ValueError: a 500). A number
            # that long is over any limit: cap it rather than convert it.
            digits = value.lstrip(b"0")
            declared = max(declared, int(digits or b"0") if len(digits) <= 18 else 10**18)
    return declared


def _replaying(body: list[bytes], receive: Receive) -> Receive:
    """A ``receive`` that hands out the buffered body once, then is the server's."""
    last = len(body) - 1
    index = 0

    async def replay_receive() -> Message:
        nonlocal index
        if index > last:
            if index == 0:  # no body at all: still one (empty) message
                index = 1
                return {"type": "http.request", "body": b"", "more_body": False}
            return await receive()
        chunk = body[index]
        body[index] = b""  # handed over: the app holds it now
        index += 1
        return {"type": "http.request", "body": chunk, "more_body": index <= last}

    return replay_receive
