"""RFC 9421's signature base: the message both halves read, component values, fast parsing.

The verifying scheme and the signer of :mod:`.rfc9421` derive every component
through :func:`component_value` from a :class:`Message`: a :class:`ScopeMessage`
(the ASGI scope, when verifying) or a :class:`RequestMessage` (the
``httpx.Request``, when signing), so the two halves cannot disagree.

``Signature-Input``, ``Signature`` and ``Content-Digest`` are RFC 8941 structured
fields. The common case, one member in canonical form, is read with one regular
expression each (a property test checks it against the full parser of
:mod:`hmac_asgi._sfv`, which reads everything else): its raw text is then its
own serialization, so ``@signature-params`` needs no re-serializing.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote, unquote_to_bytes

from .._sfv import (
    InnerList,
    Item,
    Params,
    StructuredFieldError,
    combine,
    parse_dictionary,
    parse_item,
    serialize_dictionary,
    serialize_inner_list,
    serialize_item,
)

if TYPE_CHECKING:
    import httpx
    from starlette.types import Scope

__all__ = [
    "Component",
    "ComponentError",
    "InputReader",
    "Member",
    "Message",
    "RequestMessage",
    "ScopeMessage",
    "authority",
    "component",
    "component_value",
    "identity",
    "parse_digests",
    "parse_signatures",
    "signature_base",
]

# A covered component: (its identifier as serialized, its name, its parameters).
Component = tuple[str, str, Params]
# A Signature-Input member: (label, covered components, parameters, serialized inner list).
Member = tuple[str, list[Component], Params, str]

_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
# Fields whose structured type is known, so ";sf" can re-serialize them: dictionaries.
_SF_DICTIONARIES = frozenset(
    {"content-digest", "repr-digest", "want-content-digest", "want-repr-digest", "priority"}
    | {"signature-input", "signature", "accept-signature"}
)

# One member in canonical RFC 8941 form (no optional space, no leading zero, no
# "?1" for true): what every signer sends. Anything else goes to the full parser.
_KEY = r"[a-z*][a-z0-9_\-.*]*"
_CHARS = r"[ !#-\[\]-~]*"  # printable ASCII but " and \\ (the string "unrolled": fast)
_STRING = rf'"{_CHARS}(?:\\[\\"]{_CHARS})*"'
_INTEGER = r"-?(?:0|[1-9][0-9]{0,14})"
_COMPONENT = rf"{_STRING}(?:;{_KEY}(?:={_STRING})?)*"
_PARAM = rf";({_KEY})(?:=({_STRING}|{_INTEGER}))?"
_PARAMS = rf"(?:;{_KEY}(?:=(?:{_STRING}|{_INTEGER}))?)*"
_INPUT = re.compile(rf"({_KEY})=(\(((?:{_COMPONENT}(?: {_COMPONENT})*)?)\){_PARAMS})")
_EACH_COMPONENT = re.compile(rf"({_STRING})((?:;{_KEY}(?:={_STRING})?)*)")
_EACH_PARAM = re.compile(_PARAM)
_BYTES = r":([A-Za-z0-9+/]*={0,2}):"
_SIGNATURE = re.compile(rf"({_KEY})={_BYTES}")
_DIGEST = re.compile(rf"(sha-256|sha-512)={_BYTES}")


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
        fields: dict[bytes, list[bytes]] = {}
        for name, value in scope["headers"]:
            lines = fields.get(name)
            if lines is None:
                fields[name] = [value]
            else:
                lines.append(value)
        self._fields = fields
        self.method = scope.get("method", "GET")  # a WebSocket handshake is a GET
        self.scheme = scope.get("scheme", "http")
        host = fields.get(b"host")
        # No Host (HTTP/1.0): the server's own address; two: no authority at all.
        server = scope.get("server")
        if host is not None:
            text = host[0].decode("latin-1") if len(host) == 1 else ""
        else:
            text = f"{server[0]}:{server[1]}" if server else ""
        self.authority = authority(text, self.scheme) if text else ""
        raw_path = scope.get("raw_path")
        if raw_path is None:  # optional in ASGI: re-encode what the server decoded
            # ``path`` holds ``root_path`` (as uvicorn >= 0.26 and Starlette's Mount read
            # the ASGI spec); an older server's does not, and gets it put back.
            root, path = scope.get("root_path", ""), scope["path"]
            if not path.startswith(root):
                path = root + path
            path = quote(path, safe="/%!$&'()*+,;=:@~")
        else:
            path = raw_path.decode("latin-1").partition("?")[0]
        self.path = path or "/"
        self.query = scope.get("query_string", b"").decode("latin-1")

    def field(self, name: str) -> list[str] | None:
        lines = self._fields.get(name.encode("latin-1"))
        return None if lines is None else [line.decode("latin-1") for line in lines]


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


def _authority(message: Message) -> str:
    if not message.authority:
        raise ComponentError("no Host")
    return message.authority


def _target(message: Message) -> str:
    return message.path + ("?" + message.query if message.query else "")


_DERIVED: Mapping[str, Callable[[Message], str]] = {
    "@method": lambda message: message.method,
    "@authority": _authority,
    "@scheme": lambda message: message.scheme,
    "@path": lambda message: message.path,
    "@query": lambda message: "?" + message.query,
    "@request-target": _target,
    "@target-uri": lambda message: f"{message.scheme}://{_authority(message)}{_target(message)}",
}


def component_value(name: str, params: Params, message: Message) -> str:
    """The value of one covered component of ``message``.

    Raises:
        ComponentError: the message does not have it, or it cannot be derived here.
    """
    if name[:1] == "@":
        derive = _DERIVED.get(name)
        if derive is not None and not params:
            return derive(message)
        if name != "@query-param" or set(params) != {"name"}:
            raise ComponentError("a derived component this server does not know, or parameters")
        wanted = params["name"]
        if type(wanted) is not str:
            raise ComponentError("@query-param's name must be a String")
        found = [value for key, value in _query_params(message.query) if key == wanted]
        if len(found) != 1:
            raise ComponentError("@query-param absent, or given more than once")
        return found[0]
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
        member = members[key]  # its value alone, serialized
        return (
            serialize_inner_list(member) if isinstance(member[0], list) else serialize_item(member)
        )
    return value


def identity(name: str, params: Params) -> object:
    """What makes two covered components the same one (parameter order aside)."""
    return name if not params else (name, frozenset(params.items()))


def signature_base(covered: list[Component], signature_params: str, message: Message) -> bytes:
    """The bytes signed: one line per covered component, then ``@signature-params``.

    Raises:
        ComponentError: a component the message cannot provide, or one covered twice.
    """
    lines = []
    seen = set()
    for text, name, params in covered:
        key = name if not params else (name, frozenset(params.items()))  # identity(), inline
        if key in seen:
            raise ComponentError("a component covered twice")
        seen.add(key)
        lines.append(f"{text}: {component_value(name, params, message)}")
    lines.append(f'"@signature-params": {signature_params}')
    try:
        return "\n".join(lines).encode("ascii")
    except UnicodeEncodeError:  # a path, query or Host with bytes beyond ASCII, as sent
        raise ComponentError("a component value that is not ASCII") from None


def component(text: str) -> Component:
    """A component identifier from configuration: ``@method`` or ``"@query-param";name="a"``.

    Raises:
        ValueError: it does not parse, or is not a String.
    """
    if not text.startswith('"'):
        if not text or text != text.strip() or (not text.startswith("@") and text != text.lower()):
            raise ValueError("components are lowercase field names or @derived names")
        text = f'"{text}"'
    try:
        item = parse_item(text)
    except StructuredFieldError:
        raise ValueError("a component identifier that does not parse") from None
    if type(item[0]) is not str:
        raise ValueError("a component identifier must be a String")
    return serialize_item(item), item[0], item[1]


def _unquote(text: str) -> str:
    inner = text[1:-1]
    return re.sub(r"\\(.)", r"\1", inner) if "\\" in inner else inner


def _fast_input(text: str) -> tuple[Member, int] | None:
    """One canonical member, read by regular expressions, and where in ``text`` its
    parameters start; ``None`` for anything else."""
    match = _INPUT.fullmatch(text)
    if match is None:
        return None
    label, serialized, inner = match.group(1, 2, 3)
    covered: list[Component] = []
    if ";" not in inner and "\\" not in inner and inner.count('"') == 2 * inner.count(" ") + 2:
        # The usual: plain names, one space apart, none holding a space.
        for quoted in inner.split(" "):
            covered.append((quoted, quoted[1:-1], {}))
        found_all: Iterable[re.Match[str]] = ()
    else:
        found_all = _EACH_COMPONENT.finditer(inner)
    for found in found_all:
        quoted, with_params = found.group(1, 2)
        if with_params:  # "@query-param";name="a": rare enough for the full parser
            name, component_params = parse_item(found.group(0))
            if with_params.count(";") != len(component_params):
                return None  # a repeated parameter: not canonical
            covered.append((found.group(0), str(name), component_params))
        else:
            covered.append((quoted, _unquote(quoted), {}))
    params: Params = {}
    for key, value in _EACH_PARAM.findall(serialized[len(inner) + 2 :]):
        if key in params:
            return None  # a repeated parameter: not canonical
        params[key] = True if not value else _unquote(value) if value[0] == '"' else int(value)
    return (label, covered, params, serialized), match.end(3) + 1


def _full_input(label: str, member: Item | InnerList) -> Member | None:
    """A member the full parser read; ``None`` when it is not an inner list of Strings."""
    items, params = member
    if not isinstance(items, list) or any(type(item[0]) is not str for item in items):
        return None
    covered = [(serialize_item(item), str(item[0]), item[1]) for item in items]
    return label, covered, params, serialize_inner_list((items, params))


_CREATED = ";created="
_DIGITS = re.compile(r"0|[1-9][0-9]{0,14}")
_SHAPES_KEPT = 64  # a client sending a nonce or expires makes a new one each time


class InputReader:
    """Reads ``Signature-Input``; remembers the shapes of the canonical members it has read.

    A client signs its requests alike: the same label, components and parameters,
    only ``created`` changing (a ``nonce`` too, if it sends one). Such a member is
    ``label=(components);created=<digits><rest>``: when the text before
    ``;created=`` is exactly the label and the inner list, and the text after the
    digits was seen before in that place, it parses as before with the new
    ``created``, and is still canonical (its digits are). Up to 64 shapes are
    kept per scheme (a client sending a `nonce` or `expires` makes a new shape every time:
    those are kept for nothing, but few); anything else is read afresh.
    """

    __slots__ = ("_shapes",)

    def __init__(self) -> None:
        self._shapes: dict[tuple[str, str], Member] = {}

    def __call__(self, lines: list[str]) -> list[Member | None]:
        """``Signature-Input``'s members in order (``None``: one that is not a signature's).

        Raises:
            StructuredFieldError: the field does not parse.
        """
        if len(lines) == 1:
            text = lines[0]
            head, split, rest = text.partition(_CREATED)
            digits = _DIGITS.match(rest) if split else None
            key = (head, rest[digits.end() :]) if digits is not None else None
            if key is not None:
                shape = self._shapes.get(key)
                if shape is not None:
                    label, covered, params, _ = shape
                    params = dict(params)
                    params["created"] = int(digits[0])  # type: ignore[index]
                    return [(label, covered, params, text[len(label) + 1 :])]
            fast = _fast_input(text)
            if fast is not None:
                member, params_at = fast
                # Only a split right after the inner list is a shape (not one inside a String).
                if key is not None and params_at == len(head):
                    if len(self._shapes) >= _SHAPES_KEPT:
                        self._shapes.clear()
                    self._shapes[key] = member
                return [member]
        members = parse_dictionary(combine(lines))
        return [_full_input(label, member) for label, member in members.items()]


def _byte_members(lines: list[str], fast: re.Pattern[str]) -> dict[str, bytes | None]:
    """A dictionary of byte sequences (``None`` for a member that is not one); one
    canonical member is read by ``fast``.

    Raises:
        StructuredFieldError: the field does not parse.
    """
    if len(lines) == 1:
        match = fast.fullmatch(lines[0])
        if match is not None and len(match[2]) % 4 == 0:
            return {match[1]: base64.b64decode(match[2])}
    return {
        key: member[0] if isinstance(member[0], bytes) else None
        for key, member in parse_dictionary(combine(lines)).items()
    }


def parse_signatures(lines: list[str]) -> dict[str, bytes | None]:
    """``Signature``'s members: label to signature bytes (``None``: not a byte sequence)."""
    return _byte_members(lines, _SIGNATURE)


def parse_digests(lines: list[str]) -> dict[str, bytes | None]:
    """``Content-Digest``'s members: algorithm to digest (``None``: not a byte sequence)."""
    return _byte_members(lines, _DIGEST)
