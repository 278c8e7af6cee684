"""HMAC-SHA256 request authentication for ASGI apps and httpx clients.

Wire-compatible with the DESTINY repository SDK (``destiny_sdk.auth``).
"""

from ._client import HMACSigningAuth, HMACSigningTransport
from ._dependency import BypassHMACAuth, HMACAuth, HMACAuthMethod
from ._errors import AuthException, WeakSecretWarning
from ._headers import HMACAuthorizationHeaders
from ._middleware import HMACMiddleware
from ._replay import MemoryReplayCache, RedisReplayCache, ReplayCache, ReplayCacheUnavailable
from ._signing import create_signature

__version__ = "0.1.0"

__all__ = [
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
]
