"""Per-client secrets from environment variables, one variable per client.

    export HMAC_CLIENT_6234ddc9_6b49_4e45_9c0f_e91d2c381222="new-secret,old-secret"
    uvicorn --factory examples.keys_from_env:create_app

The variable name is ``HMAC_CLIENT_`` + the client's UUID with ``_`` for ``-``
(hyphens are not portable in variable names). The value is a comma-separated
list: the first secret is the current one, the others are still accepted while
the client moves over (rotation). To retire a secret, remove it and restart.
Secrets must not contain commas (``hmac-asgi keygen`` output never does).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hmac_asgi import HMACMiddleware, MemoryReplayCache

PREFIX = "HMAC_CLIENT_"


def client_secrets_from_env(
    environ: Mapping[str, str] = os.environ, prefix: str = PREFIX
) -> dict[uuid.UUID, list[str]]:
    """``{client_id: [current, previous...]}`` from ``HMAC_CLIENT_<uuid>`` variables.

    Raises:
        ValueError: a variable name is not a UUID, a value holds no secret, or
            no variable is set at all (a server that accepts nobody is a mistake).
    """
    secrets: dict[uuid.UUID, list[str]] = {}
    for name, value in environ.items():
        if not name.startswith(prefix):
            continue
        try:
            client_id = uuid.UUID(name[len(prefix) :].replace("_", "-"))
        except ValueError:
            raise ValueError(f"{name}: expected {prefix}<client uuid, _ for ->") from None
        items = [part.strip() for part in value.split(",") if part.strip()]
        if not items:
            raise ValueError(f"{name} holds no secret")
        secrets[client_id] = items
    if not secrets:
        raise ValueError(f"no {prefix}<client uuid> variables are set")
    return secrets


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"client_id": str(request.state.hmac_client_id)})


def create_app() -> Starlette:
    """A one-process app: secrets from the environment, replays refused in memory."""
    app = Starlette(routes=[Route("/whoami", whoami, methods=["GET", "POST"])])
    app.add_middleware(
        HMACMiddleware,
        client_secrets=client_secrets_from_env(),
        replay_cache=MemoryReplayCache(),
    )
    return app
