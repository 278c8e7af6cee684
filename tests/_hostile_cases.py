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
    KEYS,
    RFC_SECOND_SECRET,
    SECOND_ID,
    SECOND_KEY_ID,
    SECOND_SECRET,
    SECRET,
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
# The destiny-sdk clients the server knows (the second one's secret as a one-item list).
DESTINY_CLIENTS = {CLIENT_ID: SECRET, SECOND_ID: [SECOND_SECRET]}


def middleware_options(scheme: str) -> dict[str, Any]:
    """``HMACMiddleware`` arguments for one format: two clients, keyids or secrets."""
    if scheme == "destiny":
        return {"client_secrets": DESTINY_CLIENTS}
    return {"schemes": [server_scheme(scheme)]}


def server_scheme(scheme: str) -> Any:
    """The format as the server knows it (``schemes=[...]``), with the keys of the cases."""
    if scheme == "destiny":
        return DestinyScheme(client_secrets=DESTINY_CLIENTS)
    if scheme == "rfc9421":
        return MessageSignatureScheme(keys=dict(KEYS[scheme]))
    return StandardWebhookScheme(secrets=[secret for _, secret in KEYS[scheme]])


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


def answered(status: int, code: str, rows: Mapping[str, Any], **common: Any) -> list[Case]:
    """Cases that all get ``status`` and ``code``: each row, by name, is an edit of the good
    request's headers, or a dict of :class:`Case`'s options."""
    return [
        Case(name, status, code, **common, **(row if isinstance(row, dict) else {"edits": (row,)}))
        for name, row in rows.items()
    ]


def edit_value(name: bytes, change: Callable[[bytes], bytes]) -> Edit:
    """``name``'s value changed by ``change``."""
    return lambda hs: [(k, change(v) if k == name else v) for k, v in hs]


def added(*headers: tuple[bytes, bytes]) -> Edit:
    """``headers`` after the others."""
    return lambda hs: [*hs, *headers]


def flip(body: bytes) -> bytes:
    return bytes([body[0] ^ 1]) + body[1:]


def over_limit(ctx: Context) -> bytes:
    return b"a" * (ctx.limit + 1)


def missing(title: str) -> dict[str, str]:
    return {"detail": f"Missing {title} header."}


def malformed(title: str) -> dict[str, str]:
    return {"detail": f"Malformed {title} header."}


NONE_LEFT: Edit = lambda hs: []  # noqa: E731
LENGTH = b"content-length"


