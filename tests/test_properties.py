"""Property tests: whatever headers, messages or bodies arrive, the middleware holds, in
every wire format.

- Arbitrary header bytes (the format's headers well formed, near misses, garbage,
  absent or twice, plus noise): always a 401/408/413 JSON refusal, never an exception,
  never the app.
- Arbitrary ASGI message sequences around a correctly signed body (any chunking,
  empty chunks, missing keys, disconnects, unknown message types): exactly what a
  small reference model of the pipeline predicts: the app gets the signed bytes, or
  a refusal, or (the client gone) nothing at all; never an exception.
- Round trip: any body, any key (a UUIDv4/v7 client id, any keyid) and any secret,
  signed by our ``HMACSigningAuth`` over ``httpx.ASGITransport``, verifies and the app
  sees the exact bytes; the same headers with any other body do not.
- Any single byte changed in what the format signs (the body, the signed headers'
  values; RFC 9421's method, path, query and host too) is refused.
- Freshness: any timestamp within ``max_age`` verifies, any beyond it (either way)
  is refused with the right code.

The tests are synchronous ``@given`` functions that run each example in its own
event loop (``asyncio.run``), which keeps hypothesis and anyio out of each other's way.
"""

from __future__ import annotations

import asyncio
import base64
import math
import uuid
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from _asgi import Outcome, drive, http_scope, recording_app
from _hostile_cases import middleware_options
from _signing import (
    CLIENT_ID,
    KEY_ID,
    RFC_SECRET,
    SCHEMES,
    SECOND_KEY_ID,
    SECRET,
    WEBHOOK_SECRET,
    signed,
    whsec,
)
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st
from starlette.types import Message

from hmac_asgi import (
    HMACMiddleware,
    HMACSigningAuth,
    MessageSignatureScheme,
    StandardWebhookScheme,
    Verified,
)

NOW = 1_800_000_000.5
LIMIT = 256  # small, so that bodies over the limit are generated too
HOST = b"testserver"
URL = "http://testserver/p?q=1"
Headers = list[tuple[bytes, bytes]]
EVERY_SCHEME = pytest.mark.parametrize("scheme", SCHEMES)

FAST = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def middleware(outcome: Outcome, scheme: str, **kwargs: Any) -> HMACMiddleware:
    """The format's middleware at NOW (destiny-sdk's with one secret for every client)."""
    options = {"secret_key": SECRET} if scheme == "destiny" else middleware_options(scheme)
    return HMACMiddleware(
        recording_app(outcome), clock=lambda: NOW, max_body_size=LIMIT, **options, **kwargs
    )


def run(scheme: str, scope: dict[str, Any], messages: list[Message]) -> Outcome:
    """Drive one request in a fresh event loop; any exception fails the example."""
    outcome = Outcome()  # shared by the recording app and the driver
    asyncio.run(drive(middleware(outcome, scheme), scope, messages, outcome))
    return outcome


def with_headers(headers: Headers) -> dict[str, Any]:
    """A POST to / with a Host (RFC 9421 signs it) and exactly ``headers`` after it."""
    return http_scope([(b"host", HOST), *headers])


def assert_refusal(outcome: Outcome, scheme: str) -> dict[str, Any]:
    """A 401/408/413 JSON refusal, two messages, and the app never called."""
    assert outcome.app_calls == 0
    assert [m["type"] for m in outcome.sent] == ["http.response.start", "http.response.body"]
    assert outcome.status in (401, 408, 413)
    headers = outcome.headers
    assert headers[b"content-type"] == b"application/json"
    assert int(headers[b"content-length"]) == len(outcome.body)
    if outcome.status == 401:
        assert headers[b"www-authenticate"] == b"Signature"
        assert (b"accept-signature" in headers) is (scheme == "rfc9421")
    payload = outcome.json()
    assert set(payload) == {"detail", "code"} and payload["detail"] and payload["code"]
    return payload


def _request(body: bytes, more: bool = False) -> Message:
    return {"type": "http.request", "body": body, "more_body": more}


# 1. Arbitrary header bytes.

