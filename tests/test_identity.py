"""Who is calling, as each framework expects it: request.user, request.auth, @requires."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest
from _signing import CLIENT_ID, SECRET
from fastapi import Depends, FastAPI
from litestar import Litestar, Request, post
from litestar.middleware import DefineMiddleware
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, requires
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

from hmac_asgi import (
    DestinyScheme,
    HMACMiddleware,
    HMACSigningTransport,
    MessageSignatureScheme,
    StandardWebhookScheme,
    Verified,
)

KEY_ID = "orders-key-1"
WHSEC = "whsec_" + base64.b64encode(SECRET.encode()).decode()
SCHEMES = [
    DestinyScheme(secret_key=SECRET),
    MessageSignatureScheme(keys={KEY_ID: SECRET}),
    StandardWebhookScheme(secrets=[WHSEC]),
]
SIGNING = {
    "destiny": {"client_id": CLIENT_ID},
    "rfc9421": {"scheme": "rfc9421", "key_id": KEY_ID},
    "standard-webhooks": {"scheme": "standard-webhooks"},
}
KEYS = {"destiny": SECRET, "rfc9421": SECRET, "standard-webhooks": WHSEC}
IDENTITY = {"destiny": str(CLIENT_ID), "rfc9421": KEY_ID, "standard-webhooks": "standard-webhooks"}


async def whoami(request: StarletteRequest) -> JSONResponse:
    return JSONResponse(
        {
            "identity": request.user.identity,
            "display_name": request.user.display_name,
            "authenticated": request.user.is_authenticated,
            "scopes": request.auth.scopes,
            "same_as_state": request.user is request.state.hmac,
        }
    )


@requires("authenticated")
async def members_only(request: StarletteRequest) -> JSONResponse:
    return JSONResponse({"ok": True})


@requires("rfc9421")
async def rfc9421_only(request: StarletteRequest) -> JSONResponse:
    return JSONResponse({"ok": True})


def starlette_app(**options: Any) -> Starlette:
    routes = [
        Route("/whoami", whoami, methods=["POST"]),
        Route("/members", members_only, methods=["POST"]),
        Route("/rfc9421", rfc9421_only, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(HMACMiddleware, schemes=SCHEMES, **options)
    return app


async def call(app: Any, scheme: str, path: str, signed: bool = True) -> httpx.Response:
    asgi = httpx.ASGITransport(app)
    transport: httpx.AsyncBaseTransport = (
        HMACSigningTransport(secret_key=KEYS[scheme], transport=asgi, **SIGNING[scheme])
        if signed
        else asgi
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        return await client.post(path, content=b'{"n": 1}')


@pytest.mark.anyio
@pytest.mark.parametrize("scheme", SIGNING)
async def test_starlette_request_user_and_auth(scheme: str) -> None:
    """request.user is the Verified record, request.auth says authenticated and the format."""
    answer = (await call(starlette_app(), scheme, "/whoami")).json()
    assert answer == {
        "identity": IDENTITY[scheme],
        "display_name": IDENTITY[scheme],
        "authenticated": True,
        "scopes": ["authenticated", scheme],
        "same_as_state": True,
    }


@pytest.mark.anyio
@pytest.mark.parametrize("scheme", SIGNING)
async def test_starlette_requires_sees_the_scopes(scheme: str) -> None:
    """@requires("authenticated") lets every verified caller in; @requires("rfc9421") only those."""
    app = starlette_app()
    assert (await call(app, scheme, "/members")).status_code == 200
    assert (await call(app, scheme, "/rfc9421")).status_code == (
        200 if scheme == "rfc9421" else 403
    )


@pytest.mark.anyio
async def test_set_user_false_leaves_user_and_auth_to_the_app() -> None:
    """With set_user=False an app's own AuthenticationMiddleware keeps its word."""

    class Backend:
        async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, Any]:
            from starlette.authentication import SimpleUser

            return AuthCredentials(["own"]), SimpleUser("their-user")

    async def who(request: StarletteRequest) -> JSONResponse:
        return JSONResponse(
            {"user": request.user.display_name, "hmac": request.state.hmac.identity}
        )

    for set_user, expected in ((False, "their-user"), (True, str(CLIENT_ID))):
        app = Starlette(
            routes=[Route("/whoami", who, methods=["POST"])],
            # Listed outermost first: theirs runs first, ours (inside) last.
            middleware=[
                Middleware(AuthenticationMiddleware, backend=Backend()),
                Middleware(HMACMiddleware, secret_key=SECRET, set_user=set_user),
            ],
        )
        answer = (await call(app, "destiny", "/whoami")).json()
        assert answer == {"user": expected, "hmac": str(CLIENT_ID)}


@pytest.mark.anyio
async def test_fastapi_request_user_and_a_dependency_on_it() -> None:
    """FastAPI reads the same scope keys: request.user in a route and in a dependency."""

    def caller(request: StarletteRequest) -> Verified:
        assert "authenticated" in request.auth.scopes
        user: Verified = request.user
        return user

    app = FastAPI()

    @app.post("/whoami")
    async def whoami_route(user: Verified = Depends(caller)) -> dict[str, str]:  # noqa: B008
        return {"scheme": user.scheme, "identity": user.identity}

    app.add_middleware(HMACMiddleware, schemes=SCHEMES)
    for scheme in SIGNING:
        answer = (await call(app, scheme, "/whoami")).json()
        assert answer == {"scheme": scheme, "identity": IDENTITY[scheme]}


@pytest.mark.anyio
async def test_litestar_request_user_and_auth() -> None:
    """Litestar's request.user and request.auth read scope["user"] and scope["auth"]."""

    @post("/whoami", sync_to_thread=False, status_code=200)
    def litestar_whoami_post(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return {"identity": request.user.identity, "scopes": request.auth.scopes}

    app = Litestar(
        [litestar_whoami_post], middleware=[DefineMiddleware(HMACMiddleware, schemes=SCHEMES)]
    )
    for scheme in SIGNING:
        answer = (await call(app, scheme, "/whoami")).json()
        assert answer == {"identity": IDENTITY[scheme], "scopes": ["authenticated", scheme]}


def test_verified_is_a_frozen_record() -> None:
    """Equal by (scheme, key_id), hashable, read-only, and a Starlette BaseUser."""
    a, b = Verified("destiny", CLIENT_ID), Verified("destiny", uuid.UUID(str(CLIENT_ID)))
    assert a == b and hash(a) == hash(b) and a != Verified("rfc9421", str(CLIENT_ID))
    assert (a.scheme, a.key_id) == ("destiny", CLIENT_ID)
    assert Verified("standard-webhooks", None).identity == "standard-webhooks"
    assert repr(a) == f"Verified(scheme='destiny', key_id={CLIENT_ID!r})"
    with pytest.raises(AttributeError):
        a.scheme = "rfc9421"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        a._key_id = None
