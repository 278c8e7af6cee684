"""RFC 9421 / RFC 9530 test vectors, and the derivation tables of the peers' own suites.

No peer library needed: these run on every Python. The vectors are RFC 9421 Appendix
B.2.5 (``hmac-sha256``, reproduced exactly by our signer and accepted by our verifier),
the same request signed the way pyauth's ``http-message-signatures`` signs by default
(with ``alg``, and with a ``@query-param``), and RFC 9530's sample digests. The tables are
the cases of that library's tests which apply to a server reading an ASGI scope:
authority normalization, ``@query-param`` canonicalization, field values.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from _asgi import Outcome, http_scope, raw, recording_app
from _secrets import RFC9421_B15_KEY_B64
from _signing import signed, signed_over

from hmac_asgi import HMACMiddleware, MessageSignatureScheme, Verified
from hmac_asgi.schemes.rfc9421 import (
    ComponentError,
    MessageSigner,
    ScopeMessage,
    authority,
    component,
    component_value,
    digest_header,
    signature_base,
)

# RFC 9421 Appendix B.1.5: the shared 64-byte test key, and B.2's request.
KEY = base64.b64decode(RFC9421_B15_KEY_B64)
KEY_ID = "test-shared-secret"
CREATED = 1618884473
URL = "https://example.com/foo?param=Value&Pet=dog"
BODY = b'{"hello": "world"}'
DIGEST_256 = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
DIGEST_512 = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"  # noqa: E501
HEADERS = {
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/json",
    "Content-Digest": DIGEST_512,
}
B25 = ("date", "@authority", "content-type")

# name -> (components, label, include_alg, Signature-Input, Signature)
VECTORS: dict[str, tuple[tuple[str, ...], str, bool, str, str]] = {
    # RFC 9421 Appendix B.2.5, byte for byte.
    "rfc9421-b.2.5": (
        B25,
        "sig-b25",
        False,
        f'sig-b25=("date" "@authority" "content-type");created={CREATED};keyid="{KEY_ID}"',
        "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:",
    ),
    # The same, as http-message-signatures signs it by default: alg is signed too.
    "b.2.5-with-alg": (
        B25,
        "sig-b25",
        True,
        f'sig-b25=("date" "@authority" "content-type");created={CREATED};keyid="{KEY_ID}"'
        ';alg="hmac-sha256"',
        "sig-b25=:fpPfii8c1pZ5oSkv7RBZ/Bco/qxOiuibca4SX6Yu6U8=:",
    ),
    # http-message-signatures' test_query_parameters.
    "pyhms-query-param": (
        (*B25, '"@query-param";name="Pet"'),
        "pyhms",
        True,
        f'pyhms=("date" "@authority" "content-type" "@query-param";name="Pet")'
        f';created={CREATED};keyid="{KEY_ID}";alg="hmac-sha256"',
        "pyhms=:Z9vQKeWMcZ9MyiiiN0X9p64FlcJ73F2QjV4X6QlrOYE=:",
    ),
}


def as_received(
    host: str | None = "example.com",
    raw_path: bytes = b"/",
    query: bytes = b"",
    *,
    scheme: str = "https",
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> dict[str, Any]:
    """The scope of a request whose Host (any text, or none), raw path and query are
    exactly these: the URL tables' spellings, which a parsed URL would normalize."""
    fields = [(b"host", host.encode("latin-1"))] if host is not None else []
    return http_scope(
        fields + (headers or []),
        path=raw_path.decode("latin-1"),
        method=method,
        scheme=scheme,
        raw_path=raw_path,
        query_string=query,
    )


def value(identifier: str, scope: dict[str, Any], **params: Any) -> str:
    return component_value(identifier, params, ScopeMessage(scope))


async def send_at(
    now: float, request: httpx.Request, seen: Outcome | None = None, **policy: Any
) -> httpx.Response:
    """``request`` through our middleware (RFC 9421 only), its clock at ``now``; ``seen``
    records what reached the app."""
    scheme = MessageSignatureScheme(keys={KEY_ID: KEY}, **policy)
    app = HMACMiddleware(
        recording_app(Outcome() if seen is None else seen), schemes=[scheme], clock=lambda: now
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app)) as client:
        return await client.send(request)


def vector_request(headers: dict[str, str] | None = None) -> httpx.Request:
    return httpx.Request("POST", URL, headers={**HEADERS, **(headers or {})}, content=BODY)


