"""Django (ASGI) behind HMACMiddleware: ``uvicorn --app-dir examples django_app:app``.

One file for the example's sake; in a project, wrap ``get_asgi_application()``
the same way in ``asgi.py``.
"""

from __future__ import annotations

import json
import os

import django
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.http import HttpRequest, JsonResponse
from django.urls import path

from hmac_asgi import HMACMiddleware

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "django-example-only"),
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["*"],
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
    )
    django.setup()


def create_order(request: HttpRequest) -> JsonResponse:
    client_id = request.scope["state"]["hmac_client_id"]  # type: ignore[attr-defined]
    return JsonResponse({"accepted": json.loads(request.body), "client_id": str(client_id)})


urlpatterns = [path("orders", create_order)]

app = HMACMiddleware(get_asgi_application(), secret_key=os.environ["HMAC_SECRET"])
