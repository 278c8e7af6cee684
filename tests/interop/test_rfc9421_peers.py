"""RFC 9421 (``hmac-sha256``, RFC 9530 ``Content-Digest``) against pyauth's two libraries.

- ``http-message-signatures`` signs an ``httpx.Request``, our middleware verifies it;
  our transport and ``httpx.Auth`` sign, its ``HTTPMessageVerifier`` verifies.
- ``requests-http-signature`` over a real uvicorn on 127.0.0.1, both ways: ``requests``
  with its ``HTTPSignatureAuth`` against our middleware, and our ``httpx`` client against
  a server that verifies with ``HTTPSignatureAuth.verify``.

Where the peers depart from RFC 9421 (or from us), the overlap is tested and the
departure pinned here; the README's "Interop notes" list them.
"""

from __future__ import annotations

import base64
import datetime
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import requests
from _asgi import Outcome, read_body, recording_app, serve
from _secrets import secret
from _signing import signed, signed_over
from http_message_signatures import (
    ContentDigest,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)
from requests.structures import CaseInsensitiveDict
from requests_http_signature import HTTPSignatureAuth

from hmac_asgi import (
    HMACMiddleware,
    HMACSigningAuth,
    HMACSigningTransport,
    MessageSignatureScheme,
    Verified,
)
from hmac_asgi.schemes.rfc9421 import DEFAULT_COMPONENTS, digest_header

SECRET = secret("rfc9421 peer key")
WRONG_SECRET = secret("rfc9421 peer key nobody has")
OTHER_SIGNERS_SECRET = secret("rfc9421 another signer's key")
KEY = SECRET.encode()  # the peers take raw key bytes; we UTF-8 encode a str: the same key
KEY_ID = "peer-key-1"
HMAC = algorithms.HMAC_SHA256
RESOLVER = MappingKeyResolver(public_keys={KEY_ID: KEY}, private_keys={KEY_ID: KEY})
BODY = json.dumps({"sku": "A-1", "qty": 2, "note": "café"}).encode()
# Percent-escapes in the path and query, a `+`, a non-default port: all signed as sent.
URLS = {
    "https": "https://orders.example/orders/caf%C3%A9?dry=1&note=a%20b+c&x=%7e",
    "http-port": "http://Orders.Example:8080/v1/orders?dry=1",
}
FRESH = datetime.timedelta(minutes=5)


# Helpers.


def now_utc(offset: float = 0.0) -> datetime.datetime:
    """An aware datetime: the peers read a naive one as local time."""
    return datetime.datetime.fromtimestamp(time.time() + offset, datetime.timezone.utc)


class Sha512Digest(ContentDigest):
    algorithm = "sha-512"


class Sha512Signer(HTTPMessageSigner):
    content_digest_class = Sha512Digest


def pyauth_signed(
    method: str,
    url: str,
    body: bytes | None,
    covered: tuple[str, ...] = DEFAULT_COMPONENTS,
    *,
    signer_class: type[HTTPMessageSigner] = HTTPMessageSigner,
    key: bytes = KEY,
    key_id: str = KEY_ID,
    headers: dict[str, str] | None = None,
    **options: Any,
) -> httpx.Request:
    """An ``httpx.Request`` signed by http-message-signatures (``body=`` adds Content-Digest)."""
    request = httpx.Request(method, url, content=body, headers=headers)
    resolver = MappingKeyResolver(public_keys={key_id: key}, private_keys={key_id: key})
    signer = signer_class(signature_algorithm=HMAC, key_resolver=resolver)
    signer.sign(request, key_id=key_id, covered_component_ids=covered, body=body, **options)
    return request


def resent(
    signed: httpx.Request,
    *,
    method: str | None = None,
    url: str | None = None,
    content: bytes | None = None,
) -> httpx.Request:
    """``signed``'s headers on another method, URL or body (a tampered copy)."""
    kept = {k: v for k, v in signed.headers.items() if k.lower() not in ("host", "content-length")}
    return httpx.Request(
        method or signed.method,
        url or str(signed.url),
        headers=kept,
        content=signed.content if content is None else content,
    )


def protected(seen: Outcome | None = None, **policy: Any) -> HMACMiddleware:
    """Our middleware, RFC 9421 only, knowing KEY_ID; ``policy`` as MessageSignatureScheme's."""
    scheme = MessageSignatureScheme(keys={KEY_ID: SECRET}, **policy)
    return HMACMiddleware(recording_app(seen or Outcome()), schemes=[scheme])


