"""Which secrets may have signed a client's request.

Three sources, exactly one per verifier: one shared ``secret_key`` (destiny-sdk's
model), a ``client_secrets`` mapping, or an async ``secret_lookup``. A client may
have several secrets at once (rotation): a request passes when any of them
verifies it. Keys are turned into keyed HMAC objects once, at construction, and
copied per request, which saves re-deriving the HMAC pads on every call.
"""

from __future__ import annotations

import hmac
import secrets as _secrets
import uuid
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Union

from ._errors import WeakSecretWarning
from ._signing import new_mac

__all__ = ["KeyRing", "SecretLookup", "SecretsValue"]

SecretsValue = Union[str, Sequence[str]]
SecretLookup = Callable[[uuid.UUID], Awaitable[Union[SecretsValue, None]]]

MIN_SECRET_BYTES = 32

# Unknown clients are checked against this throwaway key, so that they cost the
# same work as a known client with a bad signature and cannot be told apart.
_DUMMY = (new_mac(_secrets.token_bytes(32)),)


def _macs(value: object, what: str) -> tuple[hmac.HMAC, ...]:
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


def _uuid(value: object) -> uuid.UUID:
    try:
        parsed = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise ValueError(f"client_secrets key {value!r} is not a UUID") from None
    if parsed.version not in (4, 7):
        raise ValueError(f"client_secrets key {value!r} is not a UUIDv4 or UUIDv7")
    return parsed


class KeyRing:
    """The configured secrets, validated once; answers "which keys for this client?"."""

    __slots__ = ("_lookup", "_shared", "_table")

    def __init__(
        self,
        secret_key: SecretsValue | None = None,
        client_secrets: Mapping[uuid.UUID | str, SecretsValue] | None = None,
        secret_lookup: SecretLookup | None = None,
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
        self._shared: tuple[hmac.HMAC, ...] | None = None
        self._table: dict[uuid.UUID, tuple[hmac.HMAC, ...]] | None = None
        self._lookup = secret_lookup
        if secret_key is not None:
            self._shared = _macs(secret_key, "secret_key")
        elif client_secrets is not None:
            if not isinstance(client_secrets, Mapping):
                raise TypeError("client_secrets must be a mapping {client_id: secret or [secrets]}")
            self._table = {
                _uuid(cid): _macs(value, f"client_secrets[{str(cid)!r}]")
                for cid, value in client_secrets.items()
            }
        elif not callable(secret_lookup):
            raise TypeError("secret_lookup must be an async callable (client_id: UUID) -> secrets")

    @property
    def is_static(self) -> bool:
        """True when no lookup has to be awaited."""
        return self._lookup is None

    def static_macs(self, client_id: uuid.UUID) -> tuple[tuple[hmac.HMAC, ...], bool]:
        """Keyed HMACs to copy for this client, and whether the client is known."""
        if self._shared is not None:
            return self._shared, True
        assert self._table is not None  # noqa: S101 - constructor guarantees it
        macs = self._table.get(client_id)
        return (macs, True) if macs is not None else (_DUMMY, False)

    async def macs(self, client_id: uuid.UUID) -> tuple[tuple[hmac.HMAC, ...], bool]:
        """Like :meth:`static_macs`, awaiting ``secret_lookup`` when configured."""
        if self._lookup is None:
            return self.static_macs(client_id)
        found = await self._lookup(client_id)
        items = [] if found is None else [found] if isinstance(found, str) else list(found)
        for item in items:
            if not isinstance(item, str):
                raise TypeError(f"secret_lookup returned {type(item).__name__}, expected str")
        # An empty secret from a store means "no secret": fail closed, like unknown.
        macs = tuple(new_mac(item) for item in items if item)
        return (macs, True) if macs else (_DUMMY, False)
