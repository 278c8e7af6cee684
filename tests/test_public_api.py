"""The public surface: ``__all__`` is sorted, complete, documented, and holds the pinned names.

Documented twice over: a docstring, which the API reference (``docs/reference.md``) is
generated from, with an entry there for every exported name; and a mention in the pages
that explain how to use it (the rest of ``docs/``).
"""

from __future__ import annotations

import inspect
import re
import types
from importlib.metadata import version
from pathlib import Path

import hmac_asgi

DOCS = Path(__file__).resolve().parent.parent / "docs"
REFERENCE = (DOCS / "reference.md").read_text("utf-8")
PAGES = "\n".join(
    page.read_text("utf-8") for page in sorted(DOCS.rglob("*.md")) if page.name != "reference.md"
)

# The names users and examples depend on: these never go away.
PINNED = {
    "AuthException",
    "BypassHMACAuth",
    "HMACAuth",
    "HMACAuthMethod",
    "HMACAuthorizationHeaders",
    "HMACMiddleware",
    "HMACSigningAuth",
    "HMACSigningTransport",
    "MemoryReplayCache",
    "RedisReplayCache",
    "create_signature",
}


def test_all_is_sorted_unique_and_holds_the_pinned_names() -> None:
    assert hmac_asgi.__all__ == sorted(set(hmac_asgi.__all__))
    assert set(hmac_asgi.__all__) >= PINNED


def test_every_public_name_is_in_all() -> None:
    public = {
        name
        for name, value in vars(hmac_asgi).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(hmac_asgi.__all__)


def test_every_exported_name_is_ours_and_has_a_docstring() -> None:
    for name in hmac_asgi.__all__:
        value = getattr(hmac_asgi, name)
        assert value.__module__.startswith("hmac_asgi."), name
        assert inspect.getdoc(value), f"{name} has no docstring"


def test_the_api_reference_documents_exactly_the_exported_names() -> None:
    """One ``::: hmac_asgi.NAME`` entry per name of ``__all__``, and none for another."""
    entries = re.findall(r"^::: hmac_asgi\.(\w+)$", REFERENCE, re.MULTILINE)
    assert sorted(entries) == sorted(set(entries)), "an entry is there twice"
    assert set(entries) == set(hmac_asgi.__all__)


def test_every_exported_name_is_used_in_a_page_of_the_docs() -> None:
    for name in hmac_asgi.__all__:
        assert f"`{name}" in PAGES, f"{name} is in no page of docs/ but the API reference"


def test_version_is_the_installed_distributions() -> None:
    assert version("hmac-asgi") == hmac_asgi.__version__