# destiny-sdk's format.
AUTH, CID, TS = b"authorization", b"x-client-id", b"x-request-timestamp"
hex64 = st.binary(min_size=32, max_size=32).map(lambda b: b.hex().encode())
near_signature = st.one_of(
    hex64.map(lambda h: b"Signature " + h),
    st.tuples(
        st.sampled_from([b"Signature", b"signature", b"SIGNATURE", b"Bearer", b"", b"Signature "]),
        st.sampled_from([b" ", b"", b"  ", b"\t"]),
        st.one_of(hex64, hex64.map(bytes.upper), st.binary(max_size=80)),
    ).map(b"".join),
)
near_client_id = st.one_of(
    st.just(str(CLIENT_ID).encode()),
    st.uuids().map(lambda u: str(u).encode()),
    st.uuids().map(lambda u: str(u).upper().encode()),
    st.uuids().map(lambda u: u.hex.encode()),
)
near_timestamp = st.one_of(
    st.floats(NOW - 400, NOW + 400).map(lambda f: repr(f).encode()),
    st.integers(0, 10**16).map(lambda n: str(n).encode()),
    st.sampled_from([b"nan", b"inf", b"-inf", b"1e9", b"0x1", b"1_0", b" 1.5", b"1.", b".5"]),
    st.text(alphabet="0123456789.-+e ", max_size=25).map(str.encode),
)
any_value = st.one_of(
    st.binary(max_size=64), st.text(max_size=32).map(lambda s: s.encode("utf-8", "surrogatepass"))
)

# RFC 9421: well formed is a fresh sig1 member of the default coverage, for a known keyid
# (or not), a MAC and a digest of the right sizes.
INPUT, SIGNATURE, DIGEST = b"signature-input", b"signature", b"content-digest"
COVERED = '("@method" "@authority" "@path" "@query" "content-digest")'
fresh_seconds = st.integers(math.ceil(NOW - 299), math.floor(NOW + 299))


def b64(size: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=size, max_size=size).map(base64.b64encode)


def member(covered: str, created: object, keyid: object, more: str = "") -> bytes:
    return f'sig1={covered};created={created};keyid="{keyid}";alg="hmac-sha256"{more}'.encode()


near_input = st.one_of(
    st.builds(
        member,
        st.sampled_from(
            [
                '("@method" "@path")',
                "()",
                f'{COVERED[:-1]} "x-missing")',
                '("@method" "@method")',
                '("@method" x)',
                '("@query-param")',
                '("@status")',
                '("@method";req)',
            ]
        ),
        fresh_seconds,
        st.sampled_from([KEY_ID, "nobody"]),
    ),
    st.builds(
        member,
        st.just(COVERED),
        st.one_of(st.integers(-10, 10**16), st.just('"1800000000"'), st.just("1800000000.5")),
        st.text(max_size=20),
        st.sampled_from(["", ";expires=1", ';nonce="n"', ";nonce=n", ';tag="t"', ";x", ";alg=1"]),
    ),
    st.tuples(
        st.sampled_from([b"sig1=", b"sig2=", b"Sig1=", b"", b"sig1 =", b"sig1=?1, sig2="]),
        st.sampled_from([COVERED.encode(), b'"@method"', b"(", b"", b'("@method" "@path"']),
        st.lists(
            st.sampled_from(
                [
                    b";created=1800000000",
                    b';created="1"',
                    b";created=1.5",
                    b';keyid="orders-key-1"',
                    b";keyid=orders-key-1",
                    b';alg="rsa-pss-sha512"',
                    b";alg=hmac-sha256",
                    b";expires=1",
                    b';nonce="n"',
                    b";x",
                ]
            ),
            max_size=5,
        ).map(b"".join),
    ).map(b"".join),
)
near_mac = st.one_of(
    st.tuples(
        st.sampled_from([b"sig1=:", b"sig2=:", b"SIG1=:", b":"]),
        st.integers(0, 80).flatmap(b64),
        st.sampled_from([b":", b"", b":;x=1", b":, sig2=:AAAA:"]),
    ).map(b"".join),
    st.sampled_from([b"sig1=:not base64!:", b"sig1=abc", b'sig1="abc"', b"sig1=(:AAAA:)", b"sig1"]),
)
near_digest = st.one_of(
    b64(64).map(lambda b: b"sha-512=:" + b + b":"),
    b64(16).map(lambda b: b"sha-256=:" + b + b":"),
    b64(16).map(lambda b: b"md5=:" + b + b":"),
    st.sampled_from([b'sha-256="abc"', b"sha-256=abc==", b"", b"sha-256", b"unixsum=:AAAA:"]),
)

