"""``HMACMiddleware``: verify HMAC-signed requests in front of any ASGI app."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable, Iterable
from urllib.parse import quote

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._deadline import Watchdog
from ._errors import AuthException, Failure
from ._headers import HMACAuthorizationHeaders, scan_scope
from ._keys import ClientSecrets, KeyRing, SecretLookup, SecretsValue
from ._replay import ReplayCache, ReplayCacheUnavailable
from ._responses import send_failure
from ._verify import Clock, Verifier

__all__ = ["HMACMiddleware"]

logger = logging.getLogger("hmac_asgi")


class HMACMiddleware:
    """Pure ASGI middleware that lets through only requests signed per destiny-sdk.

    Per ``http`` or ``websocket`` scope (``lifespan`` and excluded paths pass
    straight through): headers → freshness → key → body and HMAC in one pass →
    constant-time compare → replay cache → app. The body is buffered as the
    server's own messages (no join, no copy) and replayed to the app exactly
    once, after which ``receive`` is the server's. The verified client id is put
    at ``scope["state"]["hmac_client_id"]``. Failures are answered here (401/413
    JSON, 503 when the replay cache or ``secret_lookup`` is down); the app is
    never called for them.

    Trust assumptions: the secrets are shared only with the clients; the method,
    path and query are not signed (the destiny-sdk scheme), so use TLS and a
    replay cache. See the README for every parameter.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret_key: SecretsValue | None = None,
        client_secrets: ClientSecrets | None = None,
        secret_lookup: SecretLookup | None = None,
        secret_lookup_ttl: float = 0.0,
        max_age: float = 300.0,
        max_body_size: int = 10 * 1024 * 1024,
        body_timeout: float | None = 30.0,
        exclude_paths: Iterable[str] = (),
        replay_cache: ReplayCache | None = None,
        replay_fail_open: bool = False,
        on_failure: Callable[[Scope, AuthException], None] | None = None,
        clock: Clock = time.time,
    ) -> None:
        if isinstance(max_body_size, bool) or not isinstance(max_body_size, int):
            raise TypeError("max_body_size must be an int (bytes)")
        if max_body_size < 0:
            raise ValueError(f"max_body_size must be >= 0, not {max_body_size}")
        if body_timeout is not None and (
            isinstance(body_timeout, bool)
            or not isinstance(body_timeout, (int, float))
            or not (0 < body_timeout < float("inf"))
        ):
            raise ValueError(f"body_timeout must be seconds > 0 or None, not {body_timeout!r}")
        if isinstance(exclude_paths, (str, bytes)):
            raise TypeError('exclude_paths takes a collection of paths, e.g. ("/health",)')
        excluded = frozenset(exclude_paths)
        for path in excluded:
            if not isinstance(path, str) or not path.startswith("/"):
                raise ValueError(f"exclude_paths entries are absolute paths, not {path!r}")
        if replay_cache is not None and not isinstance(replay_cache, ReplayCache):
            raise TypeError("replay_cache must have `async add_once(key, ttl) -> bool`")
        self.app = app
        self._verifier = Verifier(
            KeyRing(secret_key, client_secrets, secret_lookup, lookup_ttl=secret_lookup_ttl),
            max_age,
            clock,
        )
        self._max_body_size = max_body_size
        self._watchdog = Watchdog(float(body_timeout)) if body_timeout is not None else None
        self._static_keys = self._verifier.keys.is_static
        self._excluded = excluded
        self._replay_cache = replay_cache
        self._replay_fail_open = bool(replay_fail_open)
        if on_failure is not None and not callable(on_failure):
            raise TypeError("on_failure must be a callable (scope, AuthException) -> None")
        self._on_failure = on_failure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if (kind != "http" and kind != "websocket") or scope["path"] in self._excluded:
            await self.app(scope, receive, send)
            return
        headers = None
        messages: list[Message] = []
        try:
            headers, content_length = scan_scope(scope)
            if self._static_keys:  # no await: the common case stays cheap
                verification = self._verifier.start_static(headers)
            else:
                verification = await self._verifier.start(headers)
            if kind == "http":
                limit = self._max_body_size
                if content_length is not None and content_length > limit:
                    raise Failure.body_too_large(limit)  # before reading a byte
                # The body, fed into the HMAC as it arrives, the server's messages
                # kept. Inline, not a helper coroutine: each hop costs ~0.3 us.
                watchdog, task, reader = self._watchdog, None, receive
                if watchdog is not None:
                    task = watchdog.arm()
                    if task is None:  # not asyncio (trio)
                        reader = _in_time(receive, watchdog.seconds)
                update = verification.update
                size = 0
                try:
                    while True:
                        message = await reader()
                        if message.get("type") != "http.request":
                            return  # the client went away: nobody to answer, nothing to run
                        chunk = message.get("body", b"")
                        if chunk:
                            size += len(chunk)
                            if size > limit:
                                raise Failure.body_too_large(limit)
                            update(chunk)
                        messages.append(message)
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
                    raise Failure.body_timeout(watchdog.seconds) from None
                finally:
                    if watchdog is not None and task is not None:
                        watchdog.disarm(task)
            verification.verify()
            if self._replay_cache is not None:
                await self._check_replay(headers)
        except AuthException as exc:
            await self._refuse(scope, send, exc, headers)
            return
        scope.setdefault("state", {})["hmac_client_id"] = headers.client_id
        await self.app(scope, _replaying(messages, receive) if messages else receive, send)

    async def _refuse(
        self,
        scope: Scope,
        send: Send,
        exc: AuthException,
        headers: HMACAuthorizationHeaders | None,
    ) -> None:
        """Log the refusal, tell the ``on_failure`` hook, answer it."""
        claimed = headers.client_id if headers is not None else None
        logger.info(
            "refused %s %s: %s (client %s)",
            scope.get("method", "WEBSOCKET"),
            # The path is the client's, percent-decoded by the server: quoted (as
            # uvicorn's access log does) so a %0A cannot forge a second log line.
            quote(scope["path"]),
            exc.code,
            claimed or "-",
        )
        if self._on_failure is not None:
            self._on_failure(scope, exc)
        await send_failure(scope, send, exc)

    async def _check_replay(self, headers: HMACAuthorizationHeaders) -> None:
        """Record a verified signature; its second use within the window is refused."""
        assert self._replay_cache is not None  # noqa: S101 - checked by the caller
        key = f"{headers.client_id}:{headers.signature}"
        ttl = max(self._verifier.window_left(headers.timestamp), 0.001)
        try:
            first_use = await self._replay_cache.add_once(key, ttl)
        except ReplayCacheUnavailable as exc:
            if not self._replay_fail_open:
                logger.error("replay cache unavailable, refusing requests (fail closed): %s", exc)
                raise Failure.unavailable("replay cache") from exc
            logger.error("replay cache unavailable, NOT checking replays (fail open): %s", exc)
            return
        if not first_use:
            raise Failure.replayed()


def _in_time(receive: Receive, seconds: float) -> Receive:
    """``receive`` under a deadline, for event loops the watchdog cannot watch (trio).

    anyio's portable cancel scope costs ~10 us a request, hence asyncio's watchdog.
    """
    deadline = anyio.current_time() + seconds

    async def receive_in_time() -> Message:
        with anyio.CancelScope(deadline=deadline):
            return await receive()
        raise Failure.body_timeout(seconds)  # only reached when the deadline cancelled it

    return receive_in_time


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands out the buffered messages once, then the server's."""
    pending = iter(messages)

    async def replay_receive() -> Message:
        message = next(pending, None)
        return message if message is not None else await receive()

    return replay_receive
