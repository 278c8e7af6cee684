"""What a test request runs on: scopes, one raw ASGI driver, the tiny apps, a real uvicorn.

- Scopes: :func:`http_scope` (headers as given), :func:`scope_for` (what a server builds
  for ``METHOD url``: ``Host`` from the URL, ``raw_path`` as sent), :func:`ws_scope`.
- :func:`drive` runs an app with chosen messages (any chunking, steps run between
  them, then a disconnect, a block, an error, or a refusal to be read) and records what
  was sent and what the app was given in an :class:`Outcome`.
- Apps: :func:`recording_app` (reads the body, records, 200), :func:`echo_app` and
  :func:`who_app` (answer JSON with who signed, then the body), :func:`ws_app`; and
  wrappers: :func:`capturing` (records headers), :func:`redirecting`, :func:`dated`.
- :func:`serve` runs an app under a real uvicorn on 127.0.0.1 in a thread.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Literal, Union
from urllib.parse import unquote

import anyio
import httpx
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Send

Headers = list[tuple[bytes, bytes]]
Step = Callable[[], object]  # run before the next message is handed over; may be awaitable
Script = Iterable[Union[Message, Step]]
Then = Literal["disconnect", "block", "raise", "forbid"]


def raw(headers: Mapping[str, str]) -> Headers:
    """httpx-style headers as a server hands them over: names lower-cased, bytes."""
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


# Scopes.


def http_scope(headers: Headers, path: str = "/", **extra: Any) -> dict[str, Any]:
    """A POST to ``path`` with exactly ``headers`` (no Host unless given)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        **extra,
    }


def scope_for(
    method: str, url: str, headers: Headers | Mapping[str, str], **extra: Any
) -> dict[str, Any]:
    """The scope an ASGI server builds for ``method url``: ``Host`` from the URL first,
    then ``headers``; ``path`` decoded, ``raw_path`` as sent."""
    u = httpx.URL(url)
    raw_path = u.raw_path.partition(b"?")[0]
    listed = raw(headers) if isinstance(headers, Mapping) else list(headers)
    scope = http_scope(
        [(b"host", u.netloc), *listed],
        path=unquote(raw_path.decode("ascii")),
        method=method,
        scheme=u.scheme,
        raw_path=raw_path,
        query_string=u.query,
    )
    scope.update(extra)
    return scope


def ws_scope(url: str, headers: Headers | Mapping[str, str], **extra: Any) -> dict[str, Any]:
    """A WebSocket handshake to ``url`` (an ``http://`` URL: the scheme becomes ``ws``)."""
    scope = scope_for("GET", url, headers)
    for key in ("method", "http_version"):
        del scope[key]
    scope.update(type="websocket", scheme="ws", asgi={"version": "3.0"}, subprotocols=[])
    scope.update(extra)
    return scope


# The driver.


@dataclass
class Outcome:
    """What the server saw: the messages sent, its ``receive`` calls, what the app got."""

    sent: list[Message] = field(default_factory=list)
    reads: int = 0  # calls of the server's receive
    app_calls: int = 0
    app_body: bytes | None = None
    app_scope: dict[str, Any] | None = None
    calls: list[tuple[dict[str, Any], bytes]] = field(default_factory=list)  # (state, body)
    receive: Receive | None = None  # the server's own callables, as the driver made them
    send: Send | None = None

    @property
    def status(self) -> int | None:
        for message in self.sent:
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                return int(message["status"])
        return None

    @property
    def headers(self) -> dict[bytes, bytes]:
        for message in self.sent:
            if message["type"].endswith("response.start"):
                return dict(message["headers"])
        return {}

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"].endswith("body"))

    def json(self) -> Any:
        return json.loads(self.body)

    def code(self) -> tuple[int | None, str | None]:
        """(status, the refusal's ``code``); ``code`` None for an answer that is not one."""
        try:
            payload = self.json()
        except ValueError:
            return self.status, None
        return self.status, payload.get("code") if isinstance(payload, dict) else None

    def seen(self, *keys: str) -> list[tuple[Any, ...]]:
        """Per call of the app: ``scope["state"][key]`` for each key, then the body."""
        return [(*(state[key] for key in keys), body) for state, body in self.calls]


async def drive(
    app: ASGIApp,
    scope: dict[str, Any],
    script: Script = (),
    outcome: Outcome | None = None,
    *,
    then: Then = "disconnect",
) -> Outcome:
    """Run ``app`` once: ``receive`` hands out the script's messages, running any step
    (a callable) found before one, then ``then``: ``http.disconnect`` forever, block
    forever (a client waiting for its answer), raise ``OSError`` (a failing server), or
    fail the test (the body must not be read). The script is read as it is asked for.
    """
    outcome = Outcome() if outcome is None else outcome
    pending = iter(script)

    async def receive() -> Message:
        outcome.reads += 1
        for item in pending:
            if not callable(item):
                return item
            result = item()
            if inspect.isawaitable(result):
                await result
        if then == "block":
            await anyio.sleep_forever()
        if then == "raise":
            raise OSError("connection reset by peer")
        if then == "forbid":
            raise AssertionError("the body must not be read")
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        outcome.sent.append(message)

    outcome.receive, outcome.send = receive, send
    await app(scope, receive, send)
    return outcome


