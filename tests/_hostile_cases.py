"""The hostile requests every wire format is tried with, and the server they are tried on.

``CASES[scheme]`` lists, per format, requests built from a correctly signed one: headers
missing, empty, duplicated or malformed; wrong, short or huge signatures; wrong secrets
and keys; stale, future and edited timestamps; the body (and, where the format signs
them, the method, path, query and host) changed after signing; bodies over the limit
and ``Content-Length`` values that lie. Each says what the middleware answers.

- ``tests/test_hostile.py`` sends every case through the raw ASGI driver (whole, and in
  7-byte chunks) to a middleware on a fixed clock.
- ``tests/test_load.py`` mixes the cases HTTP/1.1 can carry (``wire``) into its load over
  uvicorn, signed at the time they are sent, to a middleware that speaks all three.

A case is a :class:`Case`: its name, the answer (status, ``code``, and the exact
``detail`` where the format's text is pinned) and how to build it from a
:class:`Context` (the format, the signing time, the good request's body and URL, the
body limit). :func:`middleware_options` is the server side both tests use.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from _asgi import Headers, scope_for
from _signing import (
    CLIENT_ID,
    KEY_ID,
    RFC_SECOND_SECRET,
    RFC_SECRET,
    SECOND_ID,
    SECOND_KEY_ID,
    SECOND_SECRET,
    SECRET,
    WEBHOOK_OLD_SECRET,
    WEBHOOK_SECRET,
    WRONG_SECRET,
    Edit,
    replaced,
    signed,
    twice,
    without,
)

from hmac_asgi import DestinyScheme, MessageSignatureScheme, StandardWebhookScheme

MAX_AGE = 300  # the middleware's default

UNKNOWN_ID = uuid.UUID("3b42cdf7-add1-445f-98db-2fe525ad54d6")  # a UUIDv4 nobody has


def middleware_options(scheme: str) -> dict[str, Any]:
    """``HMACMiddleware`` arguments for one format: two clients, keyids or secrets."""
    if scheme == "destiny":
        return {"client_secrets": {CLIENT_ID: SECRET, SECOND_ID: [SECOND_SECRET]}}
    return {"schemes": [server_scheme(scheme)]}


def server_scheme(scheme: str) -> Any:
    """The format as the server knows it (``schemes=[...]``), with the keys of the cases."""
    if scheme == "destiny":
        return DestinyScheme(client_secrets={CLIENT_ID: SECRET, SECOND_ID: [SECOND_SECRET]})
    if scheme == "rfc9421":
        return MessageSignatureScheme(keys={KEY_ID: RFC_SECRET, SECOND_KEY_ID: RFC_SECOND_SECRET})
    return StandardWebhookScheme(secrets=[WEBHOOK_SECRET, WEBHOOK_OLD_SECRET])


@dataclass(frozen=True)
class Context:
    """What a case is built against."""

    scheme: str
    at: float  # when it is signed: the server's clock, or now
    body: bytes  # the good request's body
    url: str  # where the good request goes (RFC 9421 signs the host, path and query)
    limit: int  # the server's max_body_size
    beyond: float  # how far past max_age a stale or future timestamp is

    def stale(self) -> float:
        """A time just too old (whole seconds for the formats that sign them)."""
        at = self.at - MAX_AGE - self.beyond
        return at if self.scheme == "destiny" else math.floor(at)

    def ahead(self) -> float:
        """A time just too far in the future."""
        at = self.at + MAX_AGE + self.beyond
        return at if self.scheme == "destiny" else math.ceil(at)

    def good(self) -> Attempt:
        """The request every case starts from, as it is signed."""
        return Case("good", 200).build(self)


@dataclass(frozen=True)
class Attempt:
    """One request as it is sent: method, URL, headers (raw; a ``host`` among them is the
    Host sent instead of the URL's) and body."""

    method: str
    url: str
    headers: Headers
    body: bytes

    def scope(self) -> dict[str, Any]:
        scope = scope_for(self.method, self.url, self.headers)
        if any(name == b"host" for name, _ in self.headers):
            scope["headers"] = scope["headers"][1:]  # the URL's Host gives way
        return scope


Value = Any  # a value, or a function of the Context that gives it


def _value(value: Value, ctx: Context) -> Any:
    return value(ctx) if callable(value) else value


@dataclass(frozen=True)
class Case:
    """A hostile request: the good one, signed with ``sign`` over ``signs`` (its body by
    default), its headers put through ``edits``, sent with ``sent(body)``."""

    name: str
    status: int
    code: str = ""
    edits: tuple[Edit, ...] = ()
    sign: Mapping[str, Value] = field(default_factory=dict)  # signed()'s arguments
    signs: Value = None  # the body signed (None: the context's)
    sent: Callable[[bytes], bytes] | None = None  # the body sent, from the signed one
    method: str | None = None  # sent instead of the signed one
    url: Callable[[str], str] | None = None  # sent instead of the signed one
    detail: str | None = None  # the exact detail, where it is pinned
    wire: bool = True  # False: HTTP/1.1 cannot carry it as built (see test_load.py)

    def build(self, ctx: Context) -> Attempt:
        body = ctx.body if self.signs is None else _value(self.signs, ctx)
        options = {"at": ctx.at, **{k: _value(v, ctx) for k, v in self.sign.items()}}
        good = signed(ctx.scheme, body, url=ctx.url, **options)
        headers = good.raw
        for edit in self.edits:
            headers = edit(headers)
        return Attempt(
            self.method or good.method,
            ctx.url if self.url is None else self.url(ctx.url),
            headers,
            body if self.sent is None else self.sent(body),
        )


def case(name: str, status: int, code: str = "", *edits: Edit, **options: Any) -> Case:
    return Case(name, status, code, edits, **options)


def edit_value(name: bytes, change: Callable[[bytes], bytes]) -> Edit:
    """``name``'s value changed by ``change``."""
    return lambda hs: [(k, change(v) if k == name else v) for k, v in hs]


def flip(body: bytes) -> bytes:
    return bytes([body[0] ^ 1]) + body[1:]


BODY_CHANGES = {  # name -> the body sent instead of the signed one
    "body-tampered": flip,
    "body-truncated": lambda b: b[:-1],
    "body-extended": lambda b: b + b" ",
    "body-dropped": lambda b: b"",
}

OVER_LIMIT = lambda ctx: b"a" * (ctx.limit + 1)  # noqa: E731
CONTENT_LENGTH = b"content-length"


def limits(tampered: str) -> list[Case]:
    """What every format shares: a changed body (refused with ``tampered``), bodies over
    the limit, and Content-Length values, which the ASGI server frames the body by (only
    one over the limit is refused before reading)."""
    return [
        *(case(name, 401, tampered, sent=change) for name, change in BODY_CHANGES.items()),
        case("body-over-limit-signed", 413, "body_too_large", signs=OVER_LIMIT),
        case(
            "content-length-over-limit",
            413,
            "body_too_large",
            lambda hs: [*hs, (CONTENT_LENGTH, b"999999999999")],
            wire=False,  # sent by raw socket in test_load.py
        ),
        case(
            "content-length-twice-one-over-limit",
            413,
            "body_too_large",
            lambda hs: [*hs, (CONTENT_LENGTH, b"10"), (CONTENT_LENGTH, b"99999999")],
            wire=False,
        ),
        case(
            "content-length-understated",
            200,
            "",
            lambda hs: [*hs, (CONTENT_LENGTH, b"3")],
            wire=False,
        ),
        case(
            "content-length-garbage",
            200,
            "",
            lambda hs: [*hs, (CONTENT_LENGTH, b"abc")],
            wire=False,
        ),
    ]


# --- destiny-sdk's format -----------------------------------------------------------------

AUTH, CID, TS = b"authorization", b"x-client-id", b"x-request-timestamp"


def destiny_sig(edit: Callable[[bytes], bytes]) -> Edit:
    """The 64 hex digits after ``Signature `` edited."""
    return edit_value(AUTH, lambda v: b"Signature " + edit(v.split(b" ", 1)[1]))


def destiny_cases() -> list[Case]:
    sig = destiny_sig
    text = str(CLIENT_ID).encode()
    return [
        case("no-headers-at-all", 401, "missing_authorization", lambda hs: []),
        case("no-authorization", 401, "missing_authorization", without(AUTH)),
        case("empty-authorization", 401, "missing_authorization", replaced(AUTH, b"")),
        case("scheme-bearer", 401, "unsupported_scheme", replaced(AUTH, b"Bearer abc")),
        case("scheme-basic", 401, "unsupported_scheme", replaced(AUTH, b"Basic dXNlcjpwYXNz")),
        case(
            "scheme-hmac", 401, "unsupported_scheme", edit_value(AUTH, lambda v: b"HMAC " + v[10:])
        ),
        case("scheme-without-value", 401, "malformed_signature", replaced(AUTH, b"Signature")),
        case("signature-63-hex", 401, "malformed_signature", sig(lambda s: s[:63])),
        case("signature-65-hex", 401, "malformed_signature", sig(lambda s: s + b"0")),
        # "A" first: a signature of digits alone would have no letter to upper-case.
        case(
            "signature-uppercase-hex",
            401,
            "malformed_signature",
            sig(lambda s: b"A" + s[1:].upper()),
        ),
        case("signature-non-hex", 401, "malformed_signature", sig(lambda s: b"g" + s[1:])),
        # HTTP/1.1 strips white space around a value: these only reach the app over ASGI.
        case(
            "signature-trailing-space",
            401,
            "malformed_signature",
            sig(lambda s: s + b" "),
            wire=False,
        ),
        case("signature-double-space", 401, "malformed_signature", sig(lambda s: b" " + s)),
        case(
            "signature-non-ascii", 401, "malformed_signature", sig(lambda s: "é".encode() + s[2:])
        ),
        case(
            "signature-base64",
            401,
            "malformed_signature",
            sig(lambda s: b"q83vEjRWeJA=" * 5 + b"abcd"),
        ),
        # 128 kB: uvicorn refuses a header that large before the app.
        case("signature-huge", 401, "malformed_signature", sig(lambda s: s * 2000), wire=False),
        case("signature-wrong-value", 401, "invalid_signature", sig(lambda s: b"0" * 64)),
        case("authorization-twice", 401, "duplicate_header", twice(AUTH)),
        case("authorization-twice-other", 401, "duplicate_header", twice(AUTH, b"Bearer x")),
        case("no-client-id", 401, "missing_client_id", without(CID)),
        case("empty-client-id", 401, "missing_client_id", replaced(CID, b"")),
        case("client-id-uppercase", 401, "invalid_client_id", replaced(CID, text.upper())),
        case("client-id-braces", 401, "invalid_client_id", replaced(CID, b"{%s}" % text)),
        case("client-id-urn", 401, "invalid_client_id", replaced(CID, CLIENT_ID.urn.encode())),
        case(
            "client-id-no-hyphens", 401, "invalid_client_id", replaced(CID, CLIENT_ID.hex.encode())
        ),
        case(
            "client-id-v1",
            401,
            "invalid_client_id",
            sign={"key_id": uuid.UUID("c232ab00-9414-11ec-b3c8-9f6bdeced846")},
        ),
        case(
            "client-id-v3",
            401,
            "invalid_client_id",
            sign={"key_id": uuid.uuid3(uuid.NAMESPACE_DNS, "x")},
        ),
        case("client-id-nil", 401, "invalid_client_id", sign={"key_id": uuid.UUID(int=0)}),
        case(
            "client-id-bad-variant",
            401,
            "invalid_client_id",
            replaced(CID, b"6234ddc9-6b49-4e45-cc0f-e91d2c381222"),
        ),
        case(
            "client-id-leading-space",
            401,
            "invalid_client_id",
            replaced(CID, b" " + text),
            wire=False,
        ),
        case(
            "client-id-non-ascii",
            401,
            "invalid_client_id",
            replaced(CID, "\uff16234ddc9-6b49-4e45-9c0f-e91d2c381222".encode()),
        ),
        case("client-id-twice", 401, "duplicate_header", twice(CID)),
        # Signed by one client, sent as another: its id is not what was signed.
        case("client-id-swapped", 401, "invalid_signature", replaced(CID, str(SECOND_ID).encode())),
        case("unknown-client", 401, "invalid_signature", sign={"key_id": UNKNOWN_ID}),
        case("other-clients-secret", 401, "invalid_signature", sign={"secret": SECOND_SECRET}),
        case("wrong-secret", 401, "invalid_signature", sign={"secret": WRONG_SECRET}),
        case("no-timestamp", 401, "missing_timestamp", without(TS)),
        case("empty-timestamp", 401, "missing_timestamp", replaced(TS, b"")),
        *(
            case(f"timestamp-{name}", 401, "malformed_timestamp", sign={"at": text}, wire=wire)
            for name, text, wire in [
                ("nan", "nan", True),
                ("inf", "inf", True),
                ("minus-inf", "-inf", True),
                ("1e309", "1e309", True),
                ("exponent", "1.8e9", True),
                ("underscores", "1_800_000_000", True),
                ("leading-space", lambda ctx: f" {ctx.at}", False),
                ("trailing-newline", lambda ctx: f"{ctx.at}\n", False),
                ("negative", "-1800000000", True),
                ("plus-sign", lambda ctx: f"+{ctx.at}", True),
                ("trailing-dot", "1800000000.", True),
            ]
        ),
        case("timestamp-hex", 401, "malformed_timestamp", replaced(TS, b"0x6b49d200")),
        case("timestamp-leading-dot", 401, "malformed_timestamp", replaced(TS, b".5")),
        case(
            "timestamp-fullwidth-digits",
            401,
            "malformed_timestamp",
            replaced(TS, ("\uff11\uff18" + "\uff10" * 8).encode()),
        ),
        case("timestamp-too-many-digits", 401, "malformed_timestamp", replaced(TS, b"1" * 40)),
        case("timestamp-expired", 401, "expired", sign={"at": Context.stale}),
        case("timestamp-epoch-zero", 401, "expired", sign={"at": "0"}),
        case("timestamp-future", 401, "future_timestamp", sign={"at": Context.ahead}),
        case("timestamp-far-future", 401, "future_timestamp", sign={"at": "99999999999"}),
        case("timestamp-twice", 401, "duplicate_header", twice(TS)),
        case(
            "timestamp-changed-in-window",
            401,
            "invalid_signature",
            edit_value(TS, lambda v: f"{float(v) - 1}".encode()),
        ),
        # Another text of the same float is the same timestamp (destiny-sdk signs the float).
        case(
            "timestamp-same-float-other-text",
            200,
            sign={"at": lambda ctx: f"{ctx.at!r}000001"},
        ),
        case("signed-for-empty-body", 401, "invalid_signature", signs=b"", sent=lambda b: b"x"),
        *limits("invalid_signature"),
    ]


# --- RFC 9421 -----------------------------------------------------------------------------

INPUT, SIGNATURE, DIGEST = b"signature-input", b"signature", b"content-digest"


def rfc_mac(mac: bytes) -> Edit:
    """``Signature: sig1=:<mac>:``, well formed, with another MAC."""
    return replaced(SIGNATURE, b"sig1=:" + base64.b64encode(mac) + b":")


def rfc_param(name: str, change: Callable[[str], str]) -> Edit:
    """A Signature-Input parameter ``;name=value`` becomes ``;<change(value)>``, or goes
    when that is empty (the signature is not redone)."""
    pattern = re.compile(rf";{name}=([^;]*)".encode())

    def edit(value: bytes) -> bytes:
        def new(match: re.Match[bytes]) -> bytes:
            text = change(match.group(1).decode())
            return f";{text}".encode() if text else b""

        return pattern.sub(new, value)

    return edit_value(INPUT, edit)


NO_PATH = ["@method", "@authority", "@query", "content-digest"]
NO_DIGEST = ["@method", "@authority", "@path", "@query"]


def rfc9421_cases() -> list[Case]:
    missing = "Missing {} header."
    malformed = "Malformed {} header."
    other_body = b"{}"
    digest = "sha-256=:" + base64.b64encode(hashlib.sha256(other_body).digest()).decode() + ":"
    return [
        case(
            "no-headers-at-all",
            401,
            "missing_header",
            lambda hs: [],
            detail=missing.format("Signature-Input"),
        ),
        case(
            "no-signature-input",
            401,
            "missing_header",
            without(INPUT),
            detail=missing.format("Signature-Input"),
        ),
        case(
            "no-signature",
            401,
            "missing_header",
            without(SIGNATURE),
            detail=missing.format("Signature"),
        ),
        case("no-content-digest", 401, "unsupported_component", without(DIGEST)),
        case(
            "empty-signature-input",
            401,
            "malformed_header",
            replaced(INPUT, b""),
            detail=malformed.format("Signature-Input"),
        ),
        case(
            "empty-signature",
            401,
            "malformed_header",
            replaced(SIGNATURE, b""),
            detail=malformed.format("Signature"),
        ),
        case(
            "empty-content-digest",
            401,
            "malformed_header",
            replaced(DIGEST, b""),
            detail=malformed.format("Content-Digest"),
        ),
        # Structured fields: two lines are one field, and the same member twice is one.
        case("signature-input-twice", 200, "", twice(INPUT)),
        case("signature-twice", 200, "", twice(SIGNATURE)),
        case(
            "signature-twice-other-value",
            401,
            "invalid_signature",
            twice(SIGNATURE, b"sig1=:" + base64.b64encode(bytes(32)) + b":"),
        ),
        # ... but a covered field's lines are its value: a second one changes what was signed.
        case("content-digest-twice", 401, "invalid_signature", twice(DIGEST)),
        case(
            "signature-input-not-structured",
            401,
            "malformed_header",
            replaced(INPUT, b'sig1=("@method"'),
            detail=malformed.format("Signature-Input"),
        ),
        case(
            "signature-input-non-ascii",
            401,
            "malformed_header",
            edit_value(INPUT, lambda v: v + "é".encode()),
        ),
        case(
            "signature-input-huge",
            401,
            "malformed_header",
            edit_value(INPUT, lambda v: v + b";x=" + b"1" * 100_000),
            wire=False,
        ),
        case(
            "signature-not-base64",
            401,
            "malformed_header",
            replaced(SIGNATURE, b"sig1=:not base64!:"),
            detail=malformed.format("Signature"),
        ),
        case(
            "signature-non-ascii", 401, "malformed_header", replaced(SIGNATURE, "sig1=:é:".encode())
        ),
        case(
            "signature-other-label",
            401,
            "malformed_header",
            edit_value(SIGNATURE, lambda v: b"sig2" + v[4:]),
        ),
        case("signature-a-token", 401, "malformed_header", replaced(SIGNATURE, b"sig1=abc")),
        case("signature-short", 401, "invalid_signature", rfc_mac(bytes(31))),
        case("signature-huge", 401, "invalid_signature", rfc_mac(bytes(100_000)), wire=False),
        case("signature-wrong-value", 401, "invalid_signature", rfc_mac(bytes(32))),
        case("wrong-secret", 401, "invalid_signature", sign={"secret": WRONG_SECRET}),
        case("unknown-keyid", 401, "invalid_signature", sign={"key_id": "nobody"}),
        case("other-keys-secret", 401, "invalid_signature", sign={"secret": RFC_SECOND_SECRET}),
        case(
            "keyid-swapped",
            401,
            "invalid_signature",
            rfc_param("keyid", lambda v: f'keyid="{SECOND_KEY_ID}"'),
        ),
        case("keyid-missing", 401, "missing_parameter", rfc_param("keyid", lambda v: "")),
        case(
            "alg-other",
            401,
            "unsupported_algorithm",
            rfc_param("alg", lambda v: 'alg="rsa-pss-sha512"'),
        ),
        case("created-missing", 401, "missing_parameter", rfc_param("created", lambda v: "")),
        case(
            "created-decimal",
            401,
            "missing_parameter",
            rfc_param("created", lambda v: f"created={v}.5"),
        ),
        case("created-expired", 401, "expired", sign={"at": Context.stale}),
        case("created-zero", 401, "expired", sign={"at": 0}),
        case("created-future", 401, "future_timestamp", sign={"at": Context.ahead}),
        case("created-far-future", 401, "future_timestamp", sign={"at": 10**15 - 1}),
        case(
            "created-changed-in-window",
            401,
            "invalid_signature",
            rfc_param("created", lambda v: f"created={int(v) - 1}"),
        ),
        case("expires-passed", 401, "expired", sign={"expires_in": -1}),
        case("lacks-path", 401, "insufficient_coverage", sign={"components": NO_PATH}),
        case("digest-not-covered", 401, "unsigned_body", sign={"components": NO_DIGEST}),
        case("signed-for-empty-body", 401, "unsigned_body", signs=b"", sent=lambda b: b"x"),
        case("method-changed", 401, "invalid_signature", method="PUT"),
        case(
            "path-changed",
            401,
            "invalid_signature",
            url=lambda u: u.replace("/echo", "/echo/other"),
        ),
        case("query-changed", 401, "invalid_signature", url=lambda u: u.replace("n=1", "n=2")),
        case("query-dropped", 401, "invalid_signature", url=lambda u: u.partition("?")[0]),
        case(
            "host-changed", 401, "invalid_signature", lambda hs: [(b"host", b"other.example"), *hs]
        ),
        case(
            "body-and-digest-changed",  # the digest is signed: recomputing it does not help
            401,
            "invalid_signature",
            replaced(DIGEST, digest.encode()),
            sent=lambda b: other_body,
        ),
        *limits("digest_mismatch"),
    ]


# --- Standard Webhooks --------------------------------------------------------------------

ID, WTS, WSIG = b"webhook-id", b"webhook-timestamp", b"webhook-signature"
BAD_IDS = {"with-space": b"msg 1", "non-ascii": "msg_\u00e9".encode(), "too-long": b"m" * 257}
BAD_TIMESTAMPS: dict[str, Value] = {
    "decimal": lambda ctx: f"{int(ctx.at)}.5",
    "negative": lambda ctx: f"-{int(ctx.at)}",
    "exponent": "1.8e9",
    "hex": "0x6b49d200",
    "leading-space": lambda ctx: f" {int(ctx.at)}",
    "text": "yesterday",
    "16-digits": "1" * 16,
    "iso-8601": "2027-01-15T08:00:00Z",
}


def webhook_cases() -> list[Case]:
    headers = (("id", ID), ("timestamp", WTS), ("signature", WSIG))
    return [
        case(
            "no-headers-at-all",
            401,
            "missing_header",
            lambda hs: [],
            detail="Missing webhook-id header.",
        ),
        *(
            case(
                f"no-{what}",
                401,
                "missing_header",
                without(name),
                detail=f"Missing {name.decode()} header.",
            )
            for what, name in headers
        ),
        *(
            case(
                f"empty-{what}",
                401,
                "missing_header",
                replaced(name, b""),
                detail=f"Missing {name.decode()} header.",
            )
            for what, name in headers
        ),
        *(
            case(
                f"{what}-twice",
                401,
                "duplicate_header",
                twice(name),
                detail=f"Duplicate {name.decode()} header.",
            )
            for what, name in headers
        ),
        *(
            case(
                f"id-{what}",
                401,
                "malformed_header",
                replaced(ID, value),
                detail="Malformed webhook-id header.",
            )
            for what, value in BAD_IDS.items()
        ),
        *(
            case(
                f"timestamp-{what}",
                401,
                "malformed_header",
                sign={"at": value},
                detail="Malformed webhook-timestamp header.",
                wire=what != "leading-space",  # HTTP/1.1 strips it: then it is fine
            )
            for what, value in BAD_TIMESTAMPS.items()
        ),
        case("signature-not-base64", 401, "malformed_header", replaced(WSIG, b"v1,!!not-base64!!")),
        case("signature-non-ascii", 401, "malformed_header", replaced(WSIG, "v1,é".encode())),
        case(
            "signature-other-version",
            401,
            "malformed_header",
            edit_value(WSIG, lambda v: b"v2" + v[2:]),
        ),
        case(
            "signature-short",
            401,
            "malformed_header",
            replaced(WSIG, b"v1," + base64.b64encode(bytes(16))),
        ),
        case(
            "signature-huge",
            401,
            "malformed_header",
            replaced(WSIG, b"v1," + base64.b64encode(bytes(100_000))),
            wire=False,
        ),
        case(
            "signature-wrong-value",
            401,
            "invalid_signature",
            replaced(WSIG, b"v1," + base64.b64encode(bytes(32))),
        ),
        case("wrong-secret", 401, "invalid_signature", sign={"secret": WRONG_SECRET.encode()}),
        case("timestamp-expired", 401, "expired", sign={"at": Context.stale}),
        case("timestamp-zero", 401, "expired", sign={"at": 0}),
        case("timestamp-future", 401, "future_timestamp", sign={"at": Context.ahead}),
        case("timestamp-far-future", 401, "future_timestamp", sign={"at": 99999999999}),
        case(
            "timestamp-changed",
            401,
            "invalid_signature",
            edit_value(WTS, lambda v: b"%d" % (int(v) - 1)),
        ),
        case("id-changed", 401, "invalid_signature", replaced(ID, b"msg_other")),
        case("signed-for-empty-body", 401, "invalid_signature", signs=b"", sent=lambda b: b"x"),
        *limits("invalid_signature"),
    ]


CASES: dict[str, list[Case]] = {
    "destiny": destiny_cases(),
    "rfc9421": rfc9421_cases(),
    "standard-webhooks": webhook_cases(),
}
