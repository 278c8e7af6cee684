"""A cheap per-request deadline for reading the body (the slow-body guard).

``asyncio.timeout`` costs ~5 us per use and anyio's ``fail_after`` ~10 us, a
large share of a ~40 us request. One ``call_later`` handle that cancels the
reading task costs ~1 us: that is all a deadline needs. Outside asyncio (e.g.
trio under hypercorn) it falls back to anyio's portable cancel scope.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

__all__ = ["DeadlineExceeded", "run_with_deadline"]

T = TypeVar("T")


class DeadlineExceeded(Exception):
    """The awaited work did not finish before the deadline."""


async def run_with_deadline(seconds: float, work: Callable[[], Awaitable[T]]) -> T:
    """Await ``work()``; raise :class:`DeadlineExceeded` if it takes over ``seconds``.

    Cancellation from outside (server shutdown, a client gone) is never swallowed.
    """
    try:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
    except RuntimeError:  # not asyncio
        loop = task = None  # type: ignore[assignment]
    if task is None:
        try:
            with anyio.fail_after(seconds):
                return await work()
        except TimeoutError as exc:
            raise DeadlineExceeded from exc

    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    handle = loop.call_later(seconds, expire)
    try:
        return await work()
    except asyncio.CancelledError:
        # Ours only if the timer fired and nobody else asked to cancel too.
        if not expired or (sys.version_info >= (3, 11) and task.uncancel() > 0):
            raise
        raise DeadlineExceeded from None
    finally:
        handle.cancel()
