"""RFC 9421 HTTP Message Signatures with ``hmac-sha256``, the body bound by RFC 9530's
``Content-Digest``: the one module that knows the format.

    Content-Digest:  sha-256=:<base64 SHA-256 of the body>:
    Signature-Input: sig1=("@method" "@authority" "@path" "@query" "content-digest")
                     ;created=1732838400;keyid="orders-key-1";alg="hmac-sha256"  (one line)
    Signature:       sig1=:<base64 HMAC-SHA256(secret, signature base)>:

The signature base is one line per covered component, ``"<identifier>": <value>``,
then ``"@signature-params": <the inner list above, re-serialized>``, joined with LF.
Component values are derived from the request as RFC 9421 section 2 says, by one
function for both halves: from the ASGI scope when verifying (the raw path as
sent, never percent-decoded; the authority from ``Host``, lowercased, its default
port dropped; ``@query`` is ``?`` when there is none) and from the ``httpx.Request``
when signing. ``Content-Digest`` is checked against the body as it streams in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, unquote_to_bytes

from .._checks import type_name
from .._errors import AuthException, failure
from .._keys import KeyRing, Lookup, Secrets
from .._mac import MacKey, Running
from .._sfv import (
    Item,
    Params,
    StructuredFieldError,
    combine,
    parse_dictionary,
    parse_item,
    serialize_bare_item,
    serialize_dictionary,
    serialize_inner_list,
    serialize_item,
)
from . import Verified

if TYPE_CHECKING:
    import httpx
    from starlette.types import Scope

__all__ = [
    "DEFAULT_COMPONENTS",
    "HEADERS",
    "MessageSignatureScheme",
    "MessageSigner",
    "signature_base",
]

HEADERS = ("Signature-Input", "Signature")
ALGORITHM = "hmac-sha256"
DEFAULT_COMPONENTS = ("@method", "@authority", "@path", "@query", "content-digest")
_DIGESTS: Mapping[str, Callable[..., Any]] = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
# Fields whose structured type is known, so ";sf" can re-serialize them: dictionaries.
_SF_DICTIONARIES = frozenset(
    {"content-digest", "repr-digest", "want-content-digest", "want-repr-digest", "priority"}
    | {"signature-input", "signature", "accept-signature"}
)


class ComponentError(ValueError):
    """A covered component this message cannot provide (absent, or not derivable)."""


# The message, as both halves see it.


class Message(Protocol):
    """What component values are derived from: a request being verified or being signed."""

    method: str
    scheme: str  # lowercase
    authority: str  # normalized: lowercase host, no default port
    path: str  # raw, as sent; "/" when empty
    query: str  # raw, as sent, without "?"; "" when none

    def field(self, name: str) -> list[str] | None:
        """The lines of header ``name`` (lowercase), as sent; ``None`` when absent."""


def authority(host: str, scheme: str) -> str:
    """``Host`` normalized (RFC 9110 section 4.2.3): lowercase, default port dropped."""
    host = host.strip().lower()
    if host.startswith("["):  # an IPv6 literal: [::1]:8443
        name, _, rest = host.partition("]")
        name += "]"
        port = rest[1:] if rest.startswith(":") else None
    else:
        name, colon, port_text = host.rpartition(":")
        name, port = (name, port_text) if colon else (port_text, None)
    if port is None or port == "" or port.lstrip("0") == _DEFAULT_PORTS.get(scheme):
        return name
    return f"{name}:{port}"


class ScopeMessage:
    """A request being verified, read from its ASGI scope (headers collected once)."""

    __slots__ = ("_fields", "authority", "method", "path", "query", "scheme")

    def __init__(self, scope: Scope) -> None:
        fields: dict[str, list[str]] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1")
            line = value.decode("latin-1")
            lines = fields.get(key)
            if lines is None:
                fields[key] = [line]
            else:
                lines.append(line)
        self._fields = fields
        self.method = scope.get("method", "GET")  # a WebSocket handshake is a GET
        self.scheme = scope.get("scheme", "http")
        host = fields.get("host")
        if host is None or len(host) != 1:
            server = scope.get("server")
            host = [f"{server[0]}:{server[1]}"] if host is None and server else None
        self.authority = authority(host[0], self.scheme) if host else ""
        raw_path = scope.get("raw_path")
        if raw_path is None:  # optional in ASGI: re-encode what the server decoded
            path = quote(scope.get("root_path", "") + scope["path"], safe="/%!$&'()*+,;=:@~")
        else:
            path = raw_path.decode("latin-1").partition("?")[0]
        self.path = path or "/"
        self.query = scope.get("query_string", b"").decode("latin-1")

    def field(self, name: str) -> list[str] | None:
        return self._fields.get(name)


class RequestMessage:
    """A request being signed: an ``httpx.Request``, read as the server will read it."""

    __slots__ = ("_extra", "_request", "authority", "method", "path", "query", "scheme")

    def __init__(self, request: httpx.Request, extra: Mapping[str, str] | None = None) -> None:
        url = request.url
        self._request = request
        # Headers about to be set (Content-Digest): they count as the request's own.
        self._extra = {name.lower(): [value] for name, value in (extra or {}).items()}
        self.method = request.method
        self.scheme = url.scheme
        host = request.headers.get("host") or url.netloc.decode("ascii")
        self.authority = authority(host, url.scheme)
        path, _, query = url.raw_path.decode("ascii").partition("?")
        self.path = path or "/"
        self.query = query  # "/p?" is sent as such, but a server cannot tell it from "/p"

    def field(self, name: str) -> list[str] | None:
        return self._extra.get(name) or self._request.headers.get_list(name) or None


# Component values (RFC 9421 section 2).


def _form_encode(text: bytes) -> str:
    """The ``application/x-www-form-urlencoded`` serializing of one decoded name or value,
    as RFC 9421's examples have it (a space is ``%20``; only ``*-._`` stay as they are)."""
    return quote(text, safe="*").replace("~", "%7E")