# The vectors: our signer reproduces them, our verifier accepts them.


@pytest.mark.parametrize("name", VECTORS.keys())
def test_our_signer_reproduces_the_vector(name: str) -> None:
    components, label, include_alg, signature_input, signature = VECTORS[name]
    signer = MessageSigner(KEY, KEY_ID, components=components, label=label, include_alg=include_alg)
    headers = signer.headers(vector_request(), CREATED)
    assert headers == {"Signature-Input": signature_input, "Signature": signature}


def test_b25_signature_base_is_the_rfcs() -> None:
    scope = as_received(
        raw_path=b"/foo",
        query=b"param=Value&Pet=dog",
        method="POST",
        headers=raw(HEADERS),
    )
    covered = [component(name) for name in B25]
    params = f'("date" "@authority" "content-type");created={CREATED};keyid="{KEY_ID}"'
    assert signature_base(covered, params, ScopeMessage(scope)) == (
        b'"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
        b'"@authority": example.com\n'
        b'"content-type": application/json\n'
        b'"@signature-params": ("date" "@authority" "content-type");created=1618884473'
        b';keyid="test-shared-secret"'
    )


@pytest.mark.anyio
@pytest.mark.parametrize("name", VECTORS.keys())
async def test_our_verifier_accepts_the_vector(name: str) -> None:
    components, _, _, signature_input, signature = VECTORS[name]
    request = vector_request({"Signature-Input": signature_input, "Signature": signature})
    seen = Outcome()
    response = await send_at(CREATED + 1, request, seen, required_components=components)
    assert response.status_code == 200, response.text
    assert seen.seen("hmac") == [(Verified("rfc9421", KEY_ID), BODY)]


@pytest.mark.anyio
async def test_b25_under_our_default_policy_is_insufficient_coverage() -> None:
    _, _, _, signature_input, signature = VECTORS["rfc9421-b.2.5"]
    request = vector_request({"Signature-Input": signature_input, "Signature": signature})
    response = await send_at(CREATED + 1, request)
    assert response.status_code == 401
    assert response.json()["code"] == "insufficient_coverage"
    assert response.headers["Accept-Signature"] == (
        'sig1=("@method" "@authority" "@path" "@query" "content-digest");alg="hmac-sha256"'
    )


@pytest.mark.anyio
async def test_b25_refused_when_a_covered_field_changes_or_too_old() -> None:
    _, _, _, signature_input, signature = VECTORS["rfc9421-b.2.5"]
    signed = {"Signature-Input": signature_input, "Signature": signature}
    policy = {"required_components": B25}
    changed = vector_request({**signed, "Content-Type": "text/plain"})
    response = await send_at(CREATED + 1, changed, **policy)
    assert (response.status_code, response.json()["code"]) == (401, "invalid_signature")
    response = await send_at(CREATED + 301, vector_request(signed), **policy)
    assert (response.status_code, response.json()["code"]) == (401, "expired")


def test_rfc9530_sample_digests() -> None:
    assert digest_header(BODY) == DIGEST_256
    assert digest_header(BODY, "sha-256") == DIGEST_256
    assert digest_header(BODY, "sha-512") == DIGEST_512
    assert digest_header(b"") == "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"


# Derived components from the ASGI scope (http-message-signatures' URL tables, as a
# server sees those URLs: Host as the client sent it, the raw path, the query string;
# userinfo and fragment never reach a server).

AUTHORITIES = [
    ("EXAMPLE.com:00443", "https", "example.com"),
    ("Example.COM:443", "https", "example.com"),
    ("example.com", "https", "example.com"),
    ("example.com:", "https", "example.com"),  # empty port
    ("example.com:00000", "https", "example.com:00000"),
    ("example.com:08443", "https", "example.com:08443"),
    ("example.com:8443", "https", "example.com:8443"),
    ("example.com:80", "http", "example.com"),
    ("example.com:443", "http", "example.com:443"),
    ("example.com:80", "https", "example.com:80"),
    ("[2001:DB8::1]:8443", "https", "[2001:db8::1]:8443"),
    ("[2001:DB8::1]:443", "https", "[2001:db8::1]"),
    ("[2001:DB8::1]", "https", "[2001:db8::1]"),
    ("127.0.0.1:8000", "http", "127.0.0.1:8000"),
]


