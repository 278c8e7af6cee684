"""Which secrets may have signed a client's request.

Three sources, exactly one per verifier: one shared ``secret_key`` (destiny-sdk's
model), a ``client_secrets`` mapping, or an async ``secret_lookup``. A client may
have several secrets at once (rotation): a request passes when any of them
verifies it. Keys are turned into keyed HMAC objects once, at construction (or
once per lookup), and copied per request, which saves re-deriving the HMAC pads
on every call.
"""

from __future__ import annotations

import logging
import math
import secrets as _secrets
import time
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Union

from ._errors import Failure, WeakSecretWarning
from ._signing import Mac, client_uuid, new_mac

__all__ = ["ClientSecrets", "KeyRing", "SecretLookup", "SecretsValue"]

SecretsValue = Union[str, Sequence[str]]
# Mapping is invariant in its key: spell out each key type a user's dict may have.
ClientSecrets = Union[
    Mapping[uuid.UUID, SecretsValue],
    Mapping[str, SecretsValue],
    Mapping[Union[uuid.UUID, str], SecretsValue],
]
SecretLookup = Callable[[uuid.UUID], Awaitable[Union[SecretsValue, None]]]

MIN_SECRET_BYTES = 32
LOOKUP_CACHE_SIZE = 10_000

logger = logging.getLogger("hmac_asgi")

Macs = tuple[tuple[Mac, ...], bool]

# Unknown clients are checked against this throwaway key, so that they cost the
# same work as a known client with a bad signature and cannot be told apart.
_DUMMY = (new_mac(_secrets.token_bytes(32)),)