# Standard Webhooks: well formed is an id, a fresh timestamp, one v1 entry.
ID, WTS, WSIG = b"webhook-id", b"webhook-timestamp", b"webhook-signature"
entry = b64(32).map(lambda b: b"v1," + b)
near_id = st.one_of(
    st.text(max_size=40).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"m" * 257, b"msg 1", b"", b"msg_\xc3\xa9"]),
)
near_seconds = st.one_of(
    st.integers(0, 10**17).map(lambda n: str(n).encode()),
    st.floats(NOW - 400, NOW + 400).map(lambda f: repr(f).encode()),
    st.sampled_from([b"-1800000000", b"1.8e9", b"0x6b49d200", b" 1800000000", b"yesterday"]),
)
near_entries = st.lists(
    st.one_of(
        entry,
        b64(64).map(lambda b: b"v1a," + b),
        b64(32).map(lambda b: b"v2," + b),
        b64(16).map(lambda b: b"v1," + b),
        entry.map(bytes.upper),
        st.sampled_from([b"v1,!!not-base64!!", b"v1,", b"v1", b"garbage"]),
    ),
    max_size=4,
).map(b" ".join)

NAMES = {
    "destiny": (AUTH, CID, TS),
    "rfc9421": (INPUT, SIGNATURE, DIGEST),
    "standard-webhooks": (ID, WTS, WSIG),
}
well_formed = {
    AUTH: hex64.map(lambda h: b"Signature " + h),
    CID: st.one_of(
        st.just(str(CLIENT_ID).encode()), st.uuids(version=4).map(lambda u: str(u).encode())
    ),
    TS: st.floats(NOW - 299, NOW + 299).map(lambda f: repr(f).encode()),
    INPUT: st.builds(
        member, st.just(COVERED), fresh_seconds, st.sampled_from([KEY_ID, SECOND_KEY_ID])
    ),
    SIGNATURE: b64(32).map(lambda b: b"sig1=:" + b + b":"),
    DIGEST: b64(32).map(lambda b: b"sha-256=:" + b + b":"),
    ID: st.from_regex(r"msg_[A-Za-z0-9]{1,30}", fullmatch=True).map(str.encode),
    WTS: fresh_seconds.map(lambda n: str(n).encode()),
    WSIG: entry,
}
near = {
    AUTH: near_signature,
    CID: near_client_id,
    TS: near_timestamp,
    INPUT: near_input,
    SIGNATURE: near_mac,
    DIGEST: near_digest,
    ID: near_id,
    WTS: near_seconds,
    WSIG: near_entries,
}
noise_name = st.one_of(
    st.sampled_from(
        [b"content-type", b"host", b"Authorization", b"X-Client-Id", b"x-client-id ", b"Signature"]
    ),
    st.binary(max_size=24),
)


@st.composite
def header_lists(draw: st.DrawFn, scheme: str) -> Headers:
    """The format's three headers, each well formed, near miss, garbage, absent or twice;
    plus noise.

    Weighted so that every stage of the pipeline is reached, down to the
    signature comparison (a well-formed, fresh, known-key request whose
    signature hypothesis cannot guess).
    """
    headers: Headers = []
    for name in NAMES[scheme]:
        kind = draw(st.sampled_from(["good"] * 6 + ["near", "near", "garbage", "absent", "twice"]))
        if kind == "absent":
            continue
        strategy = {"good": well_formed[name], "near": near[name]}.get(kind, any_value)
        headers.append((name, draw(strategy)))
        if kind == "twice":
            headers.append((name, draw(st.one_of(well_formed[name], any_value))))
    if draw(st.integers(0, 4)) == 0:
        length = draw(
            st.one_of(
                st.integers(0, 2 * LIMIT).map(str),
                st.integers(0, 10**30).map(str),
                st.text(max_size=12),
                st.integers(4250, 4400).map(lambda n: "9" * n),  # around int()'s digit limit
            )
        )
        headers.append((b"content-length", length.encode("utf-8", "surrogatepass")))
    headers += draw(st.lists(st.tuples(noise_name, any_value), max_size=3))
    return draw(st.permutations(headers))