@pytest.mark.parametrize(("host", "scheme", "expected"), AUTHORITIES)
def test_authority_normalization(host: str, scheme: str, expected: str) -> None:
    assert authority(host, scheme) == expected
    assert value("@authority", as_received(host, scheme=scheme)) == expected


# (Host, raw path, query) -> component -> value. Our @target-uri is rebuilt from the
# normalized authority: a server only has Host, not the spelling of the client's URL
# (the peer signs `HTTPS://EXAMPLE.com:00443/...` as spelled: see docs/formats/rfc9421.md).
DERIVED = [
    (
        ("EXAMPLE.com:00443", b"/a%2fb/../c", b"q=%2f"),
        {
            "@scheme": "https",
            "@authority": "example.com",
            "@path": "/a%2fb/../c",
            "@query": "?q=%2f",
            "@request-target": "/a%2fb/../c?q=%2f",
            "@target-uri": "https://example.com/a%2fb/../c?q=%2f",
        },
    ),
    (
        ("EXAMPLE.com:443", b"", b""),
        {
            "@authority": "example.com",
            "@path": "/",
            "@query": "?",
            "@request-target": "/",
            "@target-uri": "https://example.com/",
        },
    ),
    (
        # The client's URL was `/a?`: a server cannot tell it from `/a`.
        ("[2001:DB8::1]:443", b"/a", b""),
        {
            "@authority": "[2001:db8::1]",
            "@query": "?",
            "@request-target": "/a",
            "@target-uri": "https://[2001:db8::1]/a",
        },
    ),
    (
        ("example.com:8443", b"/a", b""),
        {"@authority": "example.com:8443", "@target-uri": "https://example.com:8443/a"},
    ),
    (
        ("example.com", b"/caf%C3%A9/%7Euser", b"x=%7e%41&y=a+b"),
        {
            "@path": "/caf%C3%A9/%7Euser",
            "@query": "?x=%7e%41&y=a+b",
            "@request-target": "/caf%C3%A9/%7Euser?x=%7e%41&y=a+b",
        },
    ),
]


@pytest.mark.parametrize(("request_line", "expected"), DERIVED)
def test_derived_components_from_the_scope(
    request_line: tuple[str, bytes, bytes], expected: dict[str, str]
) -> None:
    scope = as_received(*request_line)
    for identifier, wanted in expected.items():
        assert value(identifier, scope) == wanted, identifier


def test_method_is_taken_as_sent() -> None:
    assert value("@method", as_received(method="PATCH")) == "PATCH"


QUERY = (
    b"var=this%20is%20a%20big%0Amultiline%20value&bar=with+plus+whitespace"
    b"&fa%C3%A7ade%22%3A%20=something&empty=&symbols=%2B%2F%26%3D*~"
)
QUERY_PARAMS = [
    ("var", "this%20is%20a%20big%0Amultiline%20value"),
    ("bar", "with%20plus%20whitespace"),
    ("fa%C3%A7ade%22%3A%20", "something"),
    ("empty", ""),
    ("symbols", "%2B%2F%26%3D*%7E"),
]


@pytest.mark.parametrize(("name", "expected"), QUERY_PARAMS)
def test_query_param_canonicalization(name: str, expected: str) -> None:
    assert value("@query-param", as_received(raw_path=b"/parameters", query=QUERY), name=name) == (
        expected
    )


def test_query_param_names_are_case_sensitive() -> None:
    scope = as_received(query=b"Foo=upper&foo=lower")
    assert value("@query-param", scope, name="Foo") == "upper"
    assert value("@query-param", scope, name="foo") == "lower"
    with pytest.raises(ComponentError):
        value("@query-param", scope, name="FOO")


@pytest.mark.parametrize("query", [b"p0=a&p0=b", b"p0=a&x=1&p0=a", b"p0&p0="])
def test_query_param_given_twice_is_refused(query: bytes) -> None:
    with pytest.raises(ComponentError):
        value("@query-param", as_received(query=query), name="p0")


def test_query_param_absent_or_nameless_is_refused() -> None:
    with pytest.raises(ComponentError):
        value("@query-param", as_received(query=b"a=1"), name="b")
    with pytest.raises(ComponentError):
        value("@query-param", as_received(query=b"a=1"))