def _query_params(query: str) -> list[tuple[str, str]]:
    """``query`` parsed as form parameters, each name and value re-encoded."""
    pairs = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            decode = unquote_to_bytes
            pairs.append(
                (
                    _form_encode(decode(name.replace("+", " "))),
                    _form_encode(decode(value.replace("+", " "))),
                )
            )
    return pairs


def _clean(value: str) -> str:
    if not value.isascii() or "\n" in value or "\r" in value:
        raise ComponentError("a field value that is not plain ASCII (cover it with ;bs)")
    return value


def component_value(name: str, params: Params, message: Message) -> str:
    """The value of one covered component of ``message``.

    Raises:
        ComponentError: the message does not have it, or it cannot be derived here.
    """
    if name.startswith("@"):
        extra = set(params) - ({"name"} if name == "@query-param" else set())
        if extra:
            raise ComponentError("a derived component with parameters it does not take")
        if name == "@method":
            return message.method
        if name == "@authority":
            if not message.authority:
                raise ComponentError("no Host")
            return message.authority
        if name == "@scheme":
            return message.scheme
        if name == "@path":
            return message.path
        if name == "@query":
            return "?" + message.query
        target = message.path + ("?" + message.query if message.query else "")
        if name == "@request-target":
            return target
        if name == "@target-uri":
            return f"{message.scheme}://{message.authority}{target}"
        if name == "@query-param":
            wanted = params.get("name")
            if not isinstance(wanted, str):
                raise ComponentError("@query-param without a name")
            found = [value for key, value in _query_params(message.query) if key == wanted]
            if len(found) != 1:
                raise ComponentError("@query-param absent, or given more than once")
            return found[0]
        raise ComponentError("a derived component this server does not know")
    lines = message.field(name)
    if lines is None:
        raise ComponentError("a header the request does not carry")
    unknown = set(params) - {"bs", "key", "sf"}
    if unknown or ("bs" in params and len(params) > 1):
        raise ComponentError("field parameters this server does not support")
    if "bs" in params:
        return ", ".join(
            ":" + base64.b64encode(line.strip(" \t").encode("latin-1")).decode() + ":"
            for line in lines
        )
    value = _clean(", ".join(line.strip(" \t") for line in lines))
    if "key" in params or "sf" in params:
        if name not in _SF_DICTIONARIES and "key" not in params:
            raise ComponentError("a structured field of a type this server does not know")
        try:
            members = parse_dictionary(value)
        except StructuredFieldError:
            raise ComponentError("a structured field that does not parse") from None
        key = params.get("key")
        if key is None:
            return serialize_dictionary(members)
        if not isinstance(key, str) or key not in members:
            raise ComponentError("a dictionary member the field does not have")
        return serialize_dictionary({"": members[key]})[1:]  # the member's value alone
    return value


