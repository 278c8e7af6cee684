"""The slow-body guard: a body that does not arrive within body_timeout gets 408."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from typing import Any

import pytest
from _asgi import Outcome, chunks, drive, echo_app, http_scope, read_body, recording_app, serve
from _signing import SECRET, signed

from hmac_asgi import HMACMiddleware


async def _stalled_run(timeout: float) -> tuple[Outcome, float]:
    outcome = Outcome()
    mw = HMACMiddleware(recording_app(outcome), secret_key=SECRET, body_timeout=timeout)
    started = time.monotonic()
    first = {"type": "http.request", "body": b"a", "more_body": True}
    # The client never sends the rest.
    await drive(mw, http_scope(signed("destiny", b"ab").raw), [first], outcome, then="block")
    return outcome, time.monotonic() - started


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_stalled_body_gets_408_and_app_is_not_called(anyio_backend: str) -> None:
    outcome, elapsed = await _stalled_run(0.2)
    assert outcome.status == 408
    assert outcome.json() == {
        "detail": "Request body not received within 0.2 seconds.",
        "code": "body_timeout",
    }
    assert outcome.app_calls == 0
    assert 0.15 < elapsed < 2


@pytest.mark.anyio
async def test_a_408_leaves_the_task_uncancelled() -> None:
    # The watchdog's cancel is taken back: the server's later awaits (and any
    # asyncio.timeout around the app) must not see a pending cancellation.
    outcome, _ = await _stalled_run(0.2)
    assert outcome.status == 408
    if sys.version_info >= (3, 11):
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0


@pytest.mark.anyio
async def test_concurrent_stalled_bodies_each_get_408() -> None:
    # One watchdog per middleware, one deadline per request: a second request
    # arriving must not make the first one's deadline forgotten.
    mw = HMACMiddleware(echo_app, secret_key=SECRET, body_timeout=0.2)
    first = {"type": "http.request", "body": b"a", "more_body": True}

    async def stalled(delay: float) -> tuple[Outcome, float]:
        await asyncio.sleep(delay)
        started = time.monotonic()
        scope = http_scope(signed("destiny", b"ab").raw)
        outcome = await drive(mw, scope, [first], then="block")
        return outcome, time.monotonic() - started

    runs = await asyncio.wait_for(asyncio.gather(stalled(0), stalled(0.05)), 5)
    assert [outcome.status for outcome, _ in runs] == [408, 408]
    assert all(elapsed < 2 for _, elapsed in runs)


@pytest.mark.anyio
async def test_a_slow_app_after_the_body_is_not_cut_off() -> None:
    # The deadline covers reading the body, not the app: it is disarmed once read.
    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        await read_body(receive)
        await asyncio.sleep(0.6)  # three times the body timeout
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    mw = HMACMiddleware(slow_app, secret_key=SECRET, body_timeout=0.2)
    outcome = await drive(mw, http_scope(signed("destiny", b"ab").raw), chunks(b"ab", 2))
    assert (outcome.status, outcome.body) == (200, b"done")


@pytest.mark.anyio
async def test_outside_cancellation_is_not_swallowed() -> None:
    outcome = Outcome()
    mw = HMACMiddleware(echo_app, secret_key=SECRET, body_timeout=30)
    scope = http_scope(signed("destiny", b"x").raw)
    task = asyncio.ensure_future(drive(mw, scope, [], outcome, then="block"))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert outcome.sent == []  # nothing was sent


@pytest.mark.anyio
async def test_no_timeout_when_disabled_and_fast_bodies_unaffected() -> None:
    for timeout in (None, 0.5):
        outcome = Outcome()
        mw = HMACMiddleware(recording_app(outcome), secret_key=SECRET, body_timeout=timeout)
        await drive(mw, http_scope(signed("destiny", b"ab").raw), chunks(b"ab", 2), outcome)
        assert outcome.status == 200 and outcome.app_body == b"ab"


def test_trickling_client_over_uvicorn_gets_408() -> None:
    body = b"z" * 100
    headers = signed("destiny", body).httpx
    with serve(HMACMiddleware(echo_app, secret_key=SECRET, body_timeout=0.5)) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            sock.sendall(
                f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode()
            )
            started = time.monotonic()
            reply = b""
            for byte in body[:30]:  # one byte every 0.05 s: 1.5 s in all, over the limit
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    break
                time.sleep(0.05)
                sock.setblocking(False)
                try:
                    reply += sock.recv(65536)
                except BlockingIOError:
                    pass
                finally:
                    sock.setblocking(True)
                if reply:
                    break
            sock.settimeout(5)
            while b"\r\n\r\n" not in reply:
                reply += sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 408 "), reply
    assert time.monotonic() - started < 1.5


@pytest.mark.anyio
async def test_watchdog_ticks_only_while_bodies_are_being_read() -> None:
    from hmac_asgi._deadline import Watchdog

    watchdog = Watchdog(0.2)
    task = watchdog.arm()
    assert task is asyncio.current_task()
    assert not watchdog.disarm(task)  # in time
    await asyncio.sleep(0.12)  # two ticks: the first finds nothing to watch and stops
    assert watchdog._loops == {}


def test_watchdog_forgets_closed_loops() -> None:
    from hmac_asgi._deadline import Watchdog

    watchdog = Watchdog(10)

    async def arm_and_leave() -> None:
        task = watchdog.arm()
        assert task is not None
        watchdog.disarm(task)

    asyncio.run(arm_and_leave())  # closed with a tick still pending
    asyncio.run(arm_and_leave())
    assert len(watchdog._loops) == 1  # the first loop is gone
