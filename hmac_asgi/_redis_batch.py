"""Auto-pipelining for ``RedisReplayCache``: the SETs of one event loop's turn share a
round trip.

The first call in a turn of the event loop opens a batch and schedules the task that
sends it; the calls made before that task runs (up to ``MAX_BATCH``) join it. The task
sends one non-transactional pipeline (one per node in a cluster) under the first
caller's deadline and answers each caller's future. A caller waits on its own future
only, so cancelling it (a client that disconnects) never cancels the round trip of the
others; and whatever happens, every future is answered: its reply, the store's error, or
the exception of a bug.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union, cast

from ._replay import ReplayCacheUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

    Client = Union[Redis, RedisCluster]

MAX_BATCH = 256  # SETs per round trip; more callers in one turn open another batch
Command = tuple[Any, ...]
_Future = asyncio.Future[Any]


class Batch:
    """The SETs of one round trip, the futures of their callers, the first one's deadline."""

    __slots__ = ("commands", "deadline", "futures")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.commands: list[Command] = []
        self.futures: list[_Future] = []


class Loop:
    """One event loop's client, its batch still taking callers, its batches in flight."""

    __slots__ = ("batch", "client", "cluster", "sending")

    def __init__(self, client: Client, cluster: bool) -> None:
        self.client, self.cluster = client, cluster
        self.batch: Batch | None = None
        self.sending: set[asyncio.Task[None]] = set()  # the loop holds tasks weakly


def join(here: Loop, command: Command, timeout: float) -> _Future:
    """The future of ``command``'s reply, in the batch this turn of the loop is filling."""
    loop = asyncio.get_running_loop()
    batch = here.batch
    if batch is None or len(batch.futures) >= MAX_BATCH:
        batch = here.batch = Batch(loop.time() + timeout)
        task = loop.create_task(_send(here, batch))  # runs at the loop's next turn
        here.sending.add(task)
        task.add_done_callback(here.sending.discard)
    future = loop.create_future()
    batch.commands.append(command)
    batch.futures.append(future)
    return future


async def _send(here: Loop, batch: Batch) -> None:
    """Answer every caller in the batch (a failed or late batch fails exactly its callers)."""
    if here.batch is batch:
        here.batch = None  # later callers open the next batch
    remaining = batch.deadline - asyncio.get_running_loop().time()
    try:
        await asyncio.wait_for(_answer(here, batch.commands, batch.futures), remaining)
    except BaseException as exc:
        failure = exc
        if not isinstance(exc, Exception):  # cancelled (the loop is closing...)
            failure = ReplayCacheUnavailable("redis: the round trip was cancelled")
        for future in batch.futures:
            if not future.done():
                future.set_exception(failure)
        if failure is not exc:
            raise


async def _answer(here: Loop, commands: list[Command], futures: list[_Future]) -> None:
    """Send the batch and answer its futures. In a cluster, one pipeline per node, each
    answered as it returns: a node that is down fails its own keys, not the others'."""
    groups: list[Sequence[int]] = [range(len(commands))]
    if here.cluster:
        cluster = cast("RedisCluster", here.client)
        await cluster.initialize()  # the slot map, at the first call
        by_node: dict[str | None, list[int]] = {}
        for i, command in enumerate(commands):
            try:
                node = cluster.get_node_from_key(command[1])
            except Exception:  # no node serves the slot: its pipeline says so
                node = None
            by_node.setdefault(node.name if node else None, []).append(i)
        groups = list(by_node.values())
    if len(groups) == 1:
        await _round_trip(here.client, commands, futures, groups[0])
    else:
        await asyncio.gather(*(_round_trip(here.client, commands, futures, g) for g in groups))


async def _round_trip(
    client: Client, commands: list[Command], futures: list[_Future], group: Sequence[int]
) -> None:
    """One non-transactional pipeline, routed by redis-py (a lone SET goes as itself); a
    SET's own error (``raise_on_error=False``) answers its caller only."""
    answers: list[Any]
    try:
        if len(group) == 1:
            answers = [await client.execute_command(*commands[group[0]])]
        else:
            pipe = client.pipeline(transaction=False)
            for i in group:
                pipe.execute_command(*commands[i])
            answers = await pipe.execute(raise_on_error=False)
    except Exception as exc:
        answers = [exc] * len(group)
    for i, answer in zip(group, answers, strict=True):
        if futures[i].done():  # its caller was cancelled
            continue
        if isinstance(answer, Exception):
            futures[i].set_exception(answer)
        else:
            futures[i].set_result(answer)