async def send_to(app: HMACMiddleware, request: httpx.Request) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app)) as client:
        return await client.send(request)


def refused_with(response: httpx.Response, code: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == code, response.text
    assert response.headers["WWW-Authenticate"] == "Signature"


# http-message-signatures signs, our middleware verifies.

ALL_DERIVED = (
    "@method",
    "@target-uri",
    "@authority",
    "@scheme",
    "@request-target",
    "@path",
    "@query",
    '"@query-param";name="dry"',
)

# name -> (covered components, our policy's required_components, signer options)
PYAUTH_SIGNS: dict[str, tuple[tuple[str, ...], tuple[str, ...], dict[str, Any]]] = {
    "default": (DEFAULT_COMPONENTS, DEFAULT_COMPONENTS, {}),
    "no-alg": (DEFAULT_COMPONENTS, DEFAULT_COMPONENTS, {"include_alg": False}),
    "sha-512": (DEFAULT_COMPONENTS, DEFAULT_COMPONENTS, {"signer_class": Sha512Signer}),
    "target-uri": (
        ("@method", "@target-uri", "content-digest"),
        ("@method", "@target-uri", "content-digest"),
        {},
    ),
    "request-target": (
        ("@method", "@authority", "@request-target", "content-digest"),
        ("@method", "@authority", "@request-target", "content-digest"),
        {},
    ),
    "scheme": (
        ("@method", "@scheme", *DEFAULT_COMPONENTS[1:]),
        ("@scheme", *DEFAULT_COMPONENTS),
        {},
    ),
    "query-param": (
        ("@method", "@authority", "@path", '"@query-param";name="dry"', "content-digest"),
        ("@method", "@authority", "@path", '"@query-param";name="dry"', "content-digest"),
        {},
    ),
    "fields": (
        (*DEFAULT_COMPONENTS, "content-type", "x-request-id"),
        (*DEFAULT_COMPONENTS, "x-request-id"),
        {"headers": {"Content-Type": "application/json", "X-Request-Id": "r-1"}},
    ),
    "all-derived": ((*ALL_DERIVED, "content-digest"), DEFAULT_COMPONENTS, {"label": "sig-all"}),
    "digest-sf": ((*DEFAULT_COMPONENTS[:4], '"content-digest";sf'), DEFAULT_COMPONENTS, {}),
    "dictionary-sf": (
        (*DEFAULT_COMPONENTS, '"priority";sf'),
        DEFAULT_COMPONENTS,
        {"headers": {"Priority": "u=03,   i=?1"}},
    ),
    "bs": (
        (*DEFAULT_COMPONENTS, '"x-list";bs'),
        (*DEFAULT_COMPONENTS, '"x-list";bs'),
        {"headers": {"X-List": " value, with, lots "}},
    ),
}


@pytest.mark.anyio
@pytest.mark.parametrize("url", URLS.values(), ids=URLS.keys())
@pytest.mark.parametrize("case", PYAUTH_SIGNS.keys())
async def test_pyauth_signs_our_middleware_accepts(case: str, url: str) -> None:
    covered, required, options = PYAUTH_SIGNS[case]
    signed = pyauth_signed("POST", url, BODY, covered, **options)
    if case == "sha-512":
        assert signed.headers["Content-Digest"].startswith("sha-512=:")
    if case == "no-alg":
        assert ";alg=" not in signed.headers["Signature-Input"]
    seen = Outcome()
    response = await send_to(protected(seen, required_components=required), signed)
    assert response.status_code == 200, response.text
    assert seen.seen("hmac") == [(Verified("rfc9421", KEY_ID), BODY)]


@pytest.mark.anyio
async def test_pyauth_tag_nonce_expires_meet_our_policy() -> None:
    signed = pyauth_signed(
        "PUT",
        URLS["https"],
        BODY,
        tag="orders-api",
        nonce="n-7f3a9c",
        expires=now_utc(60),
        label="orders",
    )
    params = signed.headers["Signature-Input"]
    assert 'tag="orders-api"' in params and 'nonce="n-7f3a9c"' in params and "expires=" in params
    seen = Outcome()
    strict = protected(seen, tag="orders-api", require_nonce=True)
    assert (await send_to(strict, signed)).status_code == 200
    assert seen.seen("hmac")[0][0] == Verified("rfc9421", KEY_ID)
    # The same policy refuses a signature without the tag, or without a nonce.
    refused_with(await send_to(strict, pyauth_signed("PUT", URLS["https"], BODY)), "wrong_tag")
    no_nonce = pyauth_signed("PUT", URLS["https"], BODY, tag="orders-api")
    refused_with(await send_to(strict, no_nonce), "missing_parameter")
    other_tag = pyauth_signed("PUT", URLS["https"], BODY, tag="other", nonce="n-1")
    refused_with(await send_to(strict, other_tag), "wrong_tag")


@pytest.mark.anyio
async def test_pyauth_expired_and_stale_signatures_are_refused() -> None:
    seen = Outcome()
    app = protected(seen)
    expired = pyauth_signed("POST", URLS["https"], BODY, expires=now_utc(-60))
    refused_with(await send_to(app, expired), "expired")
    stale = pyauth_signed("POST", URLS["https"], BODY, created=now_utc(-3600))
    refused_with(await send_to(app, stale), "expired")
    assert seen.calls == []


@pytest.mark.anyio
@pytest.mark.parametrize("body", [None, b""], ids=["no-digest", "empty-digest"])
async def test_pyauth_bodiless_get(body: bytes | None) -> None:
    # Without body= it sends no Content-Digest; with body=b"" the digest of nothing.
    signed = pyauth_signed("GET", URLS["https"], body, DEFAULT_COMPONENTS[:4])
    assert ("content-digest" in signed.headers) == (body is not None)
    seen = Outcome()
    response = await send_to(protected(seen), signed)
    assert response.status_code == 200, response.text
    assert seen.seen("hmac") == [(Verified("rfc9421", KEY_ID), b"")]


@pytest.mark.anyio
async def test_pyauth_second_signature_with_a_known_key_decides() -> None:
    # Two labels: an unknown keyid first, ours appended: the known one decides.
    signed = pyauth_signed(
        "POST", URLS["https"], BODY, key=OTHER_SIGNERS_SECRET.encode(), key_id="someone-else"
    )
    signer = HTTPMessageSigner(signature_algorithm=HMAC, key_resolver=RESOLVER)
    signer.sign(
        signed,
        key_id=KEY_ID,
        covered_component_ids=DEFAULT_COMPONENTS,
        label="sig2",
        append_if_signature_exists=True,
        use_existing_digest=True,
        body=BODY,
    )
    assert signed.headers["Signature-Input"].startswith("pyhms=")
    seen = Outcome()
    assert (await send_to(protected(seen), signed)).status_code == 200
    assert seen.seen("hmac")[0][0] == Verified("rfc9421", KEY_ID)


@pytest.mark.anyio
async def test_pyauth_signature_refused_when_tampered() -> None:
    seen = Outcome()
    app = protected(seen)
    url = URLS["https"]
    signed = pyauth_signed("POST", url, BODY)
    assert (await send_to(app, resent(signed))).status_code == 200  # the untouched copy passes
    refused_with(await send_to(app, resent(signed, content=BODY + b" ")), "digest_mismatch")
    refused_with(await send_to(app, resent(signed, method="PUT")), "invalid_signature")
    tampered_path = url.replace("/orders/", "/admin/")
    refused_with(await send_to(app, resent(signed, url=tampered_path)), "invalid_signature")
    refused_with(
        await send_to(app, resent(signed, url=url.replace("dry=1", "dry=0"))), "invalid_signature"
    )
    other_host = url.replace("orders.example", "billing.example")
    refused_with(await send_to(app, resent(signed, url=other_host)), "invalid_signature")
    assert len(seen.calls) == 1


@pytest.mark.anyio
async def test_pyauth_wrong_or_unknown_key_is_refused() -> None:
    seen = Outcome()
    app = protected(seen)
    wrong = pyauth_signed("POST", URLS["https"], BODY, key=WRONG_SECRET.encode())
    refused_with(await send_to(app, wrong), "invalid_signature")
    unknown = pyauth_signed("POST", URLS["https"], BODY, key_id="nobody")
    refused_with(await send_to(app, unknown), "invalid_signature")
    assert seen.calls == []


@pytest.mark.anyio
async def test_pyauth_not_covering_path_is_insufficient_coverage() -> None:
    covered = ("@method", "@authority", "@query", "content-digest")
    response = await send_to(protected(), pyauth_signed("POST", URLS["https"], BODY, covered))
    refused_with(response, "insufficient_coverage")
    assert response.headers["Accept-Signature"] == (
        'sig1=("@method" "@authority" "@path" "@query" "content-digest");alg="hmac-sha256"'
    )


@pytest.mark.anyio
async def test_pyauth_body_without_signed_digest_is_refused() -> None:
    # Signed without body=: no Content-Digest, so the body is not bound to the signature.
    signed = pyauth_signed("POST", URLS["https"], None, DEFAULT_COMPONENTS[:4])
    refused_with(await send_to(protected(), resent(signed, content=BODY)), "unsigned_body")


@pytest.mark.anyio
async def test_pyauth_explicit_default_port_in_target_uri_departs() -> None:
    # requests keeps an explicit :80 in the URL it hands to the signer, while http.client
    # sends `Host: orders.example`: the peer's @target-uri then names a port our server
    # (like any server) does not see. @authority is normalized on both sides.
    def signed_as_requests_sends_it(covered: tuple[str, ...]) -> httpx.Request:
        prepared = requests.Request("POST", "http://orders.example:80/orders", data=BODY).prepare()
        assert prepared.url == "http://orders.example:80/orders"
        HTTPMessageSigner(signature_algorithm=HMAC, key_resolver=RESOLVER).sign(
            prepared, key_id=KEY_ID, covered_component_ids=covered, body=BODY
        )
        names = ("Content-Digest", "Signature-Input", "Signature")
        headers = {name: prepared.headers[name] for name in names}
        return httpx.Request("POST", "http://orders.example/orders", headers=headers, content=BODY)

    with_authority = ("@method", "@authority", "@path", "content-digest")
    policy = {"required_components": with_authority}
    assert (
        await send_to(protected(**policy), signed_as_requests_sends_it(with_authority))
    ).status_code == 200
    with_target = ("@method", "@target-uri", "content-digest")
    response = await send_to(
        protected(required_components=with_target),
        signed_as_requests_sends_it(with_target),
    )
    refused_with(response, "invalid_signature")


@pytest.mark.anyio
async def test_sf_on_a_field_that_is_not_a_dictionary_departs() -> None:
    # The peer re-serializes any field whose structured type it knows (content-type is an
    # Item); we do so for dictionary fields only (content-digest, priority, ...).
    covered = (*DEFAULT_COMPONENTS, '"content-type";sf')
    headers = {"Content-Type": 'text/html;  charset="utf-8"'}
    signed = pyauth_signed("POST", URLS["https"], BODY, covered, headers=headers)
    refused_with(await send_to(protected(), signed), "unsupported_component")


@pytest.mark.anyio
async def test_query_param_name_decoded_spelling_departs() -> None:
    # The peer finds a parameter by its decoded name too; RFC 9421 names it encoded.
    url = "https://orders.example/orders?a+b=1&dry=1"
    policy = {"required_components": ("@method", "@authority", "@path")}
    for name, status in (("a%20b", 200), ("a b", 401)):
        covered = ("@method", "@authority", "@path", f'"@query-param";name="{name}"')
        signed = pyauth_signed("POST", url, BODY, covered)
        response = await send_to(protected(**policy), signed)
        assert response.status_code == status, response.text
    refused_with(response, "unsupported_component")


@pytest.mark.anyio
async def test_unknown_digest_algorithm_beside_a_known_one_departs() -> None:
    # RFC 9530 lets a recipient ignore digest algorithms it does not know: we check the
    # sha-256 member and skip sha-384; the peer refuses the whole field.
    created = int(time.time())
    digest = f"{digest_header(BODY)}, sha-384=:{base64.b64encode(bytes(48)).decode()}:"
    params = f'("@method" "@authority" "@path" "@query" "content-digest");created={created}'
    params += f';keyid="{KEY_ID}"'
    lines = [
        '"@method": POST',
        '"@authority": orders.example',
        '"@path": /orders',
        '"@query": ?',
        f'"content-digest": {digest}',
    ]
    headers = {"Content-Digest": digest, **signed_over(lines, params, secret=KEY)}
    request = httpx.Request("POST", "https://orders.example/orders", headers=headers, content=BODY)
    seen = Outcome()
    assert (await send_to(protected(seen), request)).status_code == 200
    assert seen.seen("hmac") == [(Verified("rfc9421", KEY_ID), BODY)]
    verifier = HTTPMessageVerifier(signature_algorithm=HMAC, key_resolver=RESOLVER)
    assert verifier.verify(request)  # the signature itself verifies for the peer...
    with pytest.raises(InvalidSignature, match="Unsupported content digest algorithm"):
        verifier.verify(request, body=BODY)  # ...the digest field does not
    # Only algorithms we do not know: the body would go unchecked, so we refuse it.
    only_unknown = resent(request)
    only_unknown.headers["Content-Digest"] = digest.split(", ")[1]
    refused_with(await send_to(protected(), only_unknown), "malformed_header")


# Our transport and httpx.Auth sign, http-message-signatures verifies.


def pyauth_verifier_handler(
    required: tuple[str, ...], results: list[Any]
) -> Callable[[httpx.Request], httpx.Response]:
    """A MockTransport handler: verifies with HTTPMessageVerifier, answers 200 or 401."""

    def handler(request: httpx.Request) -> httpx.Response:
        verifier = HTTPMessageVerifier(signature_algorithm=HMAC, key_resolver=RESOLVER)
        try:
            verified = verifier.verify(
                request, body=request.content, require_components=required, max_age=FRESH
            )
        except InvalidSignature as exc:
            return httpx.Response(401, json={"error": str(exc)})
        results.extend(verified)
        return httpx.Response(200, json={"ok": True})

    return handler


def check_pyauth_result(
    result: Any, covered: tuple[str, ...], body: bytes, label: str = "sig1"
) -> None:
    assert result.label == label
    assert result.parameters["keyid"] == KEY_ID
    assert result.parameters["alg"] == "hmac-sha256"
    assert abs(result.parameters["created"] - time.time()) < 60
    assert result.algorithm is HMAC
    names = [name for name in result.covered_components if name != '"@signature-params"']
    assert names == [c if c.startswith('"') else f'"{c}"' for c in covered]
    assert result.body == (body or None)


COVERED_WITH_BODY = DEFAULT_COMPONENTS
COVERED_WITHOUT_BODY = DEFAULT_COMPONENTS[:4]  # no body: no Content-Digest to cover


def test_our_transport_signs_pyauth_verifies_sync() -> None:
    results: list[Any] = []
    inner = httpx.MockTransport(pyauth_verifier_handler(COVERED_WITHOUT_BODY, results))
    transport = HMACSigningTransport(
        secret_key=SECRET,
        key_id=KEY_ID,
        scheme="rfc9421",
        transport=inner,
        origins=["https://orders.example", "http://orders.example:8080"],
    )
    with httpx.Client(transport=transport) as client:
        for url in URLS.values():
            response = client.post(url, content=BODY)
            assert response.status_code == 200, response.text
            check_pyauth_result(results.pop(), COVERED_WITH_BODY, BODY)
            response = client.get(url)
            assert response.status_code == 200, response.text
            check_pyauth_result(results.pop(), COVERED_WITHOUT_BODY, b"")
        # A streamed upload is read, digested and signed like any other body.
        chunks = [b'{"part": 1}', b'{"part": 2}']
        assert client.put(URLS["https"], content=iter(chunks)).status_code == 200
        check_pyauth_result(results.pop(), COVERED_WITH_BODY, b"".join(chunks))


@pytest.mark.anyio
async def test_our_transport_signs_pyauth_verifies_async() -> None:
    results: list[Any] = []
    inner = httpx.MockTransport(pyauth_verifier_handler(COVERED_WITH_BODY, results))
    transport = HMACSigningTransport(
        secret_key=SECRET, key_id=KEY_ID, scheme="rfc9421", transport=inner
    )
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.post(URLS["https"], json={"sku": "B-2"})
        assert response.status_code == 200, response.text
        check_pyauth_result(results.pop(), COVERED_WITH_BODY, b'{"sku":"B-2"}')


@pytest.mark.anyio
async def test_our_auth_signs_pyauth_verifies_sync_and_async() -> None:
    results: list[Any] = []
    handler = pyauth_verifier_handler(COVERED_WITH_BODY, results)
    auth = HMACSigningAuth(SECRET, scheme="rfc9421", key_id=KEY_ID)
    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        assert client.patch(URLS["http-port"], content=BODY).status_code == 200
    check_pyauth_result(results.pop(), COVERED_WITH_BODY, BODY)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=auth) as client:
        response = await client.request("DELETE", URLS["https"], content=BODY)
        assert response.status_code == 200, response.text
    check_pyauth_result(results.pop(), COVERED_WITH_BODY, BODY)


