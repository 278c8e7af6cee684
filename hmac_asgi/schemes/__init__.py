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

Documenting it is ``scheme.openapi()``: an :class:`OpenAPIDescription` of its
headers and of how to sign, which :func:`hmac_asgi.hmac_openapi` turns into an
app's OpenAPI security schemes.

A new wire format goes in a module of its own beside :mod:`.destiny`,
implementing both, and gets a name in the middleware's ``schemes=``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

from starlette.authentication import BaseUser

if TYPE_CHECKING:
    import httpx
    from starlette.types import Scope

    from .._keys import KeyRing
    from .._mac import MacKey

__all__ = ["BodyCheck", "Claim", "OpenAPIDescription", "Scheme", "Signer", "Verified"]


class Verified(BaseUser):
    """Who signed a verified request: ``scope["state"]["hmac"]``, and the request's user.

    ``scheme`` is ``"destiny"``, ``"rfc9421"`` or ``"standard-webhooks"``; ``key_id``
    the client's ``uuid.UUID``, the RFC 9421 ``keyid``, or ``None`` (webhooks name
    no key). A Starlette ``BaseUser``, so the middleware also puts it at
    ``scope["user"]`` (``request.user`` in Starlette, FastAPI and Litestar), its
    ``identity`` and ``display_name`` being the key id's text (or the scheme's
    name). Frozen: compared and hashed by ``(scheme, key_id)``.
    """

    __slots__ = ("_key_id", "_scheme")
    _scheme: str
    _key_id: Hashable

    def __init__(self, scheme: str, key_id: Hashable) -> None:
        super().__setattr__("_scheme", scheme)
        super().__setattr__("_key_id", key_id)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Verified is read-only, {name} cannot be set")

    @property
    def scheme(self) -> str:
        """The wire format the request was signed in."""
        return self._scheme

    @property
    def key_id(self) -> Hashable:
        """Whose key signed it: the client UUID, the keyid, or ``None``."""
        return self._key_id

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.identity

    @property
    def identity(self) -> str:
        return self._scheme if self._key_id is None else str(self._key_id)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Verified):
            return NotImplemented
        return (self._scheme, self._key_id) == (other._scheme, other._key_id)

    def __hash__(self) -> int:
        return hash((self._scheme, self._key_id))

    def __repr__(self) -> str:
        return f"Verified(scheme={self._scheme!r}, key_id={self._key_id!r})"


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


class OpenAPIDescription(NamedTuple):
    """How a wire format shows in an OpenAPI document: its headers, and how to sign.

    ``name`` is the format's (``"destiny"``), which prefixes its security schemes'
    names; ``headers`` each header that carries a signature, in the order a signer
    sends them, with one line of Markdown on what it holds; ``recipe`` a few lines
    of Markdown: what is signed, how, and how to sign by hand. All of them must be
    sent: the headers of one format make one security requirement.
    """

    name: str
    headers: tuple[tuple[str, str], ...]
    recipe: str


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

    def accept(self, claim: C, state: MutableMapping[str, Any]) -> Verified:
        """Who signed a verified request; the format may add to the scope's ``state``
        (the middleware puts the :class:`Verified` at ``"hmac"`` and as the user)."""

    def explain(self, claim: C) -> dict[str, Any]:
        """What the server signed for ``claim``, for a client author to diff against:
        never the expected signature, a secret or anything derived from one."""

    def openapi(self) -> OpenAPIDescription:
        """Its headers and signing recipe, for an app's OpenAPI document (never a secret)."""


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

    def explain(self, request: httpx.Request) -> dict[str, Any]:
        """What the signing headers already set on ``request`` sign, as the server's
        ``explain`` reports it (``hmac-asgi sign --explain`` prints it)."""