@FAST
@EVERY_SCHEME
@given(data=st.data(), body=st.binary(max_size=2 * LIMIT))
def test_any_headers_get_a_json_refusal_and_never_reach_the_app(
    scheme: str, data: st.DataObject, body: bytes
) -> None:
    headers = data.draw(header_lists(scheme), label="headers")
    outcome = run(scheme, with_headers(headers), [_request(body)])
    payload = assert_refusal(outcome, scheme)
    event(f"{outcome.status} {payload['code']}")
    if outcome.status == 413:
        assert payload["code"] == "body_too_large"


ZERO_MAC = base64.b64encode(bytes(32))
# Headers that found bugs once, or reach a stage few random ones do; tried on every format.
KNOWN_HEADERS = [
    ([], b""),
    ([(AUTH, b"Signature " + b"0" * 64), (CID, str(CLIENT_ID).encode())], b""),
    # Well formed, fresh, a known key, a wrong signature: these reach the comparison.
    (
        [
            (AUTH, b"Signature " + b"0" * 64),
            (CID, str(CLIENT_ID).encode()),
            (TS, repr(NOW).encode()),
        ],
        b"x",
    ),
    (
        [
            (INPUT, member(COVERED, math.floor(NOW), KEY_ID)),
            (SIGNATURE, b"sig1=:" + ZERO_MAC + b":"),
            (DIGEST, signed("rfc9421", b"x").httpx["Content-Digest"].encode()),
        ],
        b"x",
    ),
    ([(ID, b"msg_1"), (WTS, b"%d" % math.floor(NOW)), (WSIG, b"v1," + ZERO_MAC)], b"x"),
    ([(b"content-length", b"9" * 400)], b""),
    # Longer than the 4300 digits int() accepts (its guard raises ValueError): still a 413.
    ([(b"content-length", b"9" * 5000)], b""),
    ([(b"content-length", b"0" * 5000 + b"7")], b"abcdefg"),
    ([(AUTH, "Signature é".encode()), (AUTH, b"\xff")], b""),
    ([(INPUT, "sig1=é".encode()), (SIGNATURE, b"\xff")], b""),
    ([(WSIG, "v1,é".encode()), (ID, b"\xff"), (WTS, b"\xff")], b""),
]


@EVERY_SCHEME
@pytest.mark.parametrize(("headers", "body"), KNOWN_HEADERS)
def test_known_headers_get_a_json_refusal_and_never_reach_the_app(
    scheme: str, headers: Headers, body: bytes
) -> None:
    outcome = run(scheme, with_headers(headers), [_request(body)])
    payload = assert_refusal(outcome, scheme)
    if outcome.status == 413:
        assert payload["code"] == "body_too_large"


@EVERY_SCHEME
def test_a_content_length_too_long_for_int_is_a_413_not_a_crash(scheme: str) -> None:
    # int() refuses strings of more than 4300 digits; the middleware must not turn
    # that into a ValueError (a 500): the body is refused before it is read.
    request = signed(scheme, b"", url=URL, at=NOW)
    for length in (b"9" * 4301, b"9" * 20_000, b"0" * 5000 + b"1" * 19):
        scope = request.scope()
        scope["headers"].append((b"content-length", length))
        outcome = run(scheme, scope, [_request(b"")])
        assert assert_refusal(outcome, scheme)["code"] == "body_too_large"
    # Leading zeros do not make a small length large.
    scope = request.scope()
    scope["headers"].append((b"content-length", b"0" * 5000))
    outcome = run(scheme, scope, [_request(b"")])
    assert outcome.status == 200 and outcome.app_body == b""


# 2. Arbitrary message sequences around a correctly signed body.

KNOWN_KEYS = ("type", "body", "more_body")