# What our signer covers, beyond the default: every component pyauth can require.
OUR_COMPONENTS = (*ALL_DERIVED, '"@query-param";name="note"', "content-type", "content-digest")


@pytest.mark.parametrize("url", URLS.values(), ids=URLS.keys())
def test_our_components_and_tag_pyauth_verifies(url: str) -> None:
    results: list[Any] = []
    handler = pyauth_verifier_handler(OUR_COMPONENTS, results)
    if "note=" not in url:
        url += "&note=x"
    transport = HMACSigningTransport(
        secret_key=SECRET,
        key_id=KEY_ID,
        scheme="rfc9421",
        components=OUR_COMPONENTS,
        tag="orders-api",
        transport=httpx.MockTransport(handler),
    )
    with httpx.Client(transport=transport) as client:
        response = client.post(url, json={"a": 1})
    assert response.status_code == 200, response.text
    result = results.pop()
    check_pyauth_result(result, OUR_COMPONENTS, b'{"a":1}')
    assert result.parameters["tag"] == "orders-api"


def test_our_signer_nonce_expires_no_alg_pyauth_verifies() -> None:
    options = {"label": "orders", "nonce": True, "expires_in": 60, "include_alg": False}

    def ours(at: float) -> httpx.Request:
        made = signed(
            "rfc9421", BODY, url=URLS["https"], at=at, secret=SECRET, key_id=KEY_ID, **options
        )
        return httpx.Request("POST", URLS["https"], content=BODY, headers=made.httpx)

    request = ours(time.time())
    verifier = HTTPMessageVerifier(signature_algorithm=HMAC, key_resolver=RESOLVER)
    [result] = verifier.verify(request, body=BODY, require_components=DEFAULT_COMPONENTS)
    assert result.label == "orders"
    assert set(result.parameters) == {"created", "keyid", "expires", "nonce"}
    assert result.parameters["expires"] == result.parameters["created"] + 60
    assert result.nonce == result.parameters["nonce"] and len(result.nonce) >= 16
    # An expired one is refused by the peer too.
    stale = ours(time.time() - 120)
    with pytest.raises(InvalidSignature, match="in the past"):
        verifier.verify(stale, body=BODY, max_age=None)


