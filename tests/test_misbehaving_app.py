"""The app misbehaves after authentication: the middleware neither masks it nor answers twice.

Once a request is verified the middleware is out of the way: the app's exceptions
propagate unchanged (the very same object), the app's messages reach the server
unchanged (``send`` is the server's own), and after the replayed body the app's
``receive`` is the server's, whatever that does (``http.disconnect``, or block).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from _asgi import Outcome, Script, Then, chunks, drive, http_scope, read_body, read_messages
from _signing import CLIENT_ID, SECRET, signed
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive, Scope, Send

from hmac_asgi import AuthException, HMACMiddleware
from hmac_asgi._errors import failure

NOW = 1_800_000_000.5
BODY = b'{"order": 42, "lines": [1, 2, 3]}'
START: Message = {"type": "http.response.start", "status": 200, "headers": [(b"x-app", b"1")]}
PART: Message = {"type": "http.response.body", "body": b"partial", "more_body": True}
DONE: Message = {"type": "http.response.body", "body": b"done"}


class AppCrash(Exception):
    """The app's own bug."""


App = Callable[[Scope, Receive, Send], Awaitable[None]]


def headers(body: bytes = BODY) -> list[tuple[bytes, bytes]]:
    return signed("destiny", body, at=NOW).raw


async def run(
    app: App, server: Outcome, script: Script, body: bytes = BODY, *, then: Then = "disconnect",
    **scope: Any,
) -> None:  # fmt: skip
    """One request through the middleware around ``app``: ``server`` records the server's
    side; after ``script`` its receive does ``then`` (uvicorn blocks while the client
    waits for its response)."""
    mw = HMACMiddleware(app, secret_key=SECRET, clock=lambda: NOW)
    await drive(mw, http_scope(headers(body), **scope), script, server, then=then)


async def raised(
    expected: type[BaseException], app: App, server: Outcome, script: Script, *args: Any,
    **kwargs: Any,
) -> BaseException:  # fmt: skip
    """What :func:`run` raised: it must raise ``expected``."""
    with pytest.raises(expected) as info:
        await run(app, server, script, *args, **kwargs)
    return info.value


# Exceptions.


@pytest.mark.anyio
@pytest.mark.parametrize("reads_first", [False, True], ids=["unread", "after-reading"])
async def test_app_raising_before_it_starts_a_response_propagates_unchanged(
    reads_first: bool,
) -> None:
    crash = AppCrash("boom")
    calls = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope["state"]["hmac_client_id"])
        if reads_first:
            await read_messages(receive)
        raise crash

    server = Outcome()
    # The very object, not wrapped, not re-raised as another.
    assert await raised(AppCrash, app, server, chunks(BODY, 5)) is crash
    assert calls == [CLIENT_ID]  # it was verified and called once
    assert server.sent == []  # no 401, no 500: the server decides what a crash means


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("before_crash", "exc_type"),
    [([START], AppCrash), ([START, PART], AppCrash), ([START, PART], ClientDisconnect)],
    ids=["after-start", "after-a-body-part", "client-disconnect-after-a-part"],
)
async def test_app_raising_after_it_started_a_response_propagates_without_a_second_one(
    before_crash: list[Message], exc_type: type[Exception]
) -> None:
    crash = exc_type()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await read_messages(receive)
        for message in before_crash:
            await send(message)
        raise crash

    server = Outcome()
    assert await raised(exc_type, app, server, chunks(BODY, 7)) is crash
    # Exactly the app's own messages, the same objects: nothing added, nothing replaced.
    assert len(server.sent) == len(before_crash)
    assert all(a is b for a, b in zip(server.sent, before_crash, strict=True))


@pytest.mark.anyio
@pytest.mark.parametrize("started", [False, True])
async def test_app_raising_an_auth_exception_of_its_own_is_not_answered_by_the_middleware(
    started: bool,
) -> None:
    # The middleware catches AuthException only around its own checks; one the
    # app raises (e.g. its own route dependency) is the app's business.
    refusal = failure("invalid_signature")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if started:
            await send(START)
        raise refusal

    server = Outcome()
    assert await raised(AuthException, app, server, chunks(BODY, 100)) is refusal
    assert server.sent == ([START] if started else [])