@st.composite
def message_sequences(draw: st.DrawFn) -> tuple[bytes, list[Message]]:
    """A signed body, split anyhow, then perhaps damaged as a broken server might."""
    body = draw(
        st.one_of(st.binary(max_size=64), st.binary(min_size=LIMIT - 8, max_size=LIMIT + 8))
    )
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=6)))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    messages: list[Message] = []
    for i, piece in enumerate(pieces):
        message: Message = {"type": "http.request"}
        if piece or draw(st.booleans()):  # an empty chunk may come without "body"
            message["body"] = piece
        if i < len(pieces) - 1:
            message["more_body"] = True
        elif draw(st.booleans()):  # the last may say more_body=False or say nothing
            message["more_body"] = False
        messages.append(message)
    for _ in range(draw(st.integers(0, 2))):
        damage = draw(
            st.sampled_from(
                [
                    "disconnect",
                    "unknown-type",
                    "drop-key",
                    "truncate",
                    "extra",
                    "empty-more",
                    "flip",
                ]
            )
        )
        at = draw(st.integers(0, len(messages)))
        if damage == "disconnect":
            messages.insert(at, {"type": "http.disconnect"})
        elif damage == "unknown-type":
            kind = draw(st.sampled_from(["http.response.start", "websocket.receive", "", "x"]))
            messages.insert(at, {"type": kind, "body": b"junk", "more_body": True})
        elif damage == "drop-key" and at < len(messages):
            message = dict(messages[at])
            message.pop(draw(st.sampled_from(KNOWN_KEYS)), None)
            messages[at] = message
        elif damage == "truncate":
            messages = messages[:at]  # then the driver answers http.disconnect
        elif damage == "extra":
            messages.append(_request(b"after the end"))
        elif damage == "flip" and at < len(messages) and messages[at].get("body"):
            chunk = messages[at]["body"]
            messages[at] = {**messages[at], "body": bytes([chunk[0] ^ 0x20]) + chunk[1:]}
        elif damage == "empty-more":
            messages.insert(at, {"type": "http.request", "body": b"", "more_body": True})
    return body, messages


def expected(body: bytes, messages: list[Message]) -> tuple[str, bytes]:
    """The reference model: ("app", bytes delivered), ("413", b""), ("401", b"") or ("gone", b"").

    Reads as the spec says: messages until one without more_body; anything that
    is not an ``http.request`` (or running out) means the client went away.
    """
    received = b""
    for message in [*messages, {"type": "http.disconnect"}]:
        if message.get("type") != "http.request":
            return "gone", b""
        received += message.get("body", b"")
        if len(received) > LIMIT:
            return "413", b""
        if not message.get("more_body", False):
            break
    return ("app", received) if received == body else ("401", b"")


def tampered_code(scheme: str, signed_body: bytes) -> str:
    """The refusal of a body other than the one signed. RFC 9421 binds a body through its
    Content-Digest: a signature over no body covers none (docs/errors.md)."""
    if scheme != "rfc9421":
        return "invalid_signature"
    return "digest_mismatch" if signed_body else "unsigned_body"


@FAST
@EVERY_SCHEME
@given(sequence=message_sequences())
@example(sequence=(b"abc", [{"type": "http.request", "body": b"abc"}]))
@example(sequence=(b"abc", [{"body": b"abc"}]))  # no "type": not a request
@example(sequence=(b"", [{"type": "http.request"}]))  # no body, no more_body: empty body
@example(sequence=(b"ab", [_request(b"a", True), {"type": "http.disconnect"}, _request(b"b")]))
@example(sequence=(b"ab", [_request(b"a", True), {"type": "lifespan.startup"}, _request(b"b")]))
@example(sequence=(b"x" * (LIMIT + 1), [_request(b"x" * LIMIT, True), _request(b"x")]))
def test_any_message_sequence_gives_the_app_the_signed_bytes_or_a_clean_refusal(
    scheme: str, sequence: tuple[bytes, list[Message]]
) -> None:
    body, messages = sequence
    verdict, delivered = expected(body, messages)
    event(verdict)
    outcome = run(scheme, signed(scheme, body, url=URL, at=NOW).scope(), list(messages))
    if verdict == "app":
        assert outcome.app_calls == 1 and outcome.app_body == delivered == body
        assert outcome.status == 200 and outcome.sent[-1] == {
            "type": "http.response.body",
            "body": b"ok",
        }
        assert outcome.app_scope is not None
        assert outcome.app_scope["state"]["hmac"].scheme == scheme
        if scheme == "destiny":
            assert outcome.app_scope["state"]["hmac_client_id"] == CLIENT_ID
    elif verdict == "gone":
        assert outcome.sent == [] and outcome.app_calls == 0  # nobody left to answer
    else:
        payload = assert_refusal(outcome, scheme)
        assert str(outcome.status) == verdict
        codes = {"401": tampered_code(scheme, body), "413": "body_too_large"}
        assert payload["code"] == codes[verdict]