def test_our_signature_refused_by_pyauth_when_tampered() -> None:
    results: list[Any] = []
    handler = pyauth_verifier_handler(COVERED_WITH_BODY, results)
    request = httpx.Request("POST", URLS["https"], content=BODY)
    next(HMACSigningAuth(SECRET, scheme="rfc9421", key_id=KEY_ID).auth_flow(request))
    assert handler(resent(request)).status_code == 200
    for tampered in (
        resent(request, content=b'{"sku": "Z-9"}'),
        resent(request, method="PUT"),
        resent(request, url=URLS["https"].replace("dry=1", "dry=0")),
    ):
        response = handler(tampered)
        assert response.status_code == 401, response.text
    assert "does not match the message body" in handler(resent(request, content=b"{}")).text


def test_lone_question_mark_departs_in_target_uri_only() -> None:
    # httpx keeps a URL's lone trailing "?", which an ASGI server cannot see: our signer
    # signs what the server sees (no "?"), the peer derives from the URL (with it).
    # @path and @query agree ("?" either way); @target-uri and @request-target do not.
    url = "https://orders.example/orders?"
    for covered, verifies in (
        (DEFAULT_COMPONENTS, True),
        (("@method", "@target-uri", "content-digest"), False),
        (("@method", "@authority", "@request-target", "content-digest"), False),
    ):
        made = signed("rfc9421", BODY, url=url, secret=SECRET, key_id=KEY_ID, components=covered)
        request = httpx.Request("POST", url, content=BODY, headers=made.httpx)
        assert str(request.url) == url
        verifier = HTTPMessageVerifier(signature_algorithm=HMAC, key_resolver=RESOLVER)
        if verifies:
            assert verifier.verify(request, body=BODY)
        else:
            with pytest.raises(InvalidSignature):
                verifier.verify(request, body=BODY)


