"""Which keys may have signed a request: secrets per key id, validated once, looked up fast.

Every scheme names its keys somehow (destiny-sdk by client UUID, RFC 9421 by
``keyid``, Standard Webhooks not at all) and keeps them in a :class:`KeyRing`:
one set shared by every key id, a table, or an async lookup with an optional
cache. A key id may have several secrets at once (rotation): a request passes
when any of them verifies it. Secrets become :class:`MacKey`\\ s once, at
construction (or once per lookup); the secret text itself is not kept.
"""

from __future__ import annotations

import logging
import secrets as _secrets
import time
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar, Union

from ._checks import number, type_name
from ._errors import WeakSecretWarning, failure
from ._mac import MacKey

__all__ = ["MIN_SECRET_BYTES", "KeyRing", "Keys", "Lookup", "Secret", "Secrets", "mac_keys"]

Secret = Union[str, bytes]
Secrets = Union[Secret, Sequence[Secret]]
K = TypeVar("K", bound=Hashable)
Lookup = Callable[[K], Awaitable[Union[Secrets, None]]]
Keys = tuple[tuple[MacKey, ...], bool]  # the candidate keys, and whether the key id is known

MIN_SECRET_BYTES = 32
LOOKUP_CACHE_SIZE = 10_000

logger = logging.getLogger("hmac_asgi")

# Unknown key ids are checked against a throwaway key, so that they cost the same
# work as a known key id with a bad signature and cannot be told apart.
_THROWAWAY = _secrets.token_bytes(MIN_SECRET_BYTES)
_DUMMY = MacKey(_THROWAWAY)


def _secret_bytes(item: object, what: str) -> bytes:
    if isinstance(item, str):
        return item.encode("utf-8")
    if isinstance(item, bytes):
        return item
    raise TypeError(f"{what} must be a str, bytes or a list of them, not {type_name(item)}")


def mac_keys(value: object, what: str, weak_below: int = MIN_SECRET_BYTES) -> tuple[MacKey, ...]:
    """Validate one key id's secret(s) (str is UTF-8 encoded, bytes taken as they are).

    Raises:
        TypeError: not a str, bytes or a sequence of them.
        ValueError: an empty secret or an empty list.
    """
    items = [value] if isinstance(value, (str, bytes)) else value
    if not isinstance(items, Sequence):
        raise TypeError(f"{what} must be a str, bytes or a list of them, not {type_name(value)}")
    if not items:
        raise ValueError(f"{what} is an empty list: give at least one secret")
    keys = []
    for item in items:
        key = _secret_bytes(item, what)
        if not key:
            raise ValueError(f"{what} is empty: an empty secret would let anyone sign")
        if len(key) < weak_below:
            warnings.warn(
                f"{what} is {len(key)} bytes; use at least {weak_below} random "
                "bytes (`hmac-asgi keygen` makes one)",
                WeakSecretWarning,
                stacklevel=4,
            )
        keys.append(MacKey(key))
    return tuple(keys)