@pytest.mark.anyio
async def test_app_returning_without_a_response_is_left_to_the_server() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await read_messages(receive)

    server = Outcome()
    await run(app, server, chunks(BODY, 100))
    assert server.sent == []  # the middleware does not invent one (uvicorn will 500)


@pytest.mark.anyio
async def test_server_failing_while_the_body_is_read_propagates_and_app_is_not_called() -> None:
    # A server error is not a client's fault: no 401, and the app never runs.
    calls = 0

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal calls
        calls += 1

    server = Outcome()
    with pytest.raises(OSError, match="reset by peer"):
        await run(app, server, chunks(BODY, 5)[:2], then="raise")
    assert calls == 0 and server.sent == []


# Not reading, reading twice.


@pytest.mark.anyio
async def test_app_that_never_reads_the_body_still_only_runs_for_a_verified_one() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(START)
        await send(DONE)

    server = Outcome()
    await run(app, server, chunks(BODY, 4))
    assert server.sent == [START, DONE]
    assert server.reads == len(chunks(BODY, 4))  # the middleware read it all, once; no more

    tampered = Outcome()
    await run(app, tampered, chunks(BODY.replace(b"42", b"43"), 4))
    assert tampered.sent[0]["status"] == 401 and len(tampered.sent) == 2


@pytest.mark.anyio
async def test_second_read_after_the_replay_gets_the_servers_disconnect() -> None:
    incoming = chunks(BODY, 6)
    seen: list[Message] = []
    second: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        messages = await read_messages(receive)
        seen.extend(messages)
        second.append(await receive())  # the buffered body is replayed once only
        second.append(await receive())
        await send(START)
        await send(DONE)

    server = Outcome()
    await run(app, server, incoming)
    # The body once, in order, then the server's receive itself.
    assert b"".join(m["body"] for m in seen) == BODY
    assert [m["more_body"] for m in seen] == [True] * (len(seen) - 1) + [False]
    assert second == [{"type": "http.disconnect"}] * 2
    assert server.reads == len(incoming) + 2  # every message read once by the middleware
    assert server.sent == [START, DONE]  # one response, the app's


@pytest.mark.anyio
async def test_second_read_blocks_on_the_server_while_the_client_waits() -> None:
    # uvicorn's receive blocks after the body until the client goes or the
    # response is sent; the replaying receive must hand over to it, not invent
    # an empty request or a disconnect.
    blocked = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert await read_body(receive) == BODY
        with anyio.move_on_after(0.05) as scope_:
            await receive()
        blocked.append(scope_.cancelled_caught)
        await send(START)
        await send(DONE)

    server = Outcome()
    await run(app, server, chunks(BODY, 10), then="block")
    assert blocked == [True]
    assert server.sent == [START, DONE]


@pytest.mark.anyio
async def test_app_treating_the_second_read_disconnect_as_an_error_is_not_masked() -> None:
    # Starlette's Request.body() after the stream is consumed, then a stream read:
    # the app raises ClientDisconnect; it reaches the server as is.
    from starlette.requests import Request

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        assert await request.body() == BODY
        async for _ in Request(scope, receive).stream():  # a second stream, new Request
            pass

    server = Outcome()
    with pytest.raises(ClientDisconnect):
        await run(app, server, chunks(BODY, 3))
    assert server.sent == []


@pytest.mark.anyio
async def test_the_app_gets_the_servers_send_and_receive_objects() -> None:
    # No wrapper around send (nothing to mask or duplicate a response); receive is
    # wrapped only while there is a body to replay.
    given: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        given["send"], given["receive"] = send, receive
        await send(START)
        await send(DONE)

    for scope_type in ("http", "websocket"):
        server = Outcome()
        body = BODY if scope_type == "http" else b""
        await run(app, server, chunks(body, 100) if body else [], body, type=scope_type)
        assert given["send"] == server.send
        assert (given["receive"] == server.receive) is (scope_type == "websocket")
        assert server.sent == [START, DONE]


@pytest.mark.anyio
async def test_websocket_app_crash_after_a_verified_handshake_propagates() -> None:
    crash = AppCrash("ws")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["state"]["hmac_client_id"] == CLIENT_ID
        assert await receive() == {"type": "websocket.connect"}
        raise crash

    server = Outcome()
    handshake = [{"type": "websocket.connect"}]
    assert await raised(AppCrash, app, server, handshake, b"", type="websocket") is crash
    assert server.sent == []