# requests-http-signature over a real uvicorn, both ways.


def rhs_auth(covered: tuple[str, ...] = DEFAULT_COMPONENTS, **options: Any) -> HTTPSignatureAuth:
    return HTTPSignatureAuth(
        signature_algorithm=HMAC,
        key=KEY,
        key_id=KEY_ID,
        covered_component_ids=covered,
        **options,
    )


RHS_DEFAULT = ("@method", "@authority", "@target-uri")  # requests-http-signature's
# requests re-quotes the second (`%7E` to `~`) before signing and sending it.
PATHS = ("/orders?dry=1", "/caf%C3%A9/%7Euser?x=%7e%41&dry=a+b", "/")


class Sha512Auth(HTTPSignatureAuth):
    signer_class = Sha512Signer


class TamperingAuth(HTTPSignatureAuth):
    """Signs, then swaps the body (and its length): what a man in the middle would do."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        signed = super().__call__(request)
        signed.body = b'{"sku": "Z-9", "qty": 200}'
        signed.headers["Content-Length"] = str(len(signed.body))
        return signed


@pytest.fixture(scope="module")
def rhs_server() -> Iterator[tuple[str, Outcome]]:
    """Our middleware under uvicorn, its policy the peer's default coverage."""
    seen = Outcome()
    policy = (*RHS_DEFAULT, "date", "content-digest")
    app = protected(seen, required_components=policy)
    with serve(app, lifespan="off") as url:
        yield url, seen


