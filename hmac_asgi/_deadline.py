"""The slow-body guard: cancel a request's body read when it overruns its deadline.

A timer per request (``asyncio.timeout`` ~5 us, anyio's ``fail_after`` ~10 us,
even a bare ``call_later`` ~3 us) is a large share of a ~15 us verification.
Instead one :class:`Watchdog` per middleware keeps ``{task: deadline}`` per event
loop and one repeating tick cancels overdue tasks: per request that is a dict
set and delete. The price is precision: a body is cut between ``seconds`` and
``seconds + tick`` (tick = a quarter of ``seconds``, at most 1 s).
Outside asyncio (trio under hypercorn) :func:`receive_within` puts each
``receive`` under anyio's cancel scope instead, with an exact deadline.
"""

from __future__ import annotations

import asyncio
import time

import anyio
from starlette.types import Message, Receive

from ._errors import failure

__all__ = ["Watchdog", "receive_within"]

_monotonic = time.monotonic


class Watchdog:
    """Cancels the tasks that :meth:`arm` was called from once ``seconds`` have passed."""

    __slots__ = ("_expired", "_loops", "_tick_every", "longest", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._tick_every = min(1.0, seconds / 4)
        self.longest = seconds + self._tick_every  # the most a body read can last
        self._loops: dict[asyncio.AbstractEventLoop, dict[asyncio.Task[object], float]] = {}
        self._expired: set[asyncio.Task[object]] = set()

    def arm(self) -> asyncio.Task[object] | None:
        """Start the current task's deadline; ``None`` when not running under asyncio."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        task = asyncio.current_task(loop)
        if task is None:  # pragma: no cover - asyncio always runs coroutines in tasks
            return None
        deadlines = self._loops.get(loop)
        if deadlines is None:
            # Forget loops closed while they had a tick pending (tests, reloads).
            for old in [old for old in self._loops if old.is_closed()]:
                del self._loops[old]
            deadlines = self._loops[loop] = {}
            loop.call_later(self._tick_every, self._tick, loop)
        # time.monotonic here and in _tick, not loop.time(): one Python call less.
        deadlines[task] = _monotonic() + self.seconds
        return task

    def disarm(self, task: asyncio.Task[object]) -> bool:
        """Stop watching ``task``; ``True`` if its deadline had fired (we cancelled it)."""
        deadlines = self._loops.get(task.get_loop())
        if deadlines is not None:
            deadlines.pop(task, None)
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        deadlines = self._loops.get(loop)
        if not deadlines:
            self._loops.pop(loop, None)  # idle: stop ticking until the next arm()
            return
        now = _monotonic()
        for task in [task for task, deadline in deadlines.items() if deadline <= now]:
            del deadlines[task]
            self._expired.add(task)
            task.cancel()
        loop.call_later(self._tick_every, self._tick, loop)


def receive_within(receive: Receive, seconds: float) -> Receive:
    """``receive`` under a deadline ``seconds`` from now, for event loops the watchdog
    cannot watch (trio). anyio's portable cancel scope costs ~10 us a request, hence
    asyncio's watchdog.

    Raises (from the returned ``receive``):
        AuthException: 408 once the deadline has passed.
    """
    deadline = anyio.current_time() + seconds

    async def receive_in_time() -> Message:
        with anyio.CancelScope(deadline=deadline):
            return await receive()
        raise failure("body_timeout", seconds=seconds)  # reached only when cancelled

    return receive_in_time
