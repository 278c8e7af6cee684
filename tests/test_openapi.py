"""``hmac_openapi``: the signature headers in FastAPI's and Litestar's OpenAPI documents.

Each document is fetched from the running app (``/openapi.json``, ``/schema/openapi.json``)
in process and over a real uvicorn, and checked against the OpenAPI 3.1 JSON schema.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from _asgi import serve
from _signing import CLIENT_ID, SECRET
from fastapi import Depends, FastAPI
from fastapi.security import APIKeyHeader
from litestar import Litestar, MediaType
from litestar import Request as LitestarRequest
from litestar import get as litestar_get
from litestar import post as litestar_post
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from openapi_spec_validator import validate
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware

from hmac_asgi import (
    DestinyScheme,
    HMACMiddleware,
    HMACSigningTransport,
    MessageSignatureScheme,
    StandardWebhookScheme,
    hmac_openapi,
)
from hmac_asgi.schemes import destiny, rfc9421, webhooks

WEBHOOK_SECRET = "whsec_" + base64.b64encode(SECRET.encode()).decode()
KEY_ID = "billing-service"
FASTAPI_DOCS = ("/docs", "/openapi.json")
LITESTAR_DOCS = ("/schema", "/schema/openapi.json", "/schema/swagger")
DESTINY = {f"destiny.{name}" for name in destiny.HEADERS}
RFC9421 = {f"rfc9421.{name}" for name in rfc9421.HEADERS}
WEBHOOKS = {f"standard-webhooks.{name}" for name in webhooks.HEADERS}


def three_schemes() -> list[Any]:
    return [
        DestinyScheme(secret_key=SECRET),
        MessageSignatureScheme(keys={KEY_ID: SECRET}),
        StandardWebhookScheme(secrets=WEBHOOK_SECRET),
    ]


def fastapi_app(docs: tuple[str, ...] = FASTAPI_DOCS, **config: Any) -> FastAPI:
    app = FastAPI()

    @app.post("/orders")
    async def create_order() -> dict[str, str]:
        return {"created": "yes"}

    @app.get("/orders/{order_id}")
    async def read_order(order_id: int) -> dict[str, int]:
        return {"order": order_id}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(HMACMiddleware, exclude_paths=("/health", *docs), **config)
    app.add_middleware(GZipMiddleware, minimum_size=1000)  # others beside it are not read
    hmac_openapi(app)
    return app


@litestar_post("/orders", status_code=200)
async def litestar_create_order() -> dict[str, str]:
    return {"created": "yes"}


@litestar_get("/orders/{order_id:int}")
async def litestar_read_order(request: LitestarRequest[Any, Any, Any]) -> dict[str, int]:
    return {"order": request.path_params["order_id"]}


@litestar_get("/health")
async def litestar_health() -> dict[str, str]:
    return {"status": "ok"}


def unchanged(app: Any) -> Any:
    """A plain middleware factory, as Litestar takes them besides ``DefineMiddleware``."""
    return app


def litestar_app(docs: tuple[str, ...] = LITESTAR_DOCS, **config: Any) -> Litestar:
    middleware = DefineMiddleware(HMACMiddleware, exclude_paths=("/health", *docs), **config)
    app = Litestar(
        [litestar_create_order, litestar_read_order, litestar_health],
        # Others beside it are not read: a factory and a DefineMiddleware with arguments.
        middleware=[unchanged, middleware, DefineMiddleware(GZipMiddleware, minimum_size=1000)],
    )
    hmac_openapi(app)
    return app


async def fetch(app: Any, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        return await c.get(path)


async def document(app: Any, path: str) -> dict[str, Any]:
    response = await fetch(app, path)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    validate(data)  # OpenAPI 3.1, as the framework declares it
    return data


def requirements(data: dict[str, Any], path: str, method: str) -> list[set[str]] | None:
    security = data["paths"][path][method].get("security")
    return None if security is None else [set(requirement) for requirement in security]


def check_schemes(data: dict[str, Any], names: set[str]) -> None:
    schemes = data["components"]["securitySchemes"]
    assert set(schemes) == names
    for name, scheme in schemes.items():
        assert scheme["type"] == "apiKey" and scheme["in"] == "header"
        assert name.endswith("." + scheme["name"])
        assert scheme["description"]


# The shapes: one format, the destiny shorthand, all three; both frameworks.

APPS: dict[str, tuple[Callable[..., Any], str, tuple[str, ...]]] = {
    "fastapi": (fastapi_app, "/openapi.json", FASTAPI_DOCS),
    "litestar": (litestar_app, "/schema/openapi.json", LITESTAR_DOCS),
}
CONFIGS: dict[str, tuple[Callable[[], dict[str, Any]], list[set[str]]]] = {
    "destiny-shorthand": (lambda: {"secret_key": SECRET}, [DESTINY]),
    "rfc9421": (
        lambda: {"schemes": [MessageSignatureScheme(keys={KEY_ID: SECRET})]},
        [RFC9421],
    ),
    "three-formats": (lambda: {"schemes": three_schemes()}, [DESTINY, RFC9421, WEBHOOKS]),
}


@pytest.mark.anyio
@pytest.mark.parametrize("framework", APPS)
@pytest.mark.parametrize("config", CONFIGS)
async def test_protected_operations_require_the_headers_excluded_ones_do_not(
    framework: str, config: str
) -> None:
    build, schema_path, _ = APPS[framework]
    make_config, wanted = CONFIGS[config]
    data = await document(build(**make_config()), schema_path)
    check_schemes(data, set().union(*wanted))
    # One requirement per format (its headers ANDed), the formats ORed, in their order.
    assert requirements(data, "/orders", "post") == wanted
    assert requirements(data, "/orders/{order_id}", "get") == wanted
    assert requirements(data, "/health", "get") is None


@pytest.mark.anyio
@pytest.mark.parametrize("framework", APPS)
async def test_the_docs_work_unsigned_when_excluded_and_the_api_stays_protected(
    framework: str,
) -> None:
    build, _, docs = APPS[framework]
    app = build(secret_key=SECRET)
    for path in docs:
        response = await fetch(app, path)
        assert response.status_code == 200, (path, response.text)
    assert (await fetch(app, "/orders/1")).status_code == 401
    signing = HMACSigningTransport(
        secret_key=SECRET, client_id=CLIENT_ID, transport=httpx.ASGITransport(app)
    )
    async with httpx.AsyncClient(transport=signing, base_url="http://t") as client:
        signed = await client.get("/orders/1")
    assert signed.status_code == 200 and signed.json() == {"order": 1}


@pytest.mark.anyio
@pytest.mark.parametrize("framework", APPS)
async def test_docs_not_excluded_are_refused_like_any_route(framework: str) -> None:
    build, schema_path, _ = APPS[framework]
    response = await fetch(build(docs=(), secret_key=SECRET), schema_path)
    assert (response.status_code, response.json()["code"]) == (401, "missing_authorization")


@pytest.mark.anyio
async def test_recipes_in_the_descriptions() -> None:
    data = await document(fastapi_app(schemes=three_schemes()), "/openapi.json")
    schemes = data["components"]["securitySchemes"]
    # The first header of each format carries the recipe; the others point to it.
    first = {"destiny.Authorization", "rfc9421.Signature-Input", "standard-webhooks.webhook-id"}
    for name in first:
        assert "hmac-asgi sign" in schemes[name]["description"]
        assert "HMACSigningTransport(" in schemes[name]["description"]
    for name in set(schemes) - first:
        assert "hmac-asgi sign" not in schemes[name]["description"]
        assert any(f"`{other}`" in schemes[name]["description"] for other in first)
    assert "UUID(client_id).bytes" in schemes["destiny.Authorization"]["description"]
    assert (
        '"@method" "@authority" "@path" "@query"'
        in (schemes["rfc9421.Signature-Input"]["description"])
    )
    assert "Content-Digest" in schemes["rfc9421.Signature-Input"]["description"]
    assert (
        "{webhook_id}.{webhook_timestamp}."
        in (schemes["standard-webhooks.webhook-id"]["description"])
    )


def test_rfc9421_describes_this_servers_policy() -> None:
    custom = MessageSignatureScheme(
        keys={KEY_ID: SECRET}, required_components=["@method", "@path"], tag="orders"
    ).openapi()
    assert custom.name == "rfc9421"
    assert [name for name, _ in custom.headers] == list(rfc9421.HEADERS)
    assert '`"@method" "@path"`' in custom.recipe and '`"orders"`' in custom.recipe
    assert "Content-Digest" not in custom.recipe  # not required by this policy
    # The command line signs the default policy only: the Python client is offered instead.
    assert "hmac-asgi sign" not in custom.recipe
    assert "components=['@method', '@path'], tag='orders'" in custom.recipe
    untagged = MessageSignatureScheme(keys={KEY_ID: SECRET}, required_components=["@method"])
    assert "hmac-asgi sign" not in untagged.openapi().recipe  # components alone are enough
    assert "components=['@method'])" in untagged.openapi().recipe
    tagged = MessageSignatureScheme(keys={KEY_ID: SECRET}, tag="orders").openapi()
    assert "hmac-asgi sign" not in tagged.recipe and "tag='orders'" in tagged.recipe
    nonce = MessageSignatureScheme(keys={KEY_ID: SECRET}, require_nonce=True).openapi()
    assert "nonce" in nonce.recipe and "HMACSigningTransport" not in nonce.recipe


def test_each_scheme_describes_its_own_headers() -> None:
    for scheme, module in zip(three_schemes(), (destiny, rfc9421, webhooks), strict=True):
        description = scheme.openapi()
        assert description.name == scheme.name
        assert tuple(name for name, _ in description.headers) == module.HEADERS
        assert all(line for _, line in description.headers)


@pytest.mark.anyio
async def test_middleware_wrapping_the_app_from_outside_is_given_explicitly() -> None:
    inner = FastAPI()

    @inner.get("/orders")
    async def orders() -> list[str]:
        return []

    @inner.get("/ready")
    async def ready() -> str:
        return "yes"

    schemes = [MessageSignatureScheme(keys={KEY_ID: SECRET})]
    exclude = ("/ready", *FASTAPI_DOCS)
    hmac_openapi(inner, schemes=schemes, exclude_paths=exclude)
    app = HMACMiddleware(inner, schemes=schemes, exclude_paths=exclude)
    data = await document(app, "/openapi.json")
    assert requirements(data, "/orders", "get") == [RFC9421]
    assert requirements(data, "/ready", "get") is None


@pytest.mark.anyio
async def test_arguments_given_win_over_the_middlewares() -> None:
    app = FastAPI()

    @app.get("/a")
    async def a() -> None: ...

    @app.get("/b")
    async def b() -> None: ...

    app.add_middleware(HMACMiddleware, secret_key=SECRET, exclude_paths=("/a", *FASTAPI_DOCS))
    hmac_openapi(app, exclude_paths=("/b",))
    data = await document(app, "/openapi.json")
    assert requirements(data, "/a", "get") == [DESTINY]
    assert requirements(data, "/b", "get") is None


@pytest.mark.anyio
async def test_an_operations_own_security_is_kept_and_anded() -> None:
    app = FastAPI()
    tenant = APIKeyHeader(name="X-Tenant")

    @app.get("/tenant", dependencies=[Depends(tenant)])
    async def scoped() -> None: ...

    app.add_middleware(HMACMiddleware, schemes=three_schemes(), exclude_paths=FASTAPI_DOCS)
    hmac_openapi(app)
    hmac_openapi(app)  # twice: no change
    await document(app, "/openapi.json")  # twice: no change
    data = await document(app, "/openapi.json")
    both = [{"APIKeyHeader"} | formats for formats in (DESTINY, RFC9421, WEBHOOKS)]
    assert requirements(data, "/tenant", "get") == both
    assert "APIKeyHeader" in data["components"]["securitySchemes"]


@pytest.mark.anyio
async def test_fastapi_documents_own_security_is_kept_and_anded() -> None:
    # FastAPI's documented way to change its document: an app.openapi of one's own, here
    # requiring a bearer token on every operation. Ours is added to it, never instead.
    app = FastAPI()

    @app.post("/orders")
    async def create_order() -> dict[str, str]:
        return {"created": "yes"}

    generate = app.openapi

    def with_bearer() -> dict[str, Any]:
        document = generate()
        document["security"] = [{"BearerToken": []}]
        schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["BearerToken"] = {"type": "http", "scheme": "bearer"}
        return document

    app.openapi = with_bearer  # type: ignore[method-assign]
    app.add_middleware(HMACMiddleware, secret_key=SECRET, exclude_paths=FASTAPI_DOCS)
    hmac_openapi(app)
    data = await document(app, "/openapi.json")
    assert requirements(data, "/orders", "post") == [{"BearerToken"} | DESTINY]
    assert data["security"] == [{"BearerToken": []}]


@pytest.mark.anyio
async def test_litestar_documents_and_handlers_own_security_is_kept_and_anded() -> None:
    @litestar_get("/admin", security=[{"AdminKey": []}], media_type=MediaType.TEXT)
    async def admin() -> str:
        return "admin"

    config = OpenAPIConfig(
        title="orders",
        version="1",
        security=[{"BearerToken": []}],  # the whole document's
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(type="http", scheme="bearer"),
                "AdminKey": SecurityScheme(
                    type="apiKey", name="X-Admin", security_scheme_in="header"
                ),
            }
        ),
    )
    app = Litestar(
        [litestar_create_order, litestar_health, admin],
        openapi_config=config,
        middleware=[
            DefineMiddleware(
                HMACMiddleware, secret_key=SECRET, exclude_paths=("/health", *LITESTAR_DOCS)
            )
        ],
    )
    hmac_openapi(app)
    data = await document(app, "/schema/openapi.json")
    assert set(data["components"]["securitySchemes"]) == {"BearerToken", "AdminKey"} | DESTINY
    assert requirements(data, "/orders", "post") == [{"BearerToken"} | DESTINY]
    assert requirements(data, "/admin", "get") == [{"AdminKey"} | DESTINY]
    assert requirements(data, "/health", "get") is None  # the document's own applies
    assert data["security"] == [{"BearerToken": []}]


# Over a real uvicorn: the documents as a browser's Swagger UI fetches them.


def test_fastapi_over_uvicorn() -> None:
    with serve(fastapi_app(schemes=three_schemes())) as url:
        docs = httpx.get(f"{url}/docs", timeout=10)
        data = httpx.get(f"{url}/openapi.json", timeout=10).json()
        unsigned = httpx.post(f"{url}/orders", timeout=10)
    assert docs.status_code == 200 and "swagger-ui" in docs.text.lower()
    validate(data)
    assert requirements(data, "/orders", "post") == [DESTINY, RFC9421, WEBHOOKS]
    assert requirements(data, "/health", "get") is None
    assert unsigned.status_code == 401


def test_litestar_over_uvicorn_with_a_route_registered_after_the_call() -> None:
    app = litestar_app(schemes=three_schemes())

    @litestar_get("/later", media_type=MediaType.TEXT)
    async def later() -> str:
        return "later"

    app.register(later)  # rebuilds the document: completed again at startup
    with serve(app) as url:
        swagger = httpx.get(f"{url}/schema/swagger", timeout=10)
        data = httpx.get(f"{url}/schema/openapi.json", timeout=10).json()
        unsigned = httpx.get(f"{url}/later", timeout=10)
    assert swagger.status_code == 200 and "swagger-ui" in swagger.text.lower()
    validate(data)
    assert requirements(data, "/orders", "post") == [DESTINY, RFC9421, WEBHOOKS]
    assert requirements(data, "/later", "get") == [DESTINY, RFC9421, WEBHOOKS]
    assert requirements(data, "/health", "get") is None
    assert unsigned.status_code == 401


# Mistakes, said at the call.


def test_refuses_what_it_cannot_document() -> None:
    with pytest.raises(TypeError, match="FastAPI or Litestar"):
        hmac_openapi(Starlette())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no HMACMiddleware"):
        hmac_openapi(FastAPI())
    twice = FastAPI()
    twice.add_middleware(HMACMiddleware, secret_key=SECRET)
    twice.add_middleware(HMACMiddleware, secret_key=SECRET)
    with pytest.raises(ValueError, match="more than once"):
        hmac_openapi(twice)
    hmac_openapi(twice, schemes=[DestinyScheme(secret_key=SECRET)], exclude_paths=())  # told
    with pytest.raises(ValueError, match="openapi_config=None"):
        hmac_openapi(Litestar([], openapi_config=None), schemes=[DestinyScheme(secret_key=SECRET)])
    app = FastAPI()
    with pytest.raises(TypeError, match="non-empty list"):
        hmac_openapi(app, schemes=[])
    with pytest.raises(TypeError, match="no openapi"):
        hmac_openapi(app, schemes=[object()])  # type: ignore[list-item]
    destiny_only = [DestinyScheme(secret_key=SECRET)]
    with pytest.raises(TypeError, match="collection of paths"):
        hmac_openapi(app, schemes=destiny_only, exclude_paths="/health")
    with pytest.raises(TypeError, match="not an iterator"):
        hmac_openapi(app, schemes=destiny_only, exclude_paths=iter(["/health"]))
    with pytest.raises(TypeError, match="not a str"):
        hmac_openapi(app, schemes=destiny_only, exclude_paths=[b"/health"])  # type: ignore[list-item]


def test_imports_neither_framework_itself() -> None:
    import subprocess
    import sys

    code = (
        "import sys, hmac_asgi; "
        "assert not {'fastapi', 'litestar'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
