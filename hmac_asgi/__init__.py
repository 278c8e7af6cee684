"""HMAC-SHA256 request authentication for ASGI apps and httpx clients.

Wire-compatible with the DESTINY repository SDK (``destiny_sdk.auth``).
"""

from ._client import HMACSigningAuth, HMACSigningTransport
from ._dependency import BypassHMACAuth, HMACAuth, HMACAuthMethod
from ._errors import AuthException, WeakSecretWarning
from ._middleware import HMACMiddleware
from ._replay import MemoryReplayCache, ReplayCache, ReplayCacheUnavailable
from ._replay_redis import RedisReplayCache
from .schemes.destiny import DestinyScheme, HMACAuthorizationHeaders, create_signature

__version__ = "0.1.0"

__all__ = [
    "AuthException",
    "BypassHMACAuth",
    "DestinyScheme",
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