def limits(tampered: str) -> list[Case]:
    """What every format shares: a changed body (refused with ``tampered``), bodies over
    the limit, and Content-Length values, which the ASGI server frames the body by (only
    one over the limit is refused before reading; the raw-socket clients of test_load.py
    send that one over HTTP)."""
    return [
        *answered(
            401,
            tampered,
            {
                "body-tampered": {"sent": flip},
                "body-truncated": {"sent": lambda b: b[:-1]},
                "body-extended": {"sent": lambda b: b + b" "},
                "body-dropped": {"sent": lambda b: b""},
            },
        ),
        *answered(413, "body_too_large", {"body-over-limit-signed": {"signs": over_limit}}),
        *answered(
            413,
            "body_too_large",
            {
                "content-length-over-limit": added((LENGTH, b"999999999999")),
                "content-length-twice-one-over-limit": added(
                    (LENGTH, b"10"), (LENGTH, b"99999999")
                ),
            },
            wire=False,
        ),
        *answered(
            200,
            "",
            {
                "content-length-understated": added((LENGTH, b"3")),
                "content-length-garbage": added((LENGTH, b"abc")),
            },
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
    # HTTP/1.1 strips white space around a value, and uvicorn refuses a 128 kB header:
    # those cases only reach the middleware over ASGI (wire=False).
    return [
        *answered(
            401,
            "missing_authorization",
            {
                "no-headers-at-all": NONE_LEFT,
                "no-authorization": without(AUTH),
                "empty-authorization": replaced(AUTH, b""),
            },
        ),
        *answered(
            401,
            "unsupported_scheme",
            {
                "scheme-bearer": replaced(AUTH, b"Bearer abc"),
                "scheme-basic": replaced(AUTH, b"Basic dXNlcjpwYXNz"),
                "scheme-hmac": edit_value(AUTH, lambda v: b"HMAC " + v[10:]),
            },
        ),
        *answered(
            401,
            "malformed_signature",
            {
                "scheme-without-value": replaced(AUTH, b"Signature"),
                "signature-63-hex": sig(lambda s: s[:63]),
                "signature-65-hex": sig(lambda s: s + b"0"),
                # "A" first: a signature of digits alone has no letter to upper-case.
                "signature-uppercase-hex": sig(lambda s: b"A" + s[1:].upper()),
                "signature-non-hex": sig(lambda s: b"g" + s[1:]),
                "signature-trailing-space": {"edits": (sig(lambda s: s + b" "),), "wire": False},
                "signature-double-space": sig(lambda s: b" " + s),
                "signature-non-ascii": sig(lambda s: "é".encode() + s[2:]),
                "signature-base64": sig(lambda s: b"q83vEjRWeJA=" * 5 + b"abcd"),
                "signature-huge": {"edits": (sig(lambda s: s * 2000),), "wire": False},
            },
        ),
        *answered(
            401,
            "duplicate_header",
            {
                name: {"edits": (edit,), "detail": f"Duplicate {header} header."}
                for name, edit, header in [
                    ("authorization-twice", twice(AUTH), "Authorization"),
                    ("authorization-twice-other", twice(AUTH, b"Bearer x"), "Authorization"),
                    ("client-id-twice", twice(CID), "X-Client-Id"),
                    ("timestamp-twice", twice(TS), "X-Request-Timestamp"),
                ]
            },
        ),
        *answered(
            401,
            "missing_client_id",
            {"no-client-id": without(CID), "empty-client-id": replaced(CID, b"")},
        ),
        *answered(
            401,
            "invalid_client_id",
            {
                "client-id-uppercase": replaced(CID, text.upper()),
                "client-id-braces": replaced(CID, b"{%s}" % text),
                "client-id-urn": replaced(CID, CLIENT_ID.urn.encode()),
                "client-id-no-hyphens": replaced(CID, CLIENT_ID.hex.encode()),
                "client-id-v1": {
                    "sign": {"key_id": uuid.UUID("c232ab00-9414-11ec-b3c8-9f6bdeced846")}
                },
                "client-id-v3": {"sign": {"key_id": uuid.uuid3(uuid.NAMESPACE_DNS, "x")}},
                "client-id-nil": {"sign": {"key_id": uuid.UUID(int=0)}},
                "client-id-bad-variant": replaced(CID, b"6234ddc9-6b49-4e45-cc0f-e91d2c381222"),
                "client-id-leading-space": {"edits": (replaced(CID, b" " + text),), "wire": False},
                "client-id-non-ascii": replaced(
                    CID, "\uff16234ddc9-6b49-4e45-9c0f-e91d2c381222".encode()
                ),
            },
        ),
        *answered(
            401,
            "missing_timestamp",
            {"no-timestamp": without(TS), "empty-timestamp": replaced(TS, b"")},
        ),
        *answered(
            401,
            "malformed_timestamp",
            {
                **{
                    f"timestamp-{name}": {"sign": {"at": at}}
                    for name, at in [
                        ("nan", "nan"),
                        ("inf", "inf"),
                        ("minus-inf", "-inf"),
                        ("1e309", "1e309"),
                        ("exponent", "1.8e9"),
                        ("underscores", "1_800_000_000"),
                        ("negative", "-1800000000"),
                        ("plus-sign", lambda ctx: f"+{ctx.at}"),
                        ("trailing-dot", "1800000000."),
                    ]
                },
                "timestamp-leading-space": {
                    "sign": {"at": lambda ctx: f" {ctx.at}"},
                    "wire": False,
                },
                "timestamp-trailing-newline": {
                    "sign": {"at": lambda ctx: f"{ctx.at}\n"},
                    "wire": False,
                },
                "timestamp-hex": replaced(TS, b"0x6b49d200"),
                "timestamp-leading-dot": replaced(TS, b".5"),
                "timestamp-fullwidth-digits": replaced(
                    TS, ("\uff11\uff18" + "\uff10" * 8).encode()
                ),
                "timestamp-too-many-digits": replaced(TS, b"1" * 40),
            },
        ),
        *answered(
            401,
            "expired",
            {
                "timestamp-expired": {"sign": {"at": Context.stale}},
                "timestamp-epoch-zero": {"sign": {"at": "0"}},
            },
        ),
        *answered(
            401,
            "future_timestamp",
            {
                "timestamp-future": {"sign": {"at": Context.ahead}},
                "timestamp-far-future": {"sign": {"at": "99999999999"}},
            },
        ),
        *answered(
            401,
            "invalid_signature",
            {
                "signature-wrong-value": sig(lambda s: b"0" * 64),
                # Signed by one client, sent as another: its id is not what was signed.
                "client-id-swapped": replaced(CID, str(SECOND_ID).encode()),
                "unknown-client": {"sign": {"key_id": UNKNOWN_ID}},
                "other-clients-secret": {"sign": {"secret": SECOND_SECRET}},
                "wrong-secret": {"sign": {"secret": WRONG_SECRET}},
                "timestamp-changed-in-window": edit_value(TS, lambda v: f"{float(v) - 1}".encode()),
                "signed-for-empty-body": {"signs": b"", "sent": lambda b: b"x"},
            },
        ),
        # Another text of the same float is the same timestamp (destiny-sdk signs the float).
        Case("timestamp-same-float-other-text", 200, sign={"at": lambda c: f"{c.at!r}000001"}),
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
    other_body = b"{}"
    digest = "sha-256=:" + base64.b64encode(hashlib.sha256(other_body).digest()).decode() + ":"
    return [
        *answered(
            401,
            "missing_header",
            {"no-headers-at-all": NONE_LEFT, "no-signature-input": without(INPUT)},
            **missing("Signature-Input"),
        ),
        *answered(
            401, "missing_header", {"no-signature": without(SIGNATURE)}, **missing("Signature")
        ),
        *answered(
            401,
            "malformed_header",
            {
                "empty-signature-input": replaced(INPUT, b""),
                "signature-input-not-structured": replaced(INPUT, b'sig1=("@method"'),
            },
            **malformed("Signature-Input"),
        ),
        *answered(
            401,
            "malformed_header",
            {
                "empty-signature": replaced(SIGNATURE, b""),
                "signature-not-base64": replaced(SIGNATURE, b"sig1=:not base64!:"),
            },
            **malformed("Signature"),
        ),
        *answered(
            401,
            "malformed_header",
            {"empty-content-digest": replaced(DIGEST, b"")},
            **malformed("Content-Digest"),
        ),
        *answered(
            401,
            "malformed_header",
            {
                "signature-input-non-ascii": edit_value(INPUT, lambda v: v + "é".encode()),
                "signature-input-huge": {
                    "edits": (edit_value(INPUT, lambda v: v + b";x=" + b"1" * 100_000),),
                    "wire": False,
                },
                "signature-non-ascii": replaced(SIGNATURE, "sig1=:é:".encode()),
                "signature-other-label": edit_value(SIGNATURE, lambda v: b"sig2" + v[4:]),
                "signature-a-token": replaced(SIGNATURE, b"sig1=abc"),
            },
        ),
        # Structured fields: two lines are one field, and the same member twice is one ...
        *answered(
            200, "", {"signature-input-twice": twice(INPUT), "signature-twice": twice(SIGNATURE)}
        ),
        *answered(
            401,
            "invalid_signature",
            {
                "signature-twice-other-value": twice(
                    SIGNATURE, b"sig1=:%s:" % base64.b64encode(bytes(32))
                ),
                # ... but a covered field's lines are its value: a second one changes it.
                "content-digest-twice": twice(DIGEST),
                "signature-short": rfc_mac(bytes(31)),
                "signature-huge": {"edits": (rfc_mac(bytes(100_000)),), "wire": False},
                "signature-wrong-value": rfc_mac(bytes(32)),
                "wrong-secret": {"sign": {"secret": WRONG_SECRET}},
                "unknown-keyid": {"sign": {"key_id": "nobody"}},
                "other-keys-secret": {"sign": {"secret": RFC_SECOND_SECRET}},
                "keyid-swapped": rfc_param("keyid", lambda v: f'keyid="{SECOND_KEY_ID}"'),
                "created-changed-in-window": rfc_param(
                    "created", lambda v: f"created={int(v) - 1}"
                ),
                "method-changed": {"method": "PUT"},
                "path-changed": {"url": lambda u: u.replace("/echo", "/echo/other")},
                "query-changed": {"url": lambda u: u.replace("n=1", "n=2")},
                "query-dropped": {"url": lambda u: u.partition("?")[0]},
                "host-changed": lambda hs: [(b"host", b"other.example"), *hs],
                # The digest is signed: recomputing it for another body does not help.
                "body-and-digest-changed": {
                    "edits": (replaced(DIGEST, digest.encode()),),
                    "sent": lambda b: other_body,
                },
            },
        ),
        *answered(
            401,
            "missing_parameter",
            {
                "keyid-missing": rfc_param("keyid", lambda v: ""),
                "created-missing": rfc_param("created", lambda v: ""),
                "created-decimal": rfc_param("created", lambda v: f"created={v}.5"),
            },
        ),
        *answered(
            401,
            "unsupported_algorithm",
            {"alg-other": rfc_param("alg", lambda v: 'alg="rsa-pss-sha512"')},
        ),
        *answered(
            401,
            "expired",
            {
                "created-expired": {"sign": {"at": Context.stale}},
                "created-zero": {"sign": {"at": 0}},
                "expires-passed": {"sign": {"expires_in": -1}},
            },
        ),
        *answered(
            401,
            "future_timestamp",
            {
                "created-future": {"sign": {"at": Context.ahead}},
                "created-far-future": {"sign": {"at": 10**15 - 1}},
            },
        ),
        *answered(401, "insufficient_coverage", {"lacks-path": {"sign": {"components": NO_PATH}}}),
        *answered(401, "unsupported_component", {"no-content-digest": without(DIGEST)}),
        *answered(
            401,
            "unsigned_body",
            {
                "digest-not-covered": {"sign": {"components": NO_DIGEST}},
                "signed-for-empty-body": {"signs": b"", "sent": lambda b: b"x"},
            },
        ),
        *limits("digest_mismatch"),
    ]


# --- Standard Webhooks --------------------------------------------------------------------

ID, WTS, WSIG = b"webhook-id", b"webhook-timestamp", b"webhook-signature"
HEADERS = {"id": ID, "timestamp": WTS, "signature": WSIG}
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


def entry(mac: bytes, version: bytes = b"v1") -> bytes:
    return version + b"," + base64.b64encode(mac)


def webhook_cases() -> list[Case]:
    return [
        *answered(401, "missing_header", {"no-headers-at-all": NONE_LEFT}, **missing("webhook-id")),
        *(
            case
            for what, name in HEADERS.items()
            for case in [
                *answered(
                    401,
                    "missing_header",
                    {f"no-{what}": without(name), f"empty-{what}": replaced(name, b"")},
                    **missing(name.decode()),
                ),
                Case(
                    f"{what}-twice",
                    401,
                    "duplicate_header",
                    (twice(name),),
                    detail=f"Duplicate {name.decode()} header.",
                ),
            ]
        ),
        *answered(
            401,
            "malformed_header",
            {f"id-{what}": replaced(ID, value) for what, value in BAD_IDS.items()},
            **malformed("webhook-id"),
        ),
        *answered(
            401,
            "malformed_header",
            {
                f"timestamp-{what}": {"sign": {"at": at}, "wire": what != "leading-space"}
                for what, at in BAD_TIMESTAMPS.items()
            },  # HTTP/1.1 strips the leading space: then it is fine
            **malformed("webhook-timestamp"),
        ),
        *answered(
            401,
            "malformed_header",
            {
                "signature-not-base64": replaced(WSIG, b"v1,!!not-base64!!"),
                "signature-non-ascii": replaced(WSIG, "v1,é".encode()),
                "signature-other-version": edit_value(WSIG, lambda v: b"v2" + v[2:]),
                "signature-short": replaced(WSIG, entry(bytes(16))),
                "signature-huge": {
                    "edits": (replaced(WSIG, entry(bytes(100_000))),),
                    "wire": False,
                },
            },
        ),
        *answered(
            401,
            "invalid_signature",
            {
                "signature-wrong-value": replaced(WSIG, entry(bytes(32))),
                "wrong-secret": {"sign": {"secret": WRONG_SECRET.encode()}},
                "timestamp-changed": edit_value(WTS, lambda v: b"%d" % (int(v) - 1)),
                "id-changed": replaced(ID, b"msg_other"),
                "signed-for-empty-body": {"signs": b"", "sent": lambda b: b"x"},
            },
        ),
        *answered(
            401,
            "expired",
            {
                "timestamp-expired": {"sign": {"at": Context.stale}},
                "timestamp-zero": {"sign": {"at": 0}},
            },
        ),
        *answered(
            401,
            "future_timestamp",
            {
                "timestamp-future": {"sign": {"at": Context.ahead}},
                "timestamp-far-future": {"sign": {"at": 99999999999}},
            },
        ),
        *limits("invalid_signature"),
    ]


CASES: dict[str, list[Case]] = {
    "destiny": destiny_cases(),
    "rfc9421": rfc9421_cases(),
    "standard-webhooks": webhook_cases(),
}