@pytest.fixture
def rhs_default_server() -> Iterator[tuple[str, Outcome]]:
    seen = Outcome()
    with serve(protected(seen), lifespan="off") as url:
        yield url, seen


EMPTY_DIGESTS = (
    "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
    "sha-512=:z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==:",
)
RHS_CASES: dict[str, tuple[type[HTTPSignatureAuth], dict[str, Any]]] = {
    "default": (HTTPSignatureAuth, {}),
    "sha-512": (Sha512Auth, {}),
    "options": (
        HTTPSignatureAuth,
        {
            "include_alg": False,
            "use_nonce": True,
            "expires_in": datetime.timedelta(minutes=5),
            "tag": "orders-api",
            "label": "orders",
        },
    ),
}


@pytest.mark.parametrize("covered", [RHS_DEFAULT, ALL_DERIVED], ids=["its-default", "all"])
@pytest.mark.parametrize("case", RHS_CASES.keys())
def test_requests_http_signature_passes_our_middleware_over_uvicorn(
    rhs_server: tuple[str, Outcome], case: str, covered: tuple[str, ...]
) -> None:
    # It adds date and content-digest to what it is told to cover; its default covers
    # @target-uri, which our server rebuilds from the scheme, Host and raw path.
    base, seen = rhs_server
    auth_class, options = RHS_CASES[case]
    auth = auth_class(
        signature_algorithm=HMAC, key=KEY, key_id=KEY_ID, covered_component_ids=covered, **options
    )
    for path in PATHS:
        if covered == ALL_DERIVED and "dry=" not in path:
            continue  # its @query-param needs the parameter
        seen.calls.clear()
        response = requests.post(base + path, data=BODY, auth=auth, timeout=10)
        assert response.status_code == 200, response.text
        assert seen.seen("hmac") == [(Verified("rfc9421", KEY_ID), BODY)]
        sent = response.request.headers
        assert "Date" in sent
        assert '"date" "content-digest")' in sent["Signature-Input"]
        if case == "sha-512":
            assert sent["Content-Digest"].startswith("sha-512=:")
        # A GET carries the digest of the empty body, covered.
        response = requests.get(base + path, auth=auth, timeout=10)
        assert response.status_code == 200, response.text
        assert response.request.headers["Content-Digest"] == EMPTY_DIGESTS[case == "sha-512"]