def chunks(body: bytes, size: int) -> list[Message]:
    """``body`` as http.request messages of ``size`` bytes (one empty one for b"")."""
    if not body:
        return [{"type": "http.request", "body": b"", "more_body": False}]
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]


# Apps.


async def read_messages(receive: Receive) -> list[Message]:
    """What an app reads: every message up to the one that ends the body."""
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if not message.get("more_body", False):
            return messages


async def read_body(receive: Receive) -> bytes:
    """The body a raw ASGI app reads."""
    return b"".join(message.get("body", b"") for message in await read_messages(receive))


def recording_app(outcome: Outcome) -> ASGIApp:
    """Reads the whole body, records the call in ``outcome``, answers 200 ``ok``."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        outcome.app_calls += 1
        outcome.app_scope = scope
        messages = await read_messages(receive)
        assert all(message["type"] == "http.request" for message in messages), messages
        outcome.app_body = b"".join(message.get("body", b"") for message in messages)
        outcome.calls.append((dict(scope.get("state", {})), outcome.app_body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def _answer(send: Send, payload: dict[str, Any], body: bytes) -> None:
    """JSON ``payload``, a newline, then ``body``."""
    headers = [(b"content-type", b"application/json"), (b"x-body-echo", b"1")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(payload).encode() + b"\n" + body})


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    """JSON with destiny-sdk's verified client id and the body length, then the body."""
    if scope["type"] == "lifespan":
        return
    body = await read_body(receive)
    client_id = str(scope.get("state", {}).get("hmac_client_id"))
    await _answer(send, {"client_id": client_id, "body_len": len(body)}, body)


def whom(state: Mapping[str, Any], body: bytes) -> dict[str, Any]:
    """Who signed, as :func:`who_app` and :func:`ws_app` say it."""
    verified = state.get("hmac")
    return {
        "hmac": None if verified is None else [verified.scheme, str(verified.key_id)],
        "webhook_id": state.get("webhook_id"),
        "client_id": str(state.get("hmac_client_id")),
        "body_len": len(body),
    }


async def who_app(scope: Any, receive: Any, send: Any) -> None:
    """JSON with ``scope["state"]["hmac"]``, the webhook id, destiny's client id and the
    body length, then the body: any format's answer."""
    if scope["type"] == "lifespan":
        return
    body = await read_body(receive)
    await _answer(send, whom(scope.get("state", {}), body), body)


def who(response: httpx.Response) -> dict[str, Any]:
    """What :func:`who_app` (or :func:`echo_app`) answered, asserting it was reached."""
    assert response.status_code == 200, response.text
    head, _, _ = response.content.partition(b"\n")
    result: dict[str, Any] = json.loads(head)
    return result


async def ws_app(scope: Any, receive: Any, send: Any) -> None:
    """Accepts a WebSocket, sends who signed (:func:`whom`, as JSON text), closes."""
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": json.dumps(whom(scope["state"], b""))})
    await send({"type": "websocket.close", "code": 1000})


def capturing(app: ASGIApp, seen: list[dict[str, str]]) -> ASGIApp:
    """``app``, recording the headers of every HTTP request that reaches the server."""

    async def captured(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await app(scope, receive, send)

    return captured


def redirecting(app: ASGIApp) -> ASGIApp:
    """Paths /redirect/<status> redirect to /b?hop=2; everything else is ``app``."""

    async def routed(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/redirect/"):
            start = {"status": int(scope["path"][10:]), "headers": [(b"location", b"/b?hop=2")]}
            await send({"type": "http.response.start", **start})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    return routed


def dated(app: ASGIApp, clock: Callable[[], float] = time.time) -> ASGIApp:
    """``app`` with a ``Date`` header (as uvicorn adds one) from ``clock``."""

    async def with_date(scope: Any, receive: Any, send: Any) -> None:
        async def send_dated(message: Any) -> None:
            if message["type"] == "http.response.start":
                date = formatdate(clock(), usegmt=True).encode()
                message = {**message, "headers": [*message.get("headers", []), (b"date", date)]}
            await send(message)

        await app(scope, receive, send_dated)

    return with_date


# A real server.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(app: Any, **config: Any) -> Iterator[str]:
    """Run ``app`` under a real uvicorn on 127.0.0.1 in a thread; yields the base URL."""
    port = free_port()

    # uvicorn takes an app it can call with no arguments for a factory. A plain
    # function cannot be; an app object whose __call__ accepts *args (as under
    # mutation testing's wrappers) could, and would be called instead of served.
    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        await app(scope, receive, send)

    server = uvicorn.Server(
        uvicorn.Config(asgi, host="127.0.0.1", port=port, log_level="warning", **config)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
