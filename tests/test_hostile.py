"""A catalogue of hostile requests: each one is a 401/413 JSON and never reaches the app."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from _asgi import Outcome, chunks, drive, http_scope, recording_app
from _secrets import secret
from _signing import CLIENT_ID, SECRET

from hmac_asgi import HMACMiddleware, create_signature

NOW = 1_800_000_000.25
BODY = b'{"order": 42, "note": "caf\xc3\xa9"}'
LIMIT = 1024
WRONG_SECRET = secret("a secret the server does not know")
OTHER_V4 = uuid.UUID("3b42cdf7-add1-445f-98db-2fe525ad54d6")

Headers = list[tuple[bytes, bytes]]


def good(body: bytes = BODY, ts: str = f"{NOW}", cid: object = CLIENT_ID) -> Headers:
    sig = create_signature(SECRET, body, str(cid), ts)
    return [
        (b"host", b"testserver"),
        (b"content-type", b"application/json"),
        (b"authorization", f"Signature {sig}".encode()),
        (b"x-client-id", str(cid).encode()),
        (b"x-request-timestamp", ts.encode()),
    ]


def without(name: bytes) -> Callable[[Headers], Headers]:
    return lambda hs: [(k, v) for k, v in hs if k != name]


def replace(name: bytes, value: bytes) -> Callable[[Headers], Headers]:
    return lambda hs: [(k, value if k == name else v) for k, v in hs]


def twice(name: bytes, value: bytes | None = None) -> Callable[[Headers], Headers]:
    return lambda hs: hs + [(k, value or v) for k, v in hs if k == name]


def sig_value(hs: Headers) -> bytes:
    return dict(hs)[b"authorization"].split(b" ", 1)[1]


def edit_sig(edit: Callable[[bytes], bytes]) -> Callable[[Headers], Headers]:
    return lambda hs: replace(b"authorization", b"Signature " + edit(sig_value(hs)))(hs)


AUTH, CID, TS = b"authorization", b"x-client-id", b"x-request-timestamp"
same: Callable[[Headers], Headers] = lambda hs: hs  # noqa: E731

# name, headers (built from a good signed set), body sent, status, code
CASES: list[tuple[str, Callable[[], Headers], bytes, int, str]] = [
    ("no-headers-at-all", lambda: [], BODY, 401, "missing_authorization"),
    ("no-authorization", lambda: without(AUTH)(good()), BODY, 401, "missing_authorization"),
    ("empty-authorization", lambda: replace(AUTH, b"")(good()), BODY, 401, "missing_authorization"),
    (
        "scheme-bearer",
        lambda: replace(AUTH, b"Bearer abc")(good()),
        BODY,
        401,
        "unsupported_scheme",
    ),
    (
        "scheme-basic",
        lambda: replace(AUTH, b"Basic dXNlcjpwYXNz")(good()),
        BODY,
        401,
        "unsupported_scheme",
    ),
    (
        "scheme-hmac",
        lambda: replace(AUTH, b"HMAC " + sig_value(good()))(good()),
        BODY,
        401,
        "unsupported_scheme",
    ),
    (
        "scheme-without-value",
        lambda: replace(AUTH, b"Signature")(good()),
        BODY,
        401,
        "malformed_signature",
    ),
    (
        "signature-63-hex",
        lambda: edit_sig(lambda s: s[:63])(good()),
        BODY,
        401,
        "malformed_signature",
    ),
    (
        "signature-65-hex",
        lambda: edit_sig(lambda s: s + b"0")(good()),
        BODY,
        401,
        "malformed_signature",
    ),
    (
        "signature-uppercase-hex",
        lambda: edit_sig(bytes.upper)(good()),
        BODY,
        401,
        "malformed_signature",
    ),
    (
        "signature-non-hex",
        lambda: edit_sig(lambda s: b"g" + s[1:])(good()),
        BODY,
        401,
        "malformed_signature",
    ),
    (
        "signature-trailing-space",
        lambda: edit_sig(lambda s: s + b" ")(good()),
        BODY,
        401,
        "malformed_signature",
    ),
    (
        "signature-double-space",
        lambda: edit_sig(lambda s: b" " + s)(good()),
        BODY,
        401,
        "malformed_signature",
    ),
    (
        "signature-non-ascii",
        lambda: edit_sig(lambda s: "é".encode() + s[2:])(good()),
        BODY,
        401,
        "malformed_signature",
    ),
    (
        "signature-base64",
        lambda: edit_sig(lambda s: b"q83vEjRWeJA=" * 5 + b"abcd")(good()),
        BODY,
        401,
        "malformed_signature",
    ),
    (
        "signature-huge",
        lambda: edit_sig(lambda s: s * 2000)(good()),
        BODY,
        401,
        "malformed_signature",
    ),
    (
        "signature-wrong-value",
        lambda: edit_sig(lambda s: b"0" * 64)(good()),
        BODY,
        401,
        "invalid_signature",
    ),
    ("authorization-twice", lambda: twice(AUTH)(good()), BODY, 401, "duplicate_header"),
    (
        "authorization-twice-other",
        lambda: twice(AUTH, b"Bearer x")(good()),
        BODY,
        401,
        "duplicate_header",
    ),
    ("no-client-id", lambda: without(CID)(good()), BODY, 401, "missing_client_id"),
    ("empty-client-id", lambda: replace(CID, b"")(good()), BODY, 401, "missing_client_id"),
    (
        "client-id-uppercase",
        lambda: replace(CID, str(CLIENT_ID).upper().encode())(good()),
        BODY,
        401,
        "invalid_client_id",
    ),
    (
        "client-id-braces",
        lambda: replace(CID, b"{%s}" % str(CLIENT_ID).encode())(good()),
        BODY,
        401,
        "invalid_client_id",
    ),
    (
        "client-id-urn",
        lambda: replace(CID, CLIENT_ID.urn.encode())(good()),
        BODY,
        401,
        "invalid_client_id",
    ),
    (
        "client-id-no-hyphens",
        lambda: replace(CID, CLIENT_ID.hex.encode())(good()),
        BODY,
        401,
        "invalid_client_id",
    ),
    (
        "client-id-v1",
        lambda: good(cid=uuid.UUID("c232ab00-9414-11ec-b3c8-9f6bdeced846")),
        BODY,
        401,
        "invalid_client_id",
    ),
    (
        "client-id-v3",
        lambda: good(cid=uuid.uuid3(uuid.NAMESPACE_DNS, "x")),
        BODY,
        401,
        "invalid_client_id",
    ),
    ("client-id-nil", lambda: good(cid=uuid.UUID(int=0)), BODY, 401, "invalid_client_id"),
    (
        "client-id-bad-variant",
        lambda: replace(CID, b"6234ddc9-6b49-4e45-cc0f-e91d2c381222")(good()),
        BODY,
        401,
        "invalid_client_id",
    ),
    (
        "client-id-leading-space",
        lambda: replace(CID, b" " + str(CLIENT_ID).encode())(good()),
        BODY,
        401,
        "invalid_client_id",
    ),
    (
        "client-id-non-ascii",
        lambda: replace(CID, "\uff16234ddc9-6b49-4e45-9c0f-e91d2c381222".encode())(good()),
        BODY,
        401,
        "invalid_client_id",
    ),
    ("client-id-twice", lambda: twice(CID)(good()), BODY, 401, "duplicate_header"),
    (
        "client-id-swapped",
        lambda: replace(CID, str(OTHER_V4).encode())(good()),
        BODY,
        401,
        "invalid_signature",
    ),
    ("no-timestamp", lambda: without(TS)(good()), BODY, 401, "missing_timestamp"),
    ("empty-timestamp", lambda: replace(TS, b"")(good()), BODY, 401, "missing_timestamp"),
    ("timestamp-nan", lambda: good(ts="nan"), BODY, 401, "malformed_timestamp"),
    ("timestamp-inf", lambda: good(ts="inf"), BODY, 401, "malformed_timestamp"),
    ("timestamp-minus-inf", lambda: good(ts="-inf"), BODY, 401, "malformed_timestamp"),
    ("timestamp-1e309", lambda: good(ts="1e309"), BODY, 401, "malformed_timestamp"),
    ("timestamp-exponent", lambda: good(ts="1.8e9"), BODY, 401, "malformed_timestamp"),
    ("timestamp-underscores", lambda: good(ts="1_800_000_000"), BODY, 401, "malformed_timestamp"),
    ("timestamp-leading-space", lambda: good(ts=f" {NOW}"), BODY, 401, "malformed_timestamp"),
    ("timestamp-trailing-newline", lambda: good(ts=f"{NOW}\n"), BODY, 401, "malformed_timestamp"),
    ("timestamp-hex", lambda: replace(TS, b"0x6b49d200")(good()), BODY, 401, "malformed_timestamp"),
    ("timestamp-negative", lambda: good(ts="-1800000000"), BODY, 401, "malformed_timestamp"),
    ("timestamp-plus-sign", lambda: good(ts=f"+{NOW}"), BODY, 401, "malformed_timestamp"),
    ("timestamp-trailing-dot", lambda: good(ts="1800000000."), BODY, 401, "malformed_timestamp"),
    ("timestamp-leading-dot", lambda: replace(TS, b".5")(good()), BODY, 401, "malformed_timestamp"),
    (
        "timestamp-fullwidth-digits",
        lambda: replace(TS, ("\uff11\uff18" + "\uff10" * 8).encode())(good()),
        BODY,
        401,
        "malformed_timestamp",
    ),
    (
        "timestamp-too-many-digits",
        lambda: replace(TS, b"1" * 40)(good()),
        BODY,
        401,
        "malformed_timestamp",
    ),
    ("timestamp-expired", lambda: good(ts=f"{NOW - 300.5}"), BODY, 401, "expired"),
    ("timestamp-epoch-zero", lambda: good(ts="0"), BODY, 401, "expired"),
    ("timestamp-future", lambda: good(ts=f"{NOW + 300.5}"), BODY, 401, "future_timestamp"),
    ("timestamp-far-future", lambda: good(ts="99999999999"), BODY, 401, "future_timestamp"),
    ("timestamp-twice", lambda: twice(TS)(good()), BODY, 401, "duplicate_header"),
    (
        "timestamp-changed-in-window",
        lambda: replace(TS, f"{NOW - 1}".encode())(good()),
        BODY,
        401,
        "invalid_signature",
    ),
    ("timestamp-same-float-other-text", lambda: good(ts="1800000000.250000001"), BODY, 200, ""),
    ("body-tampered", good, BODY.replace(b"42", b"43"), 401, "invalid_signature"),
    ("body-truncated", good, BODY[:-1], 401, "invalid_signature"),
    ("body-extended", good, BODY + b" ", 401, "invalid_signature"),
    ("body-dropped", good, b"", 401, "invalid_signature"),
    (
        "body-over-limit-signed",
        lambda: good(body=b"a" * (LIMIT + 1)),
        b"a" * (LIMIT + 1),
        413,
        "body_too_large",
    ),
    (
        "content-length-over-limit",
        lambda: [*good(), (b"content-length", b"999999999999")],
        BODY,
        413,
        "body_too_large",
    ),
    (
        "wrong-secret",
        lambda: replace(
            AUTH,
            b"Signature " + create_signature(WRONG_SECRET, BODY, CLIENT_ID, f"{NOW}").encode(),
        )(good()),
        BODY,
        401,
        "invalid_signature",
    ),
    ("signed-for-empty-body", lambda: good(body=b""), BODY, 401, "invalid_signature"),
]

MESSAGES = {
    "missing_authorization": "Authorization header missing.",
    "unsupported_scheme": "Authorization type not supported.",
    "missing_client_id": "X-Client-Id header missing",
    "invalid_client_id": "Invalid format for client id, expected UUIDv4 or UUIDv7.",
    "missing_timestamp": "X-Request-Timestamp header missing",
    "expired": "Token is expired.",
    "invalid_signature": "Signature is invalid.",
}


def test_the_catalogue_is_large_and_named_uniquely() -> None:
    assert len(CASES) >= 40
    assert len({name for name, *_ in CASES}) == len(CASES)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "headers", "body", "status", "code"), CASES, ids=[c[0] for c in CASES]
)
async def test_hostile_request(
    name: str, headers: Callable[[], Headers], body: bytes, status: int, code: str
) -> None:
    outcome = Outcome()
    app = HMACMiddleware(
        recording_app(outcome), secret_key=SECRET, max_body_size=LIMIT, clock=lambda: NOW
    )
    for size in (len(body) or 1, 7):  # whole, and in small chunks
        outcome.sent.clear()
        await drive(app, http_scope(headers()), chunks(body, size), outcome)
        assert outcome.status == status, outcome.body
        if status == 200:
            assert outcome.app_body == body
            continue
        assert outcome.app_calls == 0
        assert outcome.headers[b"content-type"] == b"application/json"
        payload = outcome.json()
        assert payload["code"] == code
        assert isinstance(payload["detail"], str) and payload["detail"]
        if code in MESSAGES:
            assert payload["detail"] == MESSAGES[code]  # destiny-sdk's text, byte for byte
        if status == 401:
            assert outcome.headers[b"www-authenticate"] == b"Signature"
        assert SECRET.encode() not in outcome.body