def _identity(item: Item) -> tuple[object, frozenset[tuple[str, object]]]:
    return item[0], frozenset(item[1].items())


def signature_base(covered: list[Item], signature_params: str, message: Message) -> bytes:
    """The bytes signed: one line per covered component, then ``@signature-params``.

    Raises:
        ComponentError: a component the message cannot provide, or one covered twice.
    """
    lines = []
    seen = set()
    for item in covered:
        name, params = item
        if type(name) is not str:  # a Token, a number...
            raise ComponentError("a component identifier that is not a String")
        identity = _identity(item)
        if identity in seen:
            raise ComponentError("a component covered twice")
        seen.add(identity)
        lines.append(f"{serialize_item(item)}: {component_value(name, params, message)}")
    lines.append(f'"@signature-params": {signature_params}')
    return "\n".join(lines).encode("ascii")


def _component(text: str) -> Item:
    """A component identifier from configuration: ``@method`` or ``"@query-param";name="a"``."""
    if text.startswith('"'):
        try:
            item = parse_item(text)
        except StructuredFieldError:
            raise ValueError("a component identifier that does not parse") from None
        if not isinstance(item[0], str):
            raise ValueError("a component identifier must be a String")
        return item
    if not text or text != text.strip() or (not text.startswith("@") and text != text.lower()):
        raise ValueError("components are lowercase field names or @derived names")
    return text, {}


