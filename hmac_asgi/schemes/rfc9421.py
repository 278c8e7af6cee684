"""RFC 9421 HTTP Message Signatures with ``hmac-sha256``, the body bound by RFC 9530's
``Content-Digest``: the module that knows the format (with :mod:`._rfc9421_base`,
which derives the signature base).

    Content-Digest:  sha-256=:<base64 SHA-256 of the body>:
    Signature-Input: sig1=("@method" "@authority" "@path" "@query" "content-digest")
                     ;created=1732838400;keyid="orders-key-1";alg="hmac-sha256"  (one line)
    Signature:       sig1=:<base64 HMAC-SHA256(secret, signature base)>:

The signature base is one line per covered component, ``"<identifier>": <value>``,
then ``"@signature-params": <the inner list above, serialized>``, joined with LF.
Component values are derived as RFC 9421 section 2 says, by one function for both
halves: from the ASGI scope when verifying (the raw path as sent, never
percent-decoded; the authority from ``Host``, lowercased, its default port
dropped; ``@query`` is ``?`` when there is none) and from the ``httpx.Request``
when signing. ``Content-Digest`` is checked against the body as it streams in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from .._checks import type_name
from .._errors import AuthException, failure
from .._keys import KeyRing, Lookup, Secrets
from .._mac import MacKey, Running
from .._sfv import Item, Params, StructuredFieldError, serialize_bare_item, serialize_inner_list
from . import OpenAPIDescription, Verified
from ._rfc9421_base import (
    ComponentError,
    InputReader,
    Member,
    Message,
    RequestMessage,
    ScopeMessage,
    authority,
    component,
    component_value,
    identity,
    parse_digests,
    parse_signatures,
    signature_base,
)

if TYPE_CHECKING:
    import httpx
    from starlette.types import Scope

__all__ = [
    "ALGORITHM",
    "DEFAULT_COMPONENTS",
    "HEADERS",
    "MessageSignatureScheme",
    "MessageSigner",
    "RequestMessage",
    "ScopeMessage",
    "authority",
    "component",
    "component_value",
    "digest_header",
    "signature_base",
]

HEADERS = ("Signature-Input", "Signature")
ALGORITHM = "hmac-sha256"
DEFAULT_COMPONENTS = ("@method", "@authority", "@path", "@query", "content-digest")
_DIGESTS: Mapping[str, Callable[..., Any]] = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
_CONTENT_DIGEST = "content-digest"


def digest_header(body: bytes, algorithm: str = "sha-256") -> str:
    """The ``Content-Digest`` value for ``body`` (``sha-256`` or ``sha-512``)."""
    return f"{algorithm}=:{base64.b64encode(_DIGESTS[algorithm](body).digest()).decode()}:"


# Verifying: the scheme.


class _Claim:
    """The signature chosen to decide, and what it takes to verify it."""

    __slots__ = (
        "base",
        "created",
        "digests",
        "expires",
        "key_id",
        "signature",
        "unsigned_body_refused",
    )

    def __init__(self, key_id: str, created: float, signature: bytes) -> None:
        self.key_id = key_id
        self.created = created
        self.signature = signature
        self.expires: float | None = None
        self.base = b""
        self.digests: list[tuple[str, bytes]] = []  # (algorithm, expected digest)
        self.unsigned_body_refused = False


class _Check:
    """The body through every ``Content-Digest`` hash; then the MAC over the base."""

    __slots__ = ("_body", "_claim", "_hashes", "_keys", "_known")

    def __init__(self, claim: _Claim, keys: tuple[MacKey, ...], known: bool) -> None:
        self._claim = claim
        self._keys = keys
        self._known = known
        self._hashes: list[tuple[Running, bytes]] = [
            (_DIGESTS[algorithm](), expected) for algorithm, expected in claim.digests
        ]
        self._body = False

    def update(self, chunk: bytes) -> None:
        if chunk:
            self._body = True
            for running, _ in self._hashes:
                running.update(chunk)

    def verify(self) -> None:
        claim = self._claim
        matched = False
        for key in self._keys:
            # compare_digest decides, in constant time; every candidate is computed.
            matched |= hmac.compare_digest(key.mac(claim.base), claim.signature)
        if not (matched and self._known):
            raise failure("invalid_signature")
        for running, expected in self._hashes:
            if not hmac.compare_digest(running.digest(), expected):
                raise failure("digest_mismatch")
        if self._body and claim.unsigned_body_refused:
            raise failure("unsigned_body")


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class MessageSignatureScheme:
    """Verifies RFC 9421 HTTP Message Signatures made with ``hmac-sha256`` (``"rfc9421"``).

    Give exactly one source of keys; a secret is ``str`` (UTF-8 encoded) or ``bytes``
    (the raw key, as RFC 9421 implementations pass it); a list means rotation.

    Parameters:
        keys: ``{keyid: secret or [secrets]}``.
        key_lookup: ``async (keyid: str) -> secret(s) | None``: your store. If it
            raises, or answers another type, the request gets 503 (logged).
        key_lookup_ttl: seconds to cache lookup answers; 0 asks on every request.
        required_components: what a signature must cover, as component identifiers
            (``"@method"``, ``"content-type"``, ``'"@query-param";name="id"'``).
            ``content-digest`` among them means "whenever the request has a body":
            a body whose digest is not covered is refused. A covered
            ``Content-Digest`` is always checked against the body (an uncovered
            one proves nothing, and is ignored).
        tag: the ``tag`` parameter a signature must carry (an application's own
            label), or ``None`` to accept any.
        require_nonce: refuse signatures without a ``nonce`` parameter.

    A request may carry several signatures: the first that meets this policy and
    whose keyid is known decides (with a lookup: the first that meets the policy).
    ``created`` and ``keyid`` are required, ``alg`` if present must be
    ``hmac-sha256``, ``expires`` is honoured; freshness is the middleware's
    ``max_age``, both ways.

    Raises:
        TypeError: not exactly one of ``keys``/``key_lookup``, or a value of the
            wrong type.
        ValueError: an empty secret or keyid, a component identifier that does not parse.
    """

    name = "rfc9421"
    markers = frozenset({b"signature-input", b"signature"})

    def __init__(
        self,
        *,
        keys: Mapping[str, Secrets] | None = None,
        key_lookup: Lookup[str] | None = None,
        key_lookup_ttl: float = 0.0,
        required_components: Iterable[str] = DEFAULT_COMPONENTS,
        tag: str | None = None,
        require_nonce: bool = False,
    ) -> None:
        if (keys is None) == (key_lookup is None):
            raise TypeError("give exactly one of keys or key_lookup")
        if key_lookup is None and key_lookup_ttl != 0.0:
            raise ValueError("key_lookup_ttl only applies to key_lookup")
        if keys is not None:
            if not isinstance(keys, Mapping):
                raise TypeError("keys must be a mapping {keyid: secret or [secrets]}")
            for key_id in keys:
                if not isinstance(key_id, str) or not key_id:
                    raise ValueError("keys are non-empty str keyids (one is not; not shown)")
        self.keys: KeyRing[str] = KeyRing(
            table=keys,
            lookup=key_lookup,
            lookup_ttl=key_lookup_ttl,
            names="keys" if keys is not None else "key_lookup",
        )
        if isinstance(required_components, str):
            raise TypeError('required_components takes a list, e.g. ["@method", "@path"]')
        given = list(required_components)
        required = [component(text) for text in given]
        self._digest_when_body = any(name == _CONTENT_DIGEST for _, name, _ in required)
        self._required = {identity(n, p) for _, n, p in required if n != _CONTENT_DIGEST}
        self._required_text = " ".join(text for text, _, _ in required)
        if tag is not None and not isinstance(tag, str):
            raise TypeError(f"tag must be a str or None, not {type_name(tag)}")
        self._tag = tag
        self._require_nonce = bool(require_nonce)
        self._default_policy = given == list(DEFAULT_COMPONENTS) and tag is None
        self._given = given
        self._always_text = " ".join(text for text, name, _ in required if name != _CONTENT_DIGEST)
        wanted: Params = {"alg": ALGORITHM}
        if tag is not None:
            wanted["tag"] = tag
        self._read_inputs = InputReader()
        items: list[Item] = [(name, params) for _, name, params in required]
        self.challenge = {"Accept-Signature": "sig1=" + serialize_inner_list((items, wanted))}

    def parse(self, scope: Scope) -> _Claim:
        message = ScopeMessage(scope)
        inputs = _field(message, "signature-input", "Signature-Input", self._read_inputs)
        signatures = _field(message, "signature", "Signature", parse_signatures)
        first_refusal: AuthException | None = None
        chosen: tuple[_Claim, Member] | None = None
        for member in inputs:
            try:
                candidate = self._candidate(member, signatures)
            except AuthException as refusal:
                first_refusal = first_refusal or refusal
                continue
            if chosen is None:
                chosen = candidate
            if not self.keys.is_static or self.keys.static_keys(candidate[0].key_id)[1]:
                chosen = candidate  # known keyid (or no way to tell): this one decides
                break
        if chosen is None:
            raise first_refusal or failure("malformed_header", name="Signature-Input")
        claim, (_, covered, _, serialized) = chosen
        try:
            claim.base = signature_base(covered, serialized, message)
        except ComponentError:
            raise failure("unsupported_component") from None
        if any(name == _CONTENT_DIGEST for _, name, _ in covered):
            claim.digests = _digests(message)
        else:
            claim.unsigned_body_refused = self._digest_when_body
        return claim

    def _candidate(
        self, member: Member | None, signatures: Mapping[str, bytes | None]
    ) -> tuple[_Claim, Member]:
        """One Signature-Input member checked against the policy, or the refusal why not."""
        if member is None:
            raise failure("malformed_header", name="Signature-Input")
        label, covered, params, _ = member
        signature = signatures.get(label)
        if signature is None:
            raise failure("malformed_header", name="Signature")
        created = _integer(params.get("created"))
        if created is None or created < 0:
            raise failure("missing_parameter", name="created")
        key_id = params.get("keyid")
        if type(key_id) is not str or not key_id:
            raise failure("missing_parameter", name="keyid")
        alg = params.get("alg")  # a String: a Token spelling the same is not one
        if alg is not None and (type(alg) is not str or alg != ALGORITHM):
            raise failure("unsupported_algorithm")
        tag = params.get("tag")
        if self._tag is not None and (type(tag) is not str or tag != self._tag):
            raise failure("wrong_tag", tag=self._tag)
        nonce = params.get("nonce")
        if (nonce is not None and type(nonce) is not str) or (self._require_nonce and not nonce):
            raise failure("missing_parameter", name="nonce")
        expires = _integer(params.get("expires"))
        if "expires" in params and expires is None:
            raise failure("malformed_header", name="Signature-Input")
        have = {name if not p else (name, frozenset(p.items())) for _, name, p in covered}
        if len(have) != len(covered):  # a component covered twice
            raise failure("malformed_header", name="Signature-Input")
        if not self._required <= have:  # identity(), inline: on every request
            raise failure("insufficient_coverage", required=self._required_text)
        claim = _Claim(key_id, float(created), signature)
        claim.expires = None if expires is None else float(expires)
        return claim, member

    def begin(self, claim: _Claim, keys: tuple[MacKey, ...], known: bool) -> _Check:
        return _Check(claim, keys, known)

    def replay_key(self, claim: _Claim) -> str:
        # The MAC covers @signature-params, nonce included, so keyid and signature name
        # it; the signature is fixed-length base64, so the keyid after it cannot blur.
        return f"rfc9421:{base64.b64encode(claim.signature).decode()}:{claim.key_id}"

    def accept(self, claim: _Claim, state: MutableMapping[str, Any]) -> Verified:
        return Verified(self.name, claim.key_id)

    def explain(self, claim: _Claim) -> dict[str, Any]:
        return {"signature_base": claim.base.decode("ascii")}

    def openapi(self) -> OpenAPIDescription:
        """This server's policy in an app's OpenAPI document (``hmac_asgi.hmac_openapi``)."""
        always = self._always_text
        covered = self._required_text
        params = ';created=<integer seconds>;keyid="<your keyid>";alg="hmac-sha256"'
        policy = f"Cover at least `{always}`" if always else "Cover any components"
        if self._tag is not None:
            params += f";tag={serialize_bare_item(self._tag)}"
            policy += f", with the tag `{serialize_bare_item(self._tag)}`"
        if self._require_nonce:
            params += ';nonce="<random, once>"'
            policy += ", with a `nonce`"
        digest = (
            " With a body, also send `Content-Digest: sha-256=:<base64 SHA-256 of the body>:`"
            ' (RFC 9530) and cover `"content-digest"`.'
            if self._digest_when_body
            else ""
        )
        when = ' (`"content-digest"` only with a body)' if self._digest_when_body else ""
        recipe = (
            "**RFC 9421 HTTP Message Signatures with `hmac-sha256`.**"
            f" {policy}; `created` and `keyid` are required.{digest}\n\n"
            'The signature base is one line per covered component, `"<identifier>": <value>`'
            ' (`"@method": POST`, `"@authority": orders.example`, `"@path": /orders`,'
            ' `"@query": ?dry=1`, or `?` without a query), then `"@signature-params": ` followed'
            " by the `Signature-Input` value after `sig1=`, the lines joined by LF:\n\n"
            "    signature = base64(HMAC-SHA256(secret, signature_base))\n\n"
            "`created` must be within the server's `max_age` of its clock, in either direction."
        )
        if self._default_policy and not self._require_nonce:
            recipe += (
                "\n\nBy hand: `hmac-asgi sign --scheme rfc9421 --secret-env VAR --key-id KEYID"
                " --url URL --data @body.json` prints the headers. From Python: `httpx.Client("
                'transport=HMACSigningTransport(secret_key=..., key_id=..., scheme="rfc9421"))`.'
            )
        elif not self._require_nonce:
            options = f"components={self._given!r}"
            if self._tag is not None:
                options += f", tag={self._tag!r}"
            recipe += (
                "\n\nFrom Python: `httpx.Client(transport=HMACSigningTransport(secret_key=...,"
                f' key_id=..., scheme="rfc9421", {options}))`.'
            )
        return OpenAPIDescription(
            name=self.name,
            headers=tuple(
                zip(
                    HEADERS,
                    (
                        f"`sig1=({covered}){params}`{when}: what the signature covers, and"
                        " its parameters.",
                        "`sig1=:<base64 HMAC-SHA256 of the signature base>:`.",
                    ),
                    strict=True,
                )
            ),
            recipe=recipe,
        )


def _field(message: Message, name: str, title: str, parse: Callable[[list[str]], Any]) -> Any:
    """A structured field of the request, parsed; 401 when absent or malformed."""
    lines = message.field(name)
    if lines is None:
        raise failure("missing_header", name=title)
    try:
        return parse(lines)
    except StructuredFieldError:
        raise failure("malformed_header", name=title) from None


def _digests(message: Message) -> list[tuple[str, bytes]]:
    """The digests ``Content-Digest`` claims, for the algorithms this server knows."""
    members = _field(message, "content-digest", "Content-Digest", parse_digests)
    digests = [
        (algorithm, value)
        for algorithm, value in members.items()
        if algorithm in _DIGESTS and value is not None
    ]
    if not digests:  # only algorithms we cannot check: the body would go unchecked
        raise failure("malformed_header", name="Content-Digest")
    return digests


# Signing: the client half.


class MessageSigner:
    """Signs outgoing requests with one key, as RFC 9421 ``hmac-sha256``.

    Parameters:
        secret_key: the shared secret (``str`` is UTF-8 encoded, ``bytes`` raw).
        key_id: the ``keyid`` the server knows the secret by.
        components: what to cover; ``content-digest`` is added as a header and
            covered only when the request has a body.
        label: the signature's label in ``Signature-Input`` / ``Signature``.
        tag: a ``tag`` parameter, if the server requires one.
        nonce: send a random ``nonce`` parameter with each signature.
        expires_in: seconds after ``created`` to send as ``expires``, if any.
        include_alg: send ``alg="hmac-sha256"`` (RFC 9421's own examples omit it).

    Raises:
        TypeError, ValueError: an argument of the wrong type or value (never shown).
    """

    __slots__ = (
        "_components",
        "_expires_in",
        "_include_alg",
        "_key",
        "_label",
        "_nonce",
        "_tag",
        "key_id",
    )

    header_names = HEADERS

    def __init__(
        self,
        secret_key: str | bytes,
        key_id: str,
        *,
        components: Iterable[str] = DEFAULT_COMPONENTS,
        label: str = "sig1",
        tag: str | None = None,
        nonce: bool = False,
        expires_in: int | None = None,
        include_alg: bool = True,
    ) -> None:
        if not isinstance(secret_key, (str, bytes)):
            raise TypeError(f"secret_key must be a str or bytes, not {type_name(secret_key)}")
        if not secret_key:
            raise ValueError("secret_key is empty: pass the secret shared with the server")
        if not isinstance(key_id, str) or not key_id:
            raise TypeError("key_id must be a non-empty str")
        if isinstance(components, str):
            raise TypeError('components takes a list, e.g. ["@method", "@path"]')
        self._components = [component(text) for text in components]
        try:
            serialize_inner_list(([], {label: True}))  # a valid key
            serialize_bare_item(key_id)
            if tag is not None:
                serialize_bare_item(tag)
        except (StructuredFieldError, TypeError):
            raise ValueError(
                "label must be a lowercase key, key_id and tag printable ASCII"
            ) from None
        self._key = MacKey(
            secret_key.encode("utf-8") if isinstance(secret_key, str) else secret_key
        )
        self.key_id = key_id
        self._label = label
        self._tag = tag
        self._nonce = bool(nonce)
        self._expires_in = expires_in
        self._include_alg = bool(include_alg)

    def headers(self, request: httpx.Request, timestamp: float | str) -> dict[str, str]:
        body = request.content
        headers: dict[str, str] = {}
        covered = self._components
        if any(name == _CONTENT_DIGEST for _, name, _ in covered):
            if body:
                headers["Content-Digest"] = digest_header(body)
            else:  # nothing to digest: the server requires it only with a body
                covered = [item for item in covered if item[1] != _CONTENT_DIGEST]
        created = int(float(timestamp))
        params: Params = {"created": created, "keyid": self.key_id}
        if self._include_alg:
            params["alg"] = ALGORITHM
        if self._expires_in is not None:
            params["expires"] = created + self._expires_in
        if self._nonce:
            params["nonce"] = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if self._tag is not None:
            params["tag"] = self._tag
        items: list[Item] = [(name, component_params) for _, name, component_params in covered]
        signature_params = serialize_inner_list((items, params))
        message = RequestMessage(request, headers)
        signature = self._key.mac(signature_base(covered, signature_params, message))
        headers["Signature-Input"] = f"{self._label}={signature_params}"
        headers["Signature"] = f"{self._label}=:{base64.b64encode(signature).decode()}:"
        return headers

    def explain(self, request: httpx.Request) -> dict[str, Any]:
        """The signature base of the request's own ``Signature-Input``, as the server
        derives it."""
        message = RequestMessage(request)
        member = InputReader()([line for line in message.field("signature-input") or []])[0]
        if member is None:
            raise ValueError("the request's Signature-Input is not a signature's")
        _, covered, _, serialized = member
        return {"signature_base": signature_base(covered, serialized, message).decode("ascii")}