def test_query_param_name_is_matched_encoded() -> None:
    # The name parameter is the encoded name (RFC 9421 section 2.2.8). The peer also
    # matches a decoded or `+` spelling; we do not (docs/formats/rfc9421.md).
    scope = as_received(query=b"a+b=1&c%2Bd=2")
    assert value("@query-param", scope, name="a%20b") == "1"
    assert value("@query-param", scope, name="c%2Bd") == "2"
    for lenient in ("a b", "a+b", "c+d"):
        with pytest.raises(ComponentError):
            value("@query-param", scope, name=lenient)


INJECTED = 'safe\n"@query-param";name="b": injected'


def test_query_param_newline_injection_stays_encoded() -> None:
    query = urlencode({"a": INJECTED, "b": "tail"}).encode()
    scope = as_received(raw_path=b"/", query=query)
    encoded = value("@query-param", scope, name="a")
    assert "\n" not in encoded and '"' not in encoded
    assert encoded == "safe%0A%22%40query-param%22%3Bname%3D%22b%22%3A%20injected"
    covered = [component('"@query-param";name="a"'), component('"@query-param";name="b"')]
    base = signature_base(covered, "()", ScopeMessage(scope))
    assert base.count(b"\n") == 2  # two components and @signature-params: no forged line


@pytest.mark.anyio
async def test_query_param_values_swapped_fail_verification() -> None:
    components = (
        "@method",
        "@authority",
        "@path",
        '"@query-param";name="a"',
        '"@query-param";name="b"',
    )
    url = "https://example.com/p?" + urlencode({"a": INJECTED, "b": "tail"})
    ours = signed(
        "rfc9421",
        method="GET",
        url=url,
        at=CREATED,
        secret=KEY,
        key_id=KEY_ID,
        components=components,
    )
    headers = ours.httpx
    swapped = "https://example.com/p?" + urlencode({"a": "tail", "b": INJECTED})
    policy = {"required_components": components}
    good = await send_at(CREATED, httpx.Request("GET", url, headers=headers), **policy)
    assert good.status_code == 200, good.text
    bad = await send_at(CREATED, httpx.Request("GET", swapped, headers=headers), **policy)
    assert (bad.status_code, bad.json()["code"]) == (401, "invalid_signature")


# Header fields (http-message-signatures' field tests that a server can meet).


def fields(*lines: tuple[bytes, bytes]) -> ScopeMessage:
    return ScopeMessage(as_received(headers=list(lines)))


def test_repeated_field_lines_are_joined_and_trimmed() -> None:
    message = fields((b"example", b" first\t"), (b"example", b" second "))
    assert component_value("example", {}, message) == "first, second"
    message = fields((b"example", b" first\t"), (b"example", b" second "), (b"example", b"3"))
    assert component_value("example", {}, message) == "first, second, 3"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ((b"value, with, lots", b"of, commas"), ":dmFsdWUsIHdpdGgsIGxvdHM=:, :b2YsIGNvbW1hcw==:"),
        ((b"value, with, lots, of, commas",), ":dmFsdWUsIHdpdGgsIGxvdHMsIG9mLCBjb21tYXM=:"),
        ((b"", b"\t "), "::, ::"),
        (("café".encode("latin-1"),), ":Y2Fm6Q==:"),
    ],
)
def test_binary_wrapped_fields(lines: tuple[bytes, ...], expected: str) -> None:
    message = fields(*((b"example-header", line) for line in lines))
    assert component_value("example-header", {"bs": True}, message) == expected


def test_non_ascii_field_needs_bs() -> None:
    with pytest.raises(ComponentError):
        component_value("example-header", {}, fields((b"example-header", "café".encode("latin-1"))))


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("content-digest", f"{DIGEST_256},   {DIGEST_512}", f"{DIGEST_256}, {DIGEST_512}"),
        ("priority", "u=03,   i=?1", "u=3, i"),
        ("priority", "foo, foo", "foo"),
    ],
)
def test_structured_dictionary_fields_reserialized(name: str, raw: str, expected: str) -> None:
    message = fields((name.encode(), raw.encode()))
    assert component_value(name, {"sf": True}, message) == expected


EXAMPLE_DICT = b" a=1,    b=2;x=1;y=2,   c=(a   b   c), d"