def digest_header(body: bytes, algorithm: str = "sha-256") -> str:
    """The ``Content-Digest`` value for ``body``."""
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
        "nonce",
        "signature",
        "unsigned_body_refused",
    )

    def __init__(self, key_id: str, created: float, signature: bytes) -> None:
        self.key_id = key_id
        self.created = created
        self.signature = signature
        self.expires: float | None = None
        self.nonce: str | None = None
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
            a body whose digest is not covered is refused. Covered or not required,
            a ``Content-Digest`` is always checked against the body.
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
        required = [_component(text) for text in required_components]
        self._digest_when_body = ("content-digest", {}) in required
        self._required = [_identity(item) for item in required if item != ("content-digest", {})]
        self._required_text = " ".join(serialize_item(item) for item in required)
        if tag is not None and not isinstance(tag, str):
            raise TypeError(f"tag must be a str or None, not {type_name(tag)}")
        self._tag = tag
        self._require_nonce = bool(require_nonce)
        wanted: Params = {"alg": ALGORITHM}
        if tag is not None:
            wanted["tag"] = tag
        self.challenge = {"Accept-Signature": "sig1=" + serialize_inner_list((required, wanted))}

    def parse(self, scope: Scope) -> _Claim:
        message = ScopeMessage(scope)
        inputs = _dictionary(message, "signature-input", "Signature-Input")
        signatures = _dictionary(message, "signature", "Signature")
        first_refusal: AuthException | None = None
        chosen: tuple[_Claim, list[Item], Params] | None = None
        for label, member in inputs.items():
            try:
                candidate = self._candidate(member, signatures.get(label))
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
        claim, covered, params = chosen
        try:
            claim.base = signature_base(covered, serialize_inner_list((covered, params)), message)
        except ComponentError:
            raise failure("unsupported_component") from None
        if any(item[0] == "content-digest" for item in covered):
            claim.digests = _digests(message)
        else:
            claim.unsigned_body_refused = self._digest_when_body
        return claim

    def _candidate(self, member: object, signature: object) -> tuple[_Claim, list[Item], Params]:
        """One Signature-Input member checked against the policy, or the refusal why not."""
        if not isinstance(member, tuple) or not isinstance(member[0], list):
            raise failure("malformed_header", name="Signature-Input")
        if not isinstance(signature, tuple) or not isinstance(signature[0], bytes):
            raise failure("malformed_header", name="Signature")
        covered, params = member
        created = _integer(params.get("created"))
        if created is None or created < 0:
            raise failure("missing_parameter", name="created")
        key_id = params.get("keyid")
        if type(key_id) is not str or not key_id:
            raise failure("missing_parameter", name="keyid")
        if "alg" in params and params["alg"] != ALGORITHM:
            raise failure("unsupported_algorithm")
        if self._tag is not None and params.get("tag") != self._tag:
            raise failure("wrong_tag", tag=self._tag)
        nonce = params.get("nonce")
        if (nonce is not None and type(nonce) is not str) or (self._require_nonce and not nonce):
            raise failure("missing_parameter", name="nonce")
        if "expires" in params and _integer(params["expires"]) is None:
            raise failure("malformed_header", name="Signature-Input")
        have = {_identity(item) for item in covered}
        if not all(identity in have for identity in self._required):
            raise failure("insufficient_coverage", required=self._required_text)
        claim = _Claim(key_id, float(created), signature[0])
        claim.nonce = nonce
        if "expires" in params:
            claim.expires = float(params["expires"])
        return claim, covered, params

    def begin(self, claim: _Claim, keys: tuple[MacKey, ...], known: bool) -> _Check:
        return _Check(claim, keys, known)

    def replay_key(self, claim: _Claim) -> str:
        # The MAC covers @signature-params, nonce included, so keyid and signature name
        # it; the signature is fixed-length base64, so the keyid after it cannot blur.
        return f"rfc9421:{base64.b64encode(claim.signature).decode()}:{claim.key_id}"

    def accept(self, claim: _Claim, state: MutableMapping[str, Any]) -> None:
        state["hmac"] = Verified(self.name, claim.key_id)


def _dictionary(message: Message, name: str, title: str) -> dict[str, Any]:
    lines = message.field(name)
    if lines is None:
        raise failure("missing_header", name=title)
    try:
        return parse_dictionary(combine(lines))
    except StructuredFieldError:
        raise failure("malformed_header", name=title) from None


def _digests(message: Message) -> list[tuple[str, bytes]]:
    """The digests ``Content-Digest`` claims, for the algorithms this server knows."""
    members = _dictionary(message, "content-digest", "Content-Digest")
    digests = [
        (algorithm, value[0])
        for algorithm, value in members.items()
        if algorithm in _DIGESTS and isinstance(value[0], bytes)
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
        self._components = [_component(text) for text in components]
        try:
            serialize_dictionary({label: (b"", {})})
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
        if ("content-digest", {}) in covered:
            if body:
                headers["Content-Digest"] = digest_header(body)
            else:
                covered = [item for item in covered if item != ("content-digest", {})]
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
        signature_params = serialize_inner_list((covered, params))
        message = RequestMessage(request, headers)
        signature = self._key.mac(signature_base(covered, signature_params, message))
        headers["Signature-Input"] = f"{self._label}={signature_params}"
        headers["Signature"] = f"{self._label}=:{base64.b64encode(signature).decode()}:"
        return headers
