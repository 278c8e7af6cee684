"""Litestar handlers that read who signed: ``request.user`` and ``request.auth.scopes``.

    HMAC_SECRET=... uvicorn --app-dir examples litestar_user:app

The middleware puts who signed a request at ``scope["user"]``, a ``Verified``
record (``.scheme``, ``.key_id``, ``.identity``), and its credentials at
``scope["auth"]``, whose ``scopes`` are ``["authenticated", <scheme>]``: what
Litestar hands out as ``request.user`` and ``request.auth``, and what its guards
see. Two formats are accepted here: destiny-sdk's for the existing clients (the
key id is their client UUID), and RFC 9421 for the billing service (the key id
is its keyid), the only one allowed to refund, as its signature covers the method
and path. One secret serves both in this example; give each caller its own.
"""

from __future__ import annotations

import os
from typing import Any

from litestar import Litestar, Request, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from starlette.authentication import AuthCredentials

from hmac_asgi import (
    DestinyScheme,
    HMACMiddleware,
    MessageSignatureScheme,
    Verified,
    hmac_openapi,
)

SECRET = os.environ["HMAC_SECRET"]

Signed = Request[Verified, AuthCredentials, Any]


def signed_with_rfc9421(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """A guard: only callers whose signature covers the method and path."""
    if "rfc9421" not in connection.auth.scopes:
        raise PermissionDeniedException("Refunds need an RFC 9421 signature.")


@get("/whoami")
async def whoami(request: Signed) -> dict[str, object]:
    caller = request.user
    return {
        "scheme": caller.scheme,
        "key_id": str(caller.key_id),
        "identity": caller.identity,
        "scopes": sorted(request.auth.scopes),
    }


@post("/refunds", guards=[signed_with_rfc9421])
async def refund(request: Signed) -> dict[str, object]:
    return {"refunded": await request.json(), "by": request.user.identity}


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(
    [whoami, refund, health],
    middleware=[
        DefineMiddleware(
            HMACMiddleware,
            schemes=[
                DestinyScheme(secret_key=SECRET),
                MessageSignatureScheme(keys={"billing-service": SECRET}),
            ],
            exclude_paths=("/health", "/schema", "/schema/openapi.json", "/schema/swagger"),
        )
    ],
)
hmac_openapi(app)  # both formats' headers in /schema/swagger
