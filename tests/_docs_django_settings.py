"""The smallest Django settings: what a documentation code block's ``asgi.py`` runs under.

``tests/test_docs_code.py`` points ``DJANGO_SETTINGS_MODULE`` here for a block that reads
it; the URLconf is this module, with no URL (the middleware answers before Django routes).
"""

from __future__ import annotations

import os

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]  # made by the test: tests/_secrets.py
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = __name__
urlpatterns: list[object] = []