def test_the_model_is_not_trivial() -> None:
    # Each verdict of the reference model is reachable, so the property has teeth.
    body = b"abcdef"
    assert expected(body, [_request(body)]) == ("app", body)
    assert expected(body, [_request(b"abc", True)]) == ("gone", b"")
    assert expected(body, [_request(b"abc")]) == ("401", b"")
    assert expected(body, [_request(b"x" * (LIMIT + 1))]) == ("413", b"")


# 3. Round trip through our own signer.

uuid4s = st.uuids(version=4)
uuid7s = st.integers(0, 2**128 - 1).map(
    # Set the version nibble to 7 and the variant bits to 10 (RFC 9562).
    lambda n: uuid.UUID(int=(n & ~(0xF << 76) & ~(0x3 << 62)) | (0x7 << 76) | (0x2 << 62))
)
KEYS: dict[str, st.SearchStrategy[Any]] = {
    "destiny": st.one_of(uuid4s, uuid7s),
    "rfc9421": st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1),
    "standard-webhooks": st.none(),  # the endpoint's secret names no key
}
SECRETS: dict[str, st.SearchStrategy[Any]] = {
    "destiny": st.text(min_size=32, max_size=64),  # any Unicode: it is signed as UTF-8
    "rfc9421": st.one_of(st.text(min_size=32, max_size=64), st.binary(min_size=32, max_size=64)),
    "standard-webhooks": st.binary(min_size=32, max_size=64).flatmap(
        lambda key: st.sampled_from([key, whsec(key)])  # raw, or as senders give it out
    ),
}


def server_and_signer(scheme: str, key: Any, secret: Any) -> tuple[dict[str, Any], Any]:
    """The middleware's arguments knowing ``key``'s ``secret``, and our client's signer."""
    if scheme == "destiny":
        return {"client_secrets": {key: secret}}, HMACSigningAuth(secret, key)
    if scheme == "rfc9421":
        server = MessageSignatureScheme(keys={key: secret})
        return {"schemes": [server]}, HMACSigningAuth(secret, scheme=scheme, key_id=key)
    server = StandardWebhookScheme(secrets=secret)
    return {"schemes": [server]}, HMACSigningAuth(secret, scheme=scheme)


def round_trip(scheme: str, body: bytes, key: Any, secret: Any, method: str, tamper: int) -> None:
    """Signed by our client: verified, the app gets the exact bytes and who signed; the
    same headers over a body with a byte changed, or one removed, are refused."""
    outcome = Outcome()
    options, signer = server_and_signer(scheme, key, secret)
    mw = HMACMiddleware(recording_app(outcome), max_body_size=8192, **options)
    # Other bodies under the same signed headers: one byte changed, or one removed.
    if body:
        i = tamper % len(body)
        others = [body[:i] + bytes([body[i] ^ 1]) + body[i + 1 :], body[:i] + body[i + 1 :]]
    else:
        others = [bytes([tamper % 256])]

    async def exchange() -> list[tuple[int, str]]:
        transport = httpx.ASGITransport(app=mw)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            good = await client.request(method, "/p", content=body, auth=signer)
            answers = [(good.status_code, "")]
            kept = {k: v for k, v in good.request.headers.items() if k != "content-length"}
            for other in others:
                forged = await client.request(method, "/p", content=other, headers=kept)
                answers.append((forged.status_code, forged.json()["code"]))
            return answers

    answers = asyncio.run(exchange())
    assert answers == [(200, "")] + [(401, tampered_code(scheme, body))] * len(others)
    assert outcome.app_calls == 1 and outcome.app_body == body
    assert outcome.app_scope is not None
    assert outcome.app_scope["state"]["hmac"] == Verified(scheme, key)
    if scheme == "destiny":
        assert outcome.app_scope["state"]["hmac_client_id"] == key


