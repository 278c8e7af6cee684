"""Count refusals by code in Prometheus with the ``on_failure`` hook.

uvicorn --app-dir examples prometheus_metrics:app   # then GET /metrics (not signed)
"""

from __future__ import annotations

import os

from prometheus_client import Counter, make_asgi_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import Scope

from hmac_asgi import AuthException, HMACMiddleware

REFUSED = Counter("hmac_refused_requests", "Requests refused by HMACMiddleware", ["code", "status"])


def count_refusal(scope: Scope, exc: AuthException) -> None:
    # Label by code only: paths and client ids would make unbounded label sets.
    REFUSED.labels(code=exc.code, status=str(exc.status_code)).inc()


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"client_id": str(request.state.hmac_client_id)})


app = Starlette(routes=[Route("/hello", hello), Mount("/metrics", make_asgi_app())])
app.add_middleware(
    HMACMiddleware,
    secret_key=os.environ["HMAC_SECRET"],
    exclude_paths=("/metrics", "/metrics/"),
    on_failure=count_refusal,
)
