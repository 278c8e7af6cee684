"""The public surface is exactly the documented names (DESIGN.md section 5)."""

from __future__ import annotations

import hmac_asgi

DOCUMENTED = {
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
    "ReplayCache",
    "ReplayCacheUnavailable",
    "WeakSecretWarning",
    "create_signature",
}


def test_all_is_sorted_and_exactly_the_documented_names() -> None:
    assert hmac_asgi.__all__ == sorted(hmac_asgi.__all__)
    assert set(hmac_asgi.__all__) == DOCUMENTED
    for name in hmac_asgi.__all__:
        assert getattr(hmac_asgi, name).__module__.startswith("hmac_asgi.")


def test_version_is_single_sourced() -> None:
    from importlib.metadata import version

    assert version("hmac-asgi") == hmac_asgi.__version__


def test_py_typed_is_shipped() -> None:
    from importlib.resources import files

    assert files("hmac_asgi").joinpath("py.typed").is_file()
