"""Several uvicorn workers (or machines) sharing one replay cache in Redis.

A signed request is accepted once across every worker: replaying it to another
worker is refused, which an in-process ``MemoryReplayCache`` cannot promise.

    pip install 'hmac-asgi[redis]' uvicorn
    export HMAC_SECRET_KEY="$(hmac-asgi keygen)" REDIS_URL=redis://127.0.0.1:6379/0
    uvicorn --factory examples.multiworker_redis:create_app --workers 2

If Redis is down or slow (over 0.5 s), requests get 503 until it is back
(fail closed); pass ``replay_fail_open=True`` to let them through unchecked.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hmac_asgi import HMACMiddleware, RedisReplayCache


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"client_id": str(request.state.hmac_client_id), "pid": os.getpid()})


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "pid": os.getpid()})


def create_app() -> Starlette:
    """Called once in each worker process, so each has its own Redis connection pool."""
    replay_cache = RedisReplayCache.from_url(os.environ["REDIS_URL"], timeout=0.5)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await replay_cache.aclose()

    app = Starlette(
        routes=[Route("/whoami", whoami, methods=["GET", "POST"]), Route("/health", health)],
        lifespan=lifespan,
    )
    app.add_middleware(
        HMACMiddleware,
        secret_key=os.environ["HMAC_SECRET_KEY"],
        replay_cache=replay_cache,
        exclude_paths=("/health",),
    )
    return app
