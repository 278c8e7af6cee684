"""Property tests: whatever headers, messages or bodies arrive, the middleware holds.

- Arbitrary header bytes: always a 401/408/413 JSON refusal, never an exception,
  never the app.
- Arbitrary ASGI message sequences around a correctly signed body (any chunking,
  empty chunks, missing keys, disconnects, unknown message types): exactly what a
  small reference model of the pipeline predicts: the app gets the signed bytes, or
  a refusal, or (the client gone) nothing at all; never an exception.
- Round trip: any body, any UUIDv4/v7 client id and any secret, signed by our
  ``HMACSigningAuth`` over ``httpx.ASGITransport``, verifies and the app sees the
  exact bytes; the same headers with any other body do not.
- Freshness: any timestamp within ``max_age`` verifies, any beyond it (either way)
  is refused with the right code.

The tests are synchronous ``@given`` functions that run each example in its own
event loop (``asyncio.run``), which keeps hypothesis and anyio out of each other's way.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from _asgi import Outcome, drive, http_scope, recording_app
from _signing import CLIENT_ID, SECRET, signed
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from starlette.types import Message

from hmac_asgi import HMACMiddleware, HMACSigningAuth

NOW = 1_800_000_000.5
LIMIT = 256  # small, so that bodies over the limit are generated too
Headers = list[tuple[bytes, bytes]]

FAST = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def middleware(outcome: Outcome, **kwargs: Any) -> HMACMiddleware:
    kwargs.setdefault("secret_key", SECRET)
    return HMACMiddleware(recording_app(outcome), clock=lambda: NOW, max_body_size=LIMIT, **kwargs)


def run(headers: Headers, messages: list[Message]) -> Outcome:
    """Drive one request in a fresh event loop; any exception fails the example."""
    outcome = Outcome()  # shared by the recording app and the driver
    asyncio.run(drive(middleware(outcome), http_scope(headers), messages, outcome))
    return outcome


def assert_refusal(outcome: Outcome) -> dict[str, Any]:
    """A 401/408/413 JSON refusal, two messages, and the app never called."""
    assert outcome.app_calls == 0
    assert [m["type"] for m in outcome.sent] == ["http.response.start", "http.response.body"]
    assert outcome.status in (401, 408, 413)
    headers = outcome.headers
    assert headers[b"content-type"] == b"application/json"
    assert int(headers[b"content-length"]) == len(outcome.body)
    if outcome.status == 401:
        assert headers[b"www-authenticate"] == b"Signature"
    payload = outcome.json()
    assert set(payload) == {"detail", "code"} and payload["detail"] and payload["code"]
    return payload


# 1. Arbitrary header bytes.

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
any_name = st.one_of(
    st.sampled_from([AUTH, CID, TS, b"content-length", b"Authorization", b"X-Client-Id", b"host"]),
    st.binary(max_size=24),
)


well_formed = {
    AUTH: hex64.map(lambda h: b"Signature " + h),
    CID: st.one_of(
        st.just(str(CLIENT_ID).encode()), st.uuids(version=4).map(lambda u: str(u).encode())
    ),
    TS: st.floats(NOW - 299, NOW + 299).map(lambda f: repr(f).encode()),
}
near = {AUTH: near_signature, CID: near_client_id, TS: near_timestamp}
noise_name = st.one_of(
    st.sampled_from([b"content-type", b"host", b"Authorization", b"X-Client-Id", b"x-client-id "]),
    st.binary(max_size=24),
)


@st.composite
def header_lists(draw: st.DrawFn) -> Headers:
    """The three headers, each well formed, near miss, garbage, absent or twice; plus noise.

    Weighted so that every stage of the pipeline is reached, down to the
    signature comparison (a well-formed, fresh, known-client request whose
    signature hypothesis cannot guess).
    """
    headers: Headers = []
    for name in (AUTH, CID, TS):
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
@given(headers=header_lists(), body=st.binary(max_size=2 * LIMIT))
@example(headers=[], body=b"")
@example(headers=[(AUTH, b"Signature " + b"0" * 64), (CID, str(CLIENT_ID).encode())], body=b"")
@example(  # well-formed, fresh, known client, wrong signature: reaches compare_digest
    headers=[
        (AUTH, b"Signature " + b"0" * 64),
        (CID, str(CLIENT_ID).encode()),
        (TS, repr(NOW).encode()),
    ],
    body=b"x",
)
@example(headers=[(b"content-length", b"9" * 400)], body=b"")
# Longer than the 4300 digits int() accepts (its guard raises ValueError): must still be a 413.
@example(headers=[(b"content-length", b"9" * 5000)], body=b"")
@example(headers=[(b"content-length", b"0" * 5000 + b"7")], body=b"abcdefg")
@example(headers=[(AUTH, "Signature é".encode()), (AUTH, b"\xff")], body=b"")
def test_any_headers_get_a_json_refusal_and_never_reach_the_app(
    headers: Headers, body: bytes
) -> None:
    outcome = run(headers, [_request(body)])
    payload = assert_refusal(outcome)
    event(f"{outcome.status} {payload['code']}")
    if outcome.status == 413:
        assert payload["code"] == "body_too_large"


def test_a_content_length_too_long_for_int_is_a_413_not_a_crash() -> None:
    # int() refuses strings of more than 4300 digits; the middleware must not turn
    # that into a ValueError (a 500): the body is refused before it is read.
    headers = signed("destiny", b"", at=NOW).raw
    for length in (b"9" * 4301, b"9" * 20_000, b"0" * 5000 + b"1" * 19):
        outcome = run([*headers, (b"content-length", length)], [_request(b"")])
        assert assert_refusal(outcome)["code"] == "body_too_large"
    # Leading zeros do not make a small length large.
    outcome = run([*headers, (b"content-length", b"0" * 5000)], [_request(b"")])
    assert outcome.status == 200 and outcome.app_body == b""


def _request(body: bytes, more: bool = False) -> Message:
    return {"type": "http.request", "body": body, "more_body": more}


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


@FAST
@given(sequence=message_sequences())
@example(sequence=(b"abc", [{"type": "http.request", "body": b"abc"}]))
@example(sequence=(b"abc", [{"body": b"abc"}]))  # no "type": not a request
@example(sequence=(b"", [{"type": "http.request"}]))  # no body, no more_body: empty body
@example(sequence=(b"ab", [_request(b"a", True), {"type": "http.disconnect"}, _request(b"b")]))
@example(sequence=(b"ab", [_request(b"a", True), {"type": "lifespan.startup"}, _request(b"b")]))
@example(sequence=(b"x" * (LIMIT + 1), [_request(b"x" * LIMIT, True), _request(b"x")]))
def test_any_message_sequence_gives_the_app_the_signed_bytes_or_a_clean_refusal(
    sequence: tuple[bytes, list[Message]],
) -> None:
    body, messages = sequence
    headers = signed("destiny", body, at=NOW).raw
    verdict, delivered = expected(body, messages)
    event(verdict)
    outcome = run(headers, list(messages))
    if verdict == "app":
        assert outcome.app_calls == 1 and outcome.app_body == delivered == body
        assert outcome.status == 200 and outcome.sent[-1] == {
            "type": "http.response.body",
            "body": b"ok",
        }
        assert outcome.app_scope is not None
        assert outcome.app_scope["state"]["hmac_client_id"] == CLIENT_ID
    elif verdict == "gone":
        assert outcome.sent == [] and outcome.app_calls == 0  # nobody left to answer
    else:
        payload = assert_refusal(outcome)
        assert str(outcome.status) == verdict
        assert payload["code"] == {"401": "invalid_signature", "413": "body_too_large"}[verdict]


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


@settings(FAST, max_examples=100)
@given(
    body=st.binary(max_size=4096),
    client_id=st.one_of(uuid4s, uuid7s),
    secret=st.text(min_size=32, max_size=64),  # any Unicode: it is signed as UTF-8
    method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "GET"]),
    tamper=st.integers(0, 2**16),
)
@example(body=b"", client_id=CLIENT_ID, secret=SECRET, method="GET", tamper=0)
def test_anything_our_signer_signs_verifies_with_the_exact_bytes(
    body: bytes, client_id: uuid.UUID, secret: str, method: str, tamper: int
) -> None:
    assert client_id.version in (4, 7) and client_id.variant == uuid.RFC_4122
    outcome = Outcome()
    mw = HMACMiddleware(
        recording_app(outcome), client_secrets={client_id: secret}, max_body_size=8192
    )
    # Other bodies under the same signed headers: one byte changed, or one removed.
    if body:
        i = tamper % len(body)
        others = [body[:i] + bytes([body[i] ^ 1]) + body[i + 1 :], body[:i] + body[i + 1 :]]
    else:
        others = [bytes([tamper % 256])]

    async def exchange() -> list[tuple[int, str]]:
        transport = httpx.ASGITransport(app=mw)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            good = await client.request(
                method, "/p", content=body, auth=HMACSigningAuth(secret, client_id)
            )
            answers = [(good.status_code, "")]
            kept = {k: v for k, v in good.request.headers.items() if k != "content-length"}
            for other in others:
                forged = await client.request(method, "/p", content=other, headers=kept)
                answers.append((forged.status_code, forged.json()["code"]))
            return answers

    answers = asyncio.run(exchange())
    assert answers == [(200, "")] + [(401, "invalid_signature")] * len(others)
    assert outcome.app_calls == 1 and outcome.app_body == body
    assert outcome.app_scope is not None
    assert outcome.app_scope["state"]["hmac_client_id"] == client_id


def _signed(body: bytes, timestamp: float) -> Headers:
    return signed("destiny", body, at=f"{timestamp}").raw  # the text a signer sends


@settings(FAST, max_examples=60)
@given(
    body=st.binary(max_size=512),
    offset=st.floats(-300, 300),
    excess=st.floats(0.001, 1e7),
    future=st.booleans(),
)
def test_a_timestamp_verifies_inside_the_window_and_is_refused_outside_it(
    body: bytes, offset: float, excess: float, future: bool
) -> None:
    assert run(_signed(body, NOW + offset), [_request(body)]).status == 200
    outside = NOW + (300 + excess) * (1 if future else -1)
    payload = assert_refusal(run(_signed(body, outside), [_request(body)]))
    assert payload["code"] == ("future_timestamp" if future else "expired")


# 5. The header scan against a reference written from the wire format, not from the code.


def _reference_scan(auth: bytes | None, cid: bytes | None, ts: bytes | None) -> object:
    """DESIGN.md §2/§4 as plainly as possible: the first failing check's code, or the values."""
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