@settings(FAST, max_examples=100)
@EVERY_SCHEME
@given(
    data=st.data(),
    body=st.binary(max_size=4096),
    method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "GET"]),
    tamper=st.integers(0, 2**16),
)
def test_anything_our_signer_signs_verifies_with_the_exact_bytes(
    scheme: str, data: st.DataObject, body: bytes, method: str, tamper: int
) -> None:
    key = data.draw(KEYS[scheme], label="key")
    if scheme == "destiny":
        assert key.version in (4, 7) and key.variant == uuid.RFC_4122
    round_trip(scheme, body, key, data.draw(SECRETS[scheme], label="secret"), method, tamper)


@EVERY_SCHEME
def test_an_empty_get_signed_by_our_signer_verifies(scheme: str) -> None:
    key = {"destiny": CLIENT_ID, "rfc9421": KEY_ID, "standard-webhooks": None}[scheme]
    secret = {"destiny": SECRET, "rfc9421": RFC_SECRET, "standard-webhooks": WEBHOOK_SECRET}
    round_trip(scheme, b"", key, secret[scheme], "GET", 0)


# 4. A byte changed in what is signed.

# What each format signs, as the server reads it: the body, header values, and for RFC
# 9421 the request line and Host too (its Signature-Input is signed as well).
SIGNED_PARTS = {
    "destiny": ["body", "x-client-id", "x-request-timestamp"],
    "rfc9421": ["body", "method", "path", "query", "host", "signature-input", "content-digest"],
    "standard-webhooks": ["body", "webhook-id", "webhook-timestamp"],
}


def read_part(scope: dict[str, Any], body: bytes, part: str) -> bytes:
    if part == "body":
        return body
    if part == "method":
        return str(scope["method"]).encode("latin-1")
    if part in ("path", "query"):
        return bytes(scope["raw_path" if part == "path" else "query_string"])
    return dict(scope["headers"])[part.encode()]


def write_part(scope: dict[str, Any], part: str, value: bytes) -> None:
    if part == "method":
        scope["method"] = value.decode("latin-1")
    elif part == "path":
        scope.update(raw_path=value, path=unquote(value.decode("latin-1")))
    elif part == "query":
        scope["query_string"] = value
    else:
        name = part.encode()
        scope["headers"] = [(k, value if k == name else v) for k, v in scope["headers"]]


@FAST
@EVERY_SCHEME
@given(data=st.data(), body=st.binary(min_size=1, max_size=64))
def test_any_single_byte_changed_in_what_is_signed_is_refused(
    scheme: str, data: st.DataObject, body: bytes
) -> None:
    scope = signed(scheme, body, url=URL, at=NOW).scope()
    part = data.draw(st.sampled_from(SIGNED_PARTS[scheme]), label="part")
    original = read_part(scope, body, part)
    at = data.draw(st.integers(0, len(original) - 1), label="at")
    # Any byte; half the time one that keeps a number or an id well formed.
    new = data.draw(st.one_of(st.integers(0, 255), st.sampled_from(b"0123456789abcdef")))
    assume(new != original[at])
    changed = original[:at] + bytes([new]) + original[at + 1 :]
    if part == "host":  # the authority is case-insensitive: RFC 9421 signs it lower-cased
        assume(changed.lower() != original.lower())
    if part == "body":
        body = changed
    else:
        write_part(scope, part, changed)
    outcome = run(scheme, scope, [_request(body)])
    event(f"{part}: {assert_refusal(outcome, scheme)['code']}")


# 5. Freshness.


