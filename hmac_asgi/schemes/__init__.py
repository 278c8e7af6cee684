"""The scheme seam: a wire format is one module behind two small interfaces.

A scheme knows its wire format (header names, their syntax, what is signed and
how) and nothing else. Everything around it is shared and lives elsewhere, once:
freshness, keys (:class:`~hmac_asgi._keys.KeyRing`), body limits and deadline,
replay protection, logging and the failure responses.

Verifying one request, top to bottom, is what the middleware does with a
:class:`Scheme`::

    claim = scheme.parse(scope)               # headers -> what they claim (401 if malformed)
    # shared: claim.created fresh within max_age, claim.expires not passed
    keys, known = scheme.keys.static_keys(claim.key_id)   # or: await scheme.keys.keys(...)
    check = scheme.begin(claim, keys, known)  # a running MAC (or digest) for the body
    check.update(chunk)                       # for each body chunk, as it arrives
    check.verify()                            # constant-time compare (401)
    scheme.replay_key(claim)                  # shared: single use
    scheme.accept(claim, scope["state"])      # who signed it, for the app

Signing one request is what the httpx transport, the ``httpx.Auth`` and the
command line do with a :class:`Signer`: ``signer.headers(request, timestamp)``.

A new wire format goes in a module of its own beside :mod:`.destiny`,
implementing both, and gets a name in the middleware's ``schemes=``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

if TYPE_CHECKING:
    import httpx
    from starlette.types import Scope

    from .._keys import KeyRing
    from .._mac import MacKey

__all__ = ["BodyCheck", "Claim", "Scheme", "Signer", "Verified"]


class Verified(NamedTuple):
    """Who signed a verified request: the middleware puts it at ``scope["state"]["hmac"]``.

    ``scheme`` is ``"destiny"``, ``"rfc9421"`` or ``"standard-webhooks"``; ``key_id``
    the client's ``uuid.UUID``, the RFC 9421 ``keyid``, or ``None`` (webhooks name
    no key).
    """

    scheme: str
    key_id: Hashable


class Claim(Protocol):
    """What a request's signature headers claim, before anything is verified."""

    @property
    def key_id(self) -> Hashable:
        """Which keys may have signed it: a client UUID, a ``keyid``, or ``None``."""

    @property
    def created(self) -> float:
        """When it says it was signed, in seconds since the epoch (checked for freshness)."""

    @property
    def expires(self) -> float | None:
        """When the signer said it stops being valid, if it said so."""


class BodyCheck(Protocol):
    """One request's verification in progress: feed it the body, then ask for the verdict."""

    def update(self, chunk: bytes, /) -> None:
        """Feed the next piece of the body, as it arrives."""

    def verify(self) -> None:
        """After the whole body: raise :class:`AuthException` (401) unless it verifies.

        Every candidate key is tried, in constant time, whichever matches; an
        unknown key id does the same work and fails like a bad signature.
        """


C = TypeVar("C", bound=Claim)


class Scheme(Protocol[C]):
    """The verifying half of a wire format."""

    @property
    def name(self) -> str:
        """Its name in logs and in ``scope["state"]["hmac"]``, e.g. ``"destiny"``."""

    @property
    def markers(self) -> frozenset[bytes]:
        """Lower-case header names whose presence says "signed in this format"."""

    @property
    def keys(self) -> KeyRing[Any]:
        """Its keys, by key id."""

    @property
    def challenge(self) -> Mapping[str, str]:
        """Headers a 401 for this format carries besides ``WWW-Authenticate``."""

    def parse(self, scope: Scope) -> C:
        """Read the claim from the request (headers, and method/path/... where signed).

        Raises:
            AuthException: 401, something missing, duplicated or malformed.
        """

    def begin(self, claim: C, keys: tuple[MacKey, ...], known: bool) -> BodyCheck:
        """Start verifying ``claim`` against the candidate ``keys`` (``known``: a real key id)."""

    def replay_key(self, claim: C) -> str:
        """What identifies this signature in the replay cache (no secret in it)."""

    def accept(self, claim: C, state: MutableMapping[str, Any]) -> None:
        """Record who signed a verified request in the scope's ``state``: a
        :class:`Verified` at ``"hmac"``, and whatever the format adds."""


class Signer(Protocol):
    """The signing half of a wire format: one key, the headers for each outgoing request."""

    @property
    def key_id(self) -> Hashable:
        """Which key it signs with, as the server knows it (shown in ``repr``)."""

    @property
    def header_names(self) -> tuple[str, ...]:
        """The headers that carry its signature (a ``Content-Digest`` it may also set is
        not one): a request it does not sign must carry none of them."""

    def headers(self, request: httpx.Request, timestamp: float | str) -> dict[str, str]:
        """The headers that sign ``request`` (body already read) at ``timestamp``."""
