"""HMAC-SHA256 request authentication for ASGI apps and httpx clients.

Three wire formats through one middleware and one client: the DESTINY repository
SDK's (``destiny_sdk.auth``, byte for byte), RFC 9421 HTTP Message Signatures with
``hmac-sha256`` and an RFC 9530 ``Content-Digest``, and Standard Webhooks.
"""

from ._client import HMACSigningAuth, HMACSigningTransport
from ._dependency import BypassHMACAuth, HMACAuth, HMACAuthMethod
from ._errors import AuthException, WeakSecretWarning
from ._middleware import HMACMiddleware
from ._openapi import hmac_openapi
from ._replay import MemoryReplayCache, ReplayCache, ReplayCacheUnavailable
from ._replay_redis import RedisReplayCache
from .schemes import Verified
from .schemes.destiny import DestinyScheme, HMACAuthorizationHeaders, create_signature
from .schemes.rfc9421 import MessageSignatureScheme
from .schemes.webhooks import StandardWebhookScheme

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
    "MessageSignatureScheme",
    "RedisReplayCache",
    "ReplayCache",
    "ReplayCacheUnavailable",
    "StandardWebhookScheme",
    "Verified",
    "WeakSecretWarning",
    "create_signature",
    "hmac_openapi",
]