@pytest.mark.parametrize(
    ("key", "expected"), [("a", "1"), ("d", "?1"), ("b", "2;x=1;y=2"), ("c", "(a b c)")]
)
def test_dictionary_member_by_key(key: str, expected: str) -> None:
    message = fields((b"example-dict", EXAMPLE_DICT))
    assert component_value("example-dict", {"key": key}, message) == expected


@pytest.mark.parametrize("key", ["e", 1, True])
def test_dictionary_member_absent_or_not_a_string_key_is_refused(key: object) -> None:
    with pytest.raises(ComponentError):
        component_value("example-dict", {"key": key}, fields((b"example-dict", EXAMPLE_DICT)))


def hand_signed(url: str, signature_input: str, base_lines: list[str]) -> httpx.Request:
    """A GET whose signature base is written out here: for policies on odd parameters."""
    member = signature_input.removeprefix("sig1=")
    return httpx.Request("GET", url, headers=signed_over(base_lines, member, secret=KEY))


@pytest.mark.anyio
async def test_covered_dictionary_member_verifies_end_to_end() -> None:
    signature_input = f'sig1=("@method" "example-dict";key="b");created={CREATED};keyid="{KEY_ID}"'
    request = hand_signed(
        "https://example.com/",
        signature_input,
        ['"@method": GET', '"example-dict";key="b": 2;x=1;y=2'],
    )
    request.headers["Example-Dict"] = EXAMPLE_DICT.decode()
    response = await send_at(CREATED, request, required_components=("@method",))
    assert response.status_code == 200, response.text


# Signature parameters of the wrong type (http-message-signatures refuses each of them).

BASE = ['"@method": GET', '"@authority": example.com', '"@path": /', '"@query": ?']
COVERED = '("@method" "@authority" "@path" "@query")'


@pytest.mark.anyio
@pytest.mark.parametrize(
    "params",
    [
        f'created="{CREATED}";keyid="{KEY_ID}"',
        f'created={CREATED}.5;keyid="{KEY_ID}"',
        f'created=?1;keyid="{KEY_ID}"',
        f'created=:MTIz:;keyid="{KEY_ID}"',
        f"created={CREATED};keyid={KEY_ID}",
        f'created={CREATED};keyid="{KEY_ID}";nonce=abc',
        f'created={CREATED};keyid="{KEY_ID}";expires="{CREATED + 60}"',
        f'keyid="{KEY_ID}"',
        f"created={CREATED}",
    ],
)
async def test_parameters_of_the_wrong_type_are_refused(params: str) -> None:
    request = hand_signed("https://example.com/", f"sig1={COVERED};{params}", BASE)
    response = await send_at(CREATED, request)
    assert response.status_code == 401, response.text
    assert response.json()["code"] in ("missing_parameter", "malformed_header")


@pytest.mark.anyio
async def test_hand_signed_request_with_string_parameters_passes() -> None:
    params = f'created={CREATED};keyid="{KEY_ID}";alg="hmac-sha256";nonce="abc";tag="t"'
    request = hand_signed("https://example.com/", f"sig1={COVERED};{params}", BASE)
    response = await send_at(CREATED, request, tag="t", require_nonce=True)
    assert response.status_code == 200, response.text


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("params", "policy"),
    [
        (f'created={CREATED};keyid="{KEY_ID}";alg=hmac-sha256', {}),
        (f'created={CREATED};keyid="{KEY_ID}";tag=t', {"tag": "t"}),
    ],
    ids=["alg-token", "tag-token"],
)
async def test_alg_or_tag_as_a_token_is_refused(params: str, policy: dict[str, Any]) -> None:
    request = hand_signed("https://example.com/", f"sig1={COVERED};{params}", BASE)
    response = await send_at(CREATED, request, **policy)
    assert response.status_code == 401, response.text


@pytest.mark.anyio
@pytest.mark.parametrize(
    "covered",
    [
        '("@method" "@method" "@authority" "@path" "@query")',
        '("@method" "@authority" "@path" "@query" "x" x)',
    ],
    ids=["twice", "token"],
)
async def test_duplicate_or_token_component_is_refused(covered: str) -> None:
    """Covering a component twice, or a Token, is not a valid Signature-Input member."""
    request = hand_signed(
        "https://example.com/", f'sig1={covered};created={CREATED};keyid="{KEY_ID}"', BASE
    )
    request.headers["X"] = "1"
    response = await send_at(CREATED, request)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "malformed_header"