def _macs(value: object, what: str) -> tuple[Mac, ...]:
    """Validate one client's secret(s) and key an HMAC with each."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence) or isinstance(items, (bytes, bytearray)):
        raise TypeError(f"{what} must be a str or a sequence of str, not {type(value).__name__}")
    if not items:
        raise ValueError(f"{what} is an empty list: give at least one secret")
    macs = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{what} must be a str or a sequence of str, not {type(item).__name__}")
        key = item.encode("utf-8")
        if not key:
            raise ValueError(f"{what} is empty: an empty secret would let anyone sign")
        if len(key) < MIN_SECRET_BYTES:
            warnings.warn(
                f"{what} is {len(key)} bytes; use at least {MIN_SECRET_BYTES} random "
                "bytes (`hmac-asgi keygen` makes one)",
                WeakSecretWarning,
                stacklevel=4,
            )
        macs.append(new_mac(key))
    return tuple(macs)


def _uuid(value: object, position: int) -> uuid.UUID:
    # Keys are named by position, never shown: in a mapping written the wrong way
    # round ({secret: client_id}) the key is the secret, and errors end up in logs.
    try:
        return client_uuid(value if isinstance(value, uuid.UUID) else str(value))
    except ValueError as exc:
        raise ValueError(
            f"client_secrets key number {position} is {exc} (not shown, in case it is a"
            " secret): the mapping is {client_id: secret or [secrets]}"
        ) from None


class KeyRing:
    """The configured secrets, validated once; answers "which keys for this client?".

    Rotation: give a client a list of secrets. Any listed secret verifies its
    requests; the first is the current one (the one to hand out), the others are
    being retired. To rotate: add the new secret first, move clients to it, then
    drop the old one. The same holds for the list a ``secret_lookup`` returns.

    Parameters:
        secret_key: one secret (or a list, for rotation) shared by every client.
        client_secrets: ``{client_id: secret or [secrets]}``; keys are UUIDv4/v7.
        secret_lookup: ``async (client_id: UUID) -> str | Sequence[str] | None``;
            ``None`` (or an empty list) means "unknown client". An exception it
            raises is logged and answered 503 (fail closed).
        lookup_ttl: seconds to cache what ``secret_lookup`` answered, "unknown"
            included (at most 10 000 clients); 0 asks the store every request.
            A removed or rotated secret keeps working for up to this long.
        clock: monotonic seconds, for the lookup cache; injectable for tests.

    Raises:
        TypeError: not exactly one source, or a value of the wrong type.
        ValueError: an empty secret or list, a client id that is not a UUIDv4/v7,
            a negative ``lookup_ttl``, or ``lookup_ttl`` without ``secret_lookup``.
    """

    __slots__ = ("_cache", "_clock", "_lookup", "_lookup_ttl", "_shared", "_table", "_unknown")

    def __init__(
        self,
        secret_key: SecretsValue | None = None,
        client_secrets: ClientSecrets | None = None,
        secret_lookup: SecretLookup | None = None,
        *,
        lookup_ttl: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        given = [
            n
            for n, v in (
                ("secret_key", secret_key),
                ("client_secrets", client_secrets),
                ("secret_lookup", secret_lookup),
            )
            if v is not None
        ]
        if len(given) != 1:
            raise TypeError(
                "give exactly one of secret_key, client_secrets or secret_lookup"
                f" (got {', '.join(given) or 'none'})"
            )
        if isinstance(lookup_ttl, bool) or not isinstance(lookup_ttl, (int, float)):
            raise TypeError(f"lookup_ttl must be seconds, not {type(lookup_ttl).__name__}")
        if not (math.isfinite(lookup_ttl) and lookup_ttl >= 0):
            raise ValueError(f"lookup_ttl must be finite seconds >= 0, not {lookup_ttl}")
        if lookup_ttl and secret_lookup is None:
            raise ValueError("lookup_ttl (secret_lookup_ttl) only applies to secret_lookup")
        self._shared: tuple[Mac, ...] | None = None
        self._table: dict[uuid.UUID, tuple[Mac, ...]] | None = None
        self._unknown: tuple[Mac, ...] = _DUMMY
        self._lookup = secret_lookup
        self._lookup_ttl = float(lookup_ttl)
        self._clock = clock
        # client id -> (expiry, answer); one TTL for all, so insertion order is
        # expiry order and the front is always the next to go.
        self._cache: OrderedDict[uuid.UUID, tuple[float, Macs]] = OrderedDict()
        if secret_key is not None:
            self._shared = _macs(secret_key, "secret_key")
        elif client_secrets is not None:
            if not isinstance(client_secrets, Mapping):
                raise TypeError("client_secrets must be a mapping {client_id: secret or [secrets]}")
            table = {
                _uuid(cid, position): _macs(value, f"client_secrets[{str(cid)!r}]")
                for position, (cid, value) in enumerate(client_secrets.items(), 1)
            }
            # Every client, known or not, is checked against as many keys as the
            # client with the most (padded with the throwaway key, which never
            # matches). Otherwise a client mid-rotation costs two HMACs over the
            # body and an unknown one a single: timing would tell them apart.
            width = max(map(len, table.values()), default=1)
            self._table = {cid: macs + _DUMMY * (width - len(macs)) for cid, macs in table.items()}
            self._unknown = _DUMMY * width
        elif not callable(secret_lookup):
            raise TypeError("secret_lookup must be an async callable (client_id: UUID) -> secrets")
        if not callable(clock):
            raise TypeError("clock must be a callable returning monotonic seconds")

    @property
    def is_static(self) -> bool:
        """True when no lookup has to be awaited."""
        return self._lookup is None

    def static_macs(self, client_id: uuid.UUID) -> Macs:
        """Keyed HMACs to copy for this client, and whether the client is known."""
        if self._shared is not None:
            return self._shared, True
        assert self._table is not None  # noqa: S101 - constructor guarantees it
        macs = self._table.get(client_id)
        return (macs, True) if macs is not None else (self._unknown, False)

    async def macs(self, client_id: uuid.UUID) -> Macs:
        """Like :meth:`static_macs`, awaiting ``secret_lookup`` (or its cache) when configured.

        Raises:
            AuthException: 503 when ``secret_lookup`` raised (logged, fail closed).
            TypeError: ``secret_lookup`` returned something other than str(s).
        """
        lookup = self._lookup
        if lookup is None:
            return self.static_macs(client_id)
        if not self._lookup_ttl:
            return _answer(await _call(lookup, client_id))
        now = self._clock()
        cache = self._cache
        while cache:
            first, (expiry, _) = next(iter(cache.items()))
            if expiry > now:
                break
            del cache[first]
        hit = cache.get(client_id)
        if hit is not None:
            return hit[1]
        answer = _answer(await _call(lookup, client_id))
        # Concurrent misses for one client may both reach the store; the later
        # answer wins, as fresh as the earlier one.
        cache.pop(client_id, None)
        if len(cache) >= LOOKUP_CACHE_SIZE:
            cache.popitem(last=False)
        cache[client_id] = (self._clock() + self._lookup_ttl, answer)
        return answer


async def _call(lookup: SecretLookup, client_id: uuid.UUID) -> SecretsValue | None:
    """Await the user's lookup; its failure is a 503, never a 500 or a pass."""
    try:
        return await lookup(client_id)
    except Exception as exc:
        # Their store, their exception types: anything raised here means "cannot
        # tell which key", which must refuse, not crash or pass. Only the lookup
        # is guarded, so a bug in this module still propagates.
        logger.exception("secret_lookup failed for client %s; answering 503", client_id)
        raise Failure.unavailable("key lookup") from exc


def _answer(found: SecretsValue | None) -> Macs:
    """Keyed HMACs for what ``secret_lookup`` returned (a non-str item is a TypeError)."""
    items = [] if found is None else [found] if isinstance(found, str) else list(found)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"secret_lookup returned {type(item).__name__}, expected str")
    # An empty secret from a store means "no secret": fail closed, like unknown.
    macs = tuple(new_mac(item) for item in items if item)
    return (macs, True) if macs else (_DUMMY, False)