def test_requests_http_signature_our_default_policy_over_uvicorn(
    rhs_default_server: tuple[str, Outcome],
) -> None:
    base, seen = rhs_default_server
    response = requests.put(base + "/orders?dry=1", data=BODY, auth=rhs_auth(), timeout=10)
    assert response.status_code == 200, response.text
    assert seen.seen("hmac") == [(Verified("rfc9421", KEY_ID), BODY)]
    # Its own default coverage lacks @path and @query: our default policy says so.
    default = rhs_auth(("@method", "@authority", "@target-uri"))
    refused = requests.post(base + "/orders", data=BODY, auth=default, timeout=10)
    assert refused.status_code == 401
    assert refused.json()["code"] == "insufficient_coverage"
    assert "Accept-Signature" in refused.headers
    wrong = HTTPSignatureAuth(
        signature_algorithm=HMAC,
        key=WRONG_SECRET.encode(),
        key_id=KEY_ID,
        covered_component_ids=DEFAULT_COMPONENTS,
    )
    refused = requests.post(base + "/orders", data=BODY, auth=wrong, timeout=10)
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_signature")
    tampered = TamperingAuth(
        signature_algorithm=HMAC, key=KEY, key_id=KEY_ID, covered_component_ids=DEFAULT_COMPONENTS
    )
    refused = requests.post(base + "/orders", data=BODY, auth=tampered, timeout=10)
    assert (refused.status_code, refused.json()["code"]) == (401, "digest_mismatch")
    assert len(seen.calls) == 1


