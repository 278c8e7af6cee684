"""The public surface: ``__all__`` is sorted, complete, documented, and holds the pinned names."""

from __future__ import annotations

import inspect
import types
from importlib.metadata import version
from pathlib import Path

import hmac_asgi

README = (Path(__file__).parent.parent / "README.md").read_text("utf-8")

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


def test_every_exported_name_is_ours_documented_and_in_the_readme() -> None:
    for name in hmac_asgi.__all__:
        value = getattr(hmac_asgi, name)
        assert value.__module__.startswith("hmac_asgi."), name
        assert inspect.getdoc(value), f"{name} has no docstring"
        assert f"`{name}" in README, f"{name} is not in the README"


def test_version_is_the_installed_distributions() -> None:
    assert version("hmac-asgi") == hmac_asgi.__version__