@settings(FAST, max_examples=60)
@EVERY_SCHEME
@given(data=st.data(), body=st.binary(max_size=512), future=st.booleans())
def test_a_timestamp_verifies_inside_the_window_and_is_refused_outside_it(
    scheme: str, data: st.DataObject, body: bytes, future: bool
) -> None:
    """destiny-sdk's timestamps are decimal; the others sign whole seconds."""
    if scheme == "destiny":
        inside: object = f"{NOW + data.draw(st.floats(-300, 300), label='offset')}"
        excess = data.draw(st.floats(0.001, 1e7), label="excess")
        outside: object = f"{NOW + (300 + excess) * (1 if future else -1)}"  # the text sent
    else:
        inside = data.draw(st.integers(math.ceil(NOW - 300), math.floor(NOW + 300)), label="at")
        excess = data.draw(st.integers(0, 10**7), label="excess")
        outside = math.ceil(NOW + 300) + excess if future else math.floor(NOW - 300) - excess
    assert (
        run(scheme, signed(scheme, body, url=URL, at=inside).scope(), [_request(body)]).status
        == 200
    )
    request = signed(scheme, body, url=URL, at=outside)
    payload = assert_refusal(run(scheme, request.scope(), [_request(body)]), scheme)
    assert payload["code"] == ("future_timestamp" if future else "expired")


# 6. destiny-sdk's header scan against a reference written from the wire format, not the code.


def _reference_scan(auth: bytes | None, cid: bytes | None, ts: bytes | None) -> object:
    """The docs' "How a request is verified" (step 1, headers) and "The wire format"
    as plainly as possible: the first failing check's code, or the values."""
    if not auth:
        return "missing_authorization"
    scheme, space, signature = auth.partition(b" ")
    if scheme.lower() != b"signature":
        return "unsupported_scheme"
    hexdigits = set(b"0123456789abcdef")
    if not space or len(signature) != 64 or not set(signature) <= hexdigits:
        return "malformed_signature"
    if not cid:
        return "missing_client_id"
    try:
        parsed = uuid.UUID(cid.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return "invalid_client_id"
    if str(parsed).encode() != cid or parsed.version not in (4, 7):
        return "invalid_client_id"
    if not ts:
        return "missing_timestamp"
    whole, dot, fraction = ts.decode("latin-1").partition(".")
    digits = set("0123456789")
    if not (
        0 < len(whole) <= 15
        and set(whole) <= digits
        and (not dot or (0 < len(fraction) <= 30 and set(fraction) <= digits))
    ):
        return "malformed_timestamp"
    return (signature.decode(), parsed, float(ts))


@settings(FAST, max_examples=500)
@given(
    auth=st.one_of(st.none(), near_signature, well_formed[AUTH], any_value),
    cid=st.one_of(st.none(), near_client_id, well_formed[CID], any_value),
    ts=st.one_of(st.none(), near_timestamp, well_formed[TS], any_value),
)
@example(auth=b"SiGnAtUrE " + b"a" * 64, cid=str(CLIENT_ID).encode(), ts=b"1.5")
@example(auth=b"Signature  " + b"a" * 64, cid=str(CLIENT_ID).encode(), ts=b"1.5")
@example(auth=b"Signature " + b"a" * 64 + b"\n", cid=str(CLIENT_ID).encode(), ts=b"1.5")
@example(auth=b"Signature " + b"a" * 64, cid=str(CLIENT_ID).encode() + b"\n", ts=b"1.5")
@example(auth=b"Signature " + b"a" * 64, cid=str(CLIENT_ID).encode(), ts=b"1.5\n")
def test_the_header_scan_agrees_with_the_wire_format(
    auth: bytes | None, cid: bytes | None, ts: bytes | None
) -> None:
    from hmac_asgi import AuthException, HMACAuthorizationHeaders

    raw = [(b"host", b"x")]
    raw += [
        (name, value) for name, value in ((AUTH, auth), (CID, cid), (TS, ts)) if value is not None
    ]
    want = _reference_scan(auth, cid, ts)
    try:
        headers = HMACAuthorizationHeaders.from_scope({"headers": raw})
    except AuthException as exc:
        assert exc.code == want
        return
    assert isinstance(want, tuple), f"accepted what the wire format refuses: {want}"
    assert (headers.signature, headers.client_id, headers.timestamp) == want
    assert headers == HMACAuthorizationHeaders(
        signature=want[0], client_id=want[1], timestamp=want[2]
    )
    # And from the raw header bytes, through the model's own validators.
    assert auth is not None and cid is not None and ts is not None
    assert headers == HMACAuthorizationHeaders(signature=auth[10:], client_id=cid, timestamp=ts)
    event("accepted")