class KeyRing(Generic[K]):
    """The keys of one scheme, validated once; answers "which keys for this key id?".

    Give exactly one source (the scheme's constructor checks that and names its
    own arguments in errors):

    Parameters:
        shared: one secret (or a list, for rotation) for every key id.
        table: ``{key_id: secret or [secrets]}``, key ids already validated.
        lookup: ``async (key_id) -> secret(s) | None``; ``None``, an empty list
            or only empty secrets mean "unknown key id". An exception it raises,
            or an answer of the wrong type, is logged and answered 503.
        lookup_ttl: seconds to cache what ``lookup`` answered, "unknown"
            included (at most 10 000 key ids); 0 asks on every request.
        names: the argument errors name, e.g. ``client_secrets`` (``lookup_ttl`` is
            its ``_ttl``, e.g. ``secret_lookup_ttl``).
        labels: how errors may show a table entry's key id (by default: by position).
        weak_below: secrets shorter than this many bytes warn (``WeakSecretWarning``).
        clock: monotonic seconds, for the lookup cache; injectable for tests.

    Rotation: the first secret of a list is the current one, the others are
    being retired. While any key id has N secrets, every request (known key id or
    not) is checked against N keys, so timing does not tell them apart.
    """

    __slots__ = ("_cache", "_clock", "_lookup", "_lookup_ttl", "_others", "_table")

    def __init__(
        self,
        *,
        shared: Secrets | None = None,
        table: Mapping[K, Secrets] | None = None,
        lookup: Lookup[K] | None = None,
        lookup_ttl: float = 0.0,
        names: str = "secrets",
        labels: Mapping[K, str] | None = None,
        weak_below: int = MIN_SECRET_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup_ttl = number(f"{names}_ttl", lookup_ttl, exclusive=False)
        if not callable(clock):
            raise TypeError("clock must be a callable returning monotonic seconds")
        self._clock = clock
        self._lookup = lookup
        self._table: dict[K, tuple[MacKey, ...]] = {}
        self._others: Keys = ((_DUMMY,), False)  # for key ids not in the table
        # key id -> (expiry, answer); one TTL for all, so insertion order is expiry
        # order and the front is always the next to go.
        self._cache: OrderedDict[K, tuple[float, Keys]] = OrderedDict()
        if shared is not None:
            self._others = (mac_keys(shared, names, weak_below), True)  # every key id is known
        elif table is not None:
            keys = {}
            for position, (key_id, value) in enumerate(table.items(), 1):
                # Entries are named by position unless the scheme says a key id is safe to
                # show: in a mapping written the wrong way round it is a secret.
                label = (labels or {}).get(key_id) or f"number {position}"
                keys[key_id] = mac_keys(value, f"{names}[{label}]", weak_below)
            # Every key id, known or not, is checked against as many keys as the one
            # with the most (padded with the throwaway key, which never matches).
            # Otherwise a key id mid-rotation costs two HMACs and an unknown one a
            # single: timing would tell them apart.
            width = max(map(len, keys.values()), default=1)
            self._table = {k: v + (_DUMMY,) * (width - len(v)) for k, v in keys.items()}
            self._others = ((_DUMMY,) * width, False)
        elif not callable(lookup):
            raise TypeError(f"{names} must be an async callable (key id) -> secrets")

    @property
    def is_static(self) -> bool:
        """True when no lookup has to be awaited."""
        return self._lookup is None

    def static_keys(self, key_id: K) -> Keys:
        """Keys for this key id, and whether it is known; only when :attr:`is_static`."""
        keys = self._table.get(key_id)
        return (keys, True) if keys is not None else self._others

    async def keys(self, key_id: K) -> Keys:
        """Like :meth:`static_keys`, awaiting the lookup (or its cache) when there is one.

        Raises:
            AuthException: 503 when the lookup failed or answered nonsense (logged).
        """
        lookup = self._lookup
        if lookup is None:
            return self.static_keys(key_id)
        if not self._lookup_ttl:
            return _answer(await _call(lookup, key_id), key_id)
        now = self._clock()
        cache = self._cache
        while cache:
            first, (expiry, _) = next(iter(cache.items()))
            if expiry > now:
                break
            del cache[first]
        hit = cache.get(key_id)
        if hit is not None:
            return hit[1]
        answer = _answer(await _call(lookup, key_id), key_id)
        # Concurrent misses for one key id may both reach the store; the later
        # answer wins, as fresh as the earlier one.
        cache.pop(key_id, None)
        if len(cache) >= LOOKUP_CACHE_SIZE:
            cache.popitem(last=False)
        cache[key_id] = (self._clock() + self._lookup_ttl, answer)
        return answer


async def _call(lookup: Lookup[K], key_id: K) -> Secrets | None:
    """Await the user's lookup; its failure is a 503, never a 500 or a pass."""
    try:
        return await lookup(key_id)
    except Exception as exc:
        # Their store, their exception types: anything raised here means "cannot
        # tell which key", which must refuse, not crash or pass. Only the lookup
        # is guarded, so a bug in this module still propagates.
        logger.exception("secret lookup failed for key id %s; answering 503", key_id)
        raise failure("unavailable", what="key lookup") from exc


def _answer(found: object, key_id: Hashable) -> Keys:
    """Keys for what a lookup answered. Each answer derives its keys afresh, an unknown
    key id's throwaway one included, so known and unknown cost the same work."""
    items = [] if found is None else [found] if isinstance(found, (str, bytes)) else found
    if not isinstance(items, (list, tuple)) or not all(
        isinstance(item, (str, bytes)) for item in items
    ):
        logger.error(
            "secret lookup for key id %s answered %s, expected a str, bytes, a list of them"
            " or None; answering 503",
            key_id,
            type_name(found),
        )
        raise failure("unavailable", what="key lookup")
    # An empty secret from a store means "no secret": fail closed, like unknown.
    keys = tuple(MacKey(_secret_bytes(item, "")) for item in items if item)
    return (keys, True) if keys else ((MacKey(_THROWAWAY),), False)