def test_requests_http_signature_digest_member_coverage_over_uvicorn(
    rhs_default_server: tuple[str, Outcome],
) -> None:
    # Its docs offer '"content-digest";key="sha-256"' (one member) instead of the field.
    base, seen = rhs_default_server
    covered = (*DEFAULT_COMPONENTS[:4], '"content-digest";key="sha-256"')
    response = requests.post(base + "/orders?dry=1", data=BODY, auth=rhs_auth(covered), timeout=10)
    assert response.status_code == 200, response.text
    assert seen.seen("hmac") == [(Verified("rfc9421", KEY_ID), BODY)]


def rhs_verifying_app(required: tuple[str, ...]) -> Any:
    """A server that verifies with requests-http-signature: 200 with what it verified, or
    401. The PreparedRequest is built by hand from the scope (``Request(...).prepare()``
    would re-quote the URL's escapes)."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = await read_body(receive)
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        query = scope["query_string"].decode("latin-1")
        prepared = requests.PreparedRequest()
        prepared.method = scope["method"]
        prepared.url = (
            f"{scope['scheme']}://{headers['host']}{scope['raw_path'].decode('latin-1')}"
            + (f"?{query}" if query else "")
        )
        prepared.headers = headers
        prepared.body = body
        try:
            result = HTTPSignatureAuth.verify(
                prepared,
                signature_algorithm=HMAC,
                key_resolver=RESOLVER,
                require_components=required,
                max_age=FRESH,
            )
        except InvalidSignature as exc:
            status, payload = 401, {"error": str(exc)}
        else:
            status = 200
            payload = {
                "label": result.label,
                "parameters": result.parameters,
                "covered": dict(result.covered_components),
                "body": None if result.body is None else result.body.hex(),
            }
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(payload).encode()})

    return app


TARGET_COMPONENTS = (*DEFAULT_COMPONENTS, "@target-uri", "@request-target")


@pytest.fixture(scope="module")
def rhs_verifier_url() -> Iterator[str]:
    with serve(rhs_verifying_app(DEFAULT_COMPONENTS[:4]), lifespan="off") as url:
        yield url


def check_rhs_answer(response: httpx.Response, covered: tuple[str, ...], body: bytes) -> None:
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["label"] == "sig1"
    assert answer["parameters"]["keyid"] == KEY_ID
    assert answer["parameters"]["alg"] == "hmac-sha256"
    names = [name for name in answer["covered"] if name != '"@signature-params"']
    assert names == [f'"{name}"' for name in covered]
    assert answer["body"] == (body.hex() if body else None)


@pytest.mark.parametrize("components", [None, TARGET_COMPONENTS], ids=["default", "target"])
def test_our_transport_passes_requests_http_signature_over_uvicorn(
    rhs_verifier_url: str, components: tuple[str, ...] | None
) -> None:
    covered = components or DEFAULT_COMPONENTS
    transport = HMACSigningTransport(
        secret_key=SECRET, key_id=KEY_ID, scheme="rfc9421", components=components
    )
    with httpx.Client(base_url=rhs_verifier_url, transport=transport) as client:
        for path in PATHS:
            check_rhs_answer(client.post(path, content=BODY), covered, BODY)
            no_digest = tuple(name for name in covered if name != "content-digest")
            check_rhs_answer(client.get(path), no_digest, b"")
    # Signed with another secret: the peer refuses it.
    wrong = HMACSigningAuth(WRONG_SECRET, scheme="rfc9421", key_id=KEY_ID)
    with httpx.Client(base_url=rhs_verifier_url, auth=wrong) as client:
        refused = client.post("/orders", content=BODY)
    assert refused.status_code == 401
    assert "did not match" in refused.json()["error"]


@pytest.mark.anyio
async def test_our_async_client_passes_requests_http_signature_over_uvicorn(
    rhs_verifier_url: str,
) -> None:
    transport = HMACSigningTransport(secret_key=SECRET, key_id=KEY_ID, scheme="rfc9421")
    async with httpx.AsyncClient(base_url=rhs_verifier_url, transport=transport) as client:
        for path in PATHS:
            check_rhs_answer(await client.put(path, content=BODY), DEFAULT_COMPONENTS, BODY)
    auth = HMACSigningAuth(SECRET, scheme="rfc9421", key_id=KEY_ID)
    async with httpx.AsyncClient(base_url=rhs_verifier_url, auth=auth) as client:
        check_rhs_answer(await client.post("/orders", content=BODY), DEFAULT_COMPONENTS, BODY)
