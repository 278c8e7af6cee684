"""RFC 9421 HTTP Message Signatures (``hmac-sha256``): the middleware, the client, the CLI.

The docs' worked example, round trips, what a signature really binds, the policy,
malformed headers, several signatures, keys, replay, ``Content-Digest``, WebSockets,
proxies and the command line. Peer vectors (RFC 9421 B.2.5 and other implementations)
are in ``test_rfc9421_vectors.py`` and ``interop/``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from _asgi import (
    Outcome,
    capturing,
    chunks,
    dated,
    drive,
    raw,
    recording_app,
    redirecting,
    scope_for,
    serve,
    who,
    who_app,
    ws_app,
    ws_scope,
)
from _signing import (
    KEY_ID,
    NOW,
    RFC_OLD_SECRET,
    RFC_OTHER_SECRET,
    RFC_SECRET,
    Signed,
    hand_signed,
    joined,
    signed,
    signed_over,
    signing_client,
)
from starlette.applications import Starlette
from starlette.routing import Mount

from hmac_asgi import (
    HMACMiddleware,
    HMACSigningAuth,
    HMACSigningTransport,
    MemoryReplayCache,
    MessageSignatureScheme,
    Verified,
)
from hmac_asgi._cli import main
from hmac_asgi._mac import MacKey
from hmac_asgi.schemes.rfc9421 import RequestMessage, signature_base

WORKED_EXAMPLE_PAGE = Path(__file__).parent.parent / "docs" / "formats" / "rfc9421.md"
ALL = '("@method" "@authority" "@path" "@query")'
WITH_DIGEST = '("@method" "@authority" "@path" "@query" "content-digest")'
PARAMS = f';created={NOW};keyid="{KEY_ID}"'
ACCEPT_DEFAULT = 'sig1=("@method" "@authority" "@path" "@query" "content-digest");alg="hmac-sha256"'


def scheme(**kwargs: Any) -> MessageSignatureScheme:
    if "key_lookup" not in kwargs:
        kwargs.setdefault("keys", {KEY_ID: RFC_SECRET})
    return MessageSignatureScheme(**kwargs)


def guard(
    app: Any = who_app,
    *,
    using: MessageSignatureScheme | None = None,
    now: float = NOW,
    **kwargs: Any,
) -> HMACMiddleware:
    """The middleware with one RFC 9421 scheme (the default policy unless ``using``)."""
    return HMACMiddleware(app, schemes=[using or scheme()], clock=lambda: now, **kwargs)


def recorded(outcome: Outcome, **kwargs: Any) -> HMACMiddleware:
    """The middleware around ``recording_app(outcome)``."""
    return guard(recording_app(outcome), **kwargs)


async def verify(
    scope: dict[str, Any], body: bytes = b"", *, size: int = 0, **kwargs: Any
) -> Outcome:
    """One request through a fresh middleware (``guard(**kwargs)``) around a recording app."""
    outcome = Outcome()
    messages = chunks(body, size or len(body) or 1)
    await drive(recorded(outcome, **kwargs), scope, messages, outcome)
    return outcome


def d256(body: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"


def d512(body: bytes) -> str:
    return f"sha-512=:{base64.b64encode(hashlib.sha512(body).digest()).decode()}:"


def check_refused(outcome: Outcome, code: str, detail: str | None = None) -> None:
    """A 401 JSON refusal with ``code``, the RFC 9421 challenge, and the app never called."""
    assert outcome.status == 401, outcome.body
    assert outcome.app_calls == 0
    assert outcome.headers[b"content-type"] == b"application/json"
    assert outcome.headers[b"www-authenticate"] == b"Signature"
    assert b"accept-signature" in outcome.headers
    assert outcome.json()["code"] == code, outcome.json()
    if detail is not None:
        assert outcome.json()["detail"] == detail


# --- the docs' worked example --------------------------------------------------------------


class WorkedExample(NamedTuple):
    method: str
    url: str
    body: bytes
    key_id: str
    secret: str
    created: int
    headers: dict[str, str]
    base: bytes


def worked_example() -> WorkedExample:
    """The RFC 9421 worked example, read from its docs page (so the test fails if it drifts)."""
    page = WORKED_EXAMPLE_PAGE.read_text("utf-8")
    section = page.split("# RFC 9421 HTTP Message Signatures", 1)[1]
    intro = re.search(
        r"## Worked example\s+Checked by `tests/test_rfc9421\.py`: `(\w+) (\S+)`,\s+"
        r"body `([^`]*)`, keyid `([^`]*)`, secret `([^`]*)`,\s+signed at (\d+):",
        section,
    )
    assert intro is not None, "the RFC 9421 worked example moved or changed shape"
    blocks = re.findall(r"```\n(.*?)\n```", section, re.S)
    headers = dict(line.split(": ", 1) for line in blocks[0].splitlines())
    method, url, body, key_id, secret, created = intro.groups()
    return WorkedExample(
        method, url, body.encode(), key_id, secret, int(created), headers, blocks[1].encode()
    )


def test_worked_example_is_what_our_signer_sends() -> None:
    """Our signer produces exactly the worked example's three headers for its request."""
    ex = worked_example()
    assert set(ex.headers) == {"Content-Digest", "Signature-Input", "Signature"}
    ours = signed(
        "rfc9421",
        ex.body,
        method=ex.method,
        url=ex.url,
        at=ex.created,
        secret=ex.secret,
        key_id=ex.key_id,
    )
    assert ours.httpx == ex.headers


def test_worked_example_signature_base() -> None:
    """The example's base is the one derived from its request, and its MAC is the Signature."""
    ex = worked_example()
    assert ex.headers["Content-Digest"] == d256(ex.body)
    member = ex.headers["Signature-Input"].removeprefix("sig1=")
    from hmac_asgi._sfv import parse_dictionary, serialize_item

    covered, _ = parse_dictionary(ex.headers["Signature-Input"])["sig1"]
    components = [(serialize_item(item), str(item[0]), item[1]) for item in covered]
    request = httpx.Request(
        ex.method, ex.url, content=ex.body, headers={"Content-Digest": d256(ex.body)}
    )
    assert signature_base(components, member, RequestMessage(request)) == ex.base
    assert ex.base.endswith(b'"@signature-params": ' + member.encode())  # no final LF
    mac = hmac.new(ex.secret.encode(), ex.base, hashlib.sha256).digest()  # the stdlib's HMAC
    assert ex.headers["Signature"] == f"sig1=:{base64.b64encode(mac).decode()}:"


@pytest.mark.anyio
@pytest.mark.parametrize(("skew", "status"), [(0, 200), (300, 200), (301, 401)])
async def test_worked_example_passes_the_middleware(skew: int, status: int) -> None:
    """The example's request is accepted at its time (and within max_age of it), not after."""
    ex = worked_example()
    mw = HMACMiddleware(
        who_app,
        schemes=[MessageSignatureScheme(keys={ex.key_id: ex.secret})],
        clock=lambda: ex.created + skew,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(mw)) as client:
        response = await client.request(ex.method, ex.url, content=ex.body, headers=ex.headers)
    assert response.status_code == status, response.text
    if status == 200:
        assert who(response)["hmac"] == ["rfc9421", ex.key_id]


# --- round trips through the client -------------------------------------------------------

BODIES = {
    "empty": b"",
    "1-byte": b"x",
    "1KiB": os.urandom(1024),
    "5MiB": os.urandom(5 * 1024 * 1024),
}


def async_client(kind: str, app: Any, **signing: Any) -> httpx.AsyncClient:
    """An AsyncClient to ``app`` signing RFC 9421 at NOW, as an Auth or a transport."""
    signing = {"scheme": "rfc9421", "key_id": KEY_ID, "clock": lambda: NOW, **signing}
    return signing_client(
        kind, app, base_url="http://orders.test", secret_key=RFC_SECRET, **signing
    )


KINDS = pytest.mark.parametrize("kind", ["auth", "transport"])


@pytest.mark.anyio
@KINDS
async def test_async_get_sends_and_needs_no_digest(kind: str) -> None:
    """A GET carries no Content-Digest, and the default policy does not ask for one."""
    seen: list[dict[str, str]] = []
    async with async_client(kind, capturing(guard(), seen)) as client:
        response = await client.get("/search", params={"q": "a b", "page": 2})
    assert who(response)["body_len"] == 0
    assert "content-digest" not in seen[0]
    assert seen[0]["signature-input"].startswith(
        'sig1=("@method" "@authority" "@path" "@query");created=1800000000;'
    )


@pytest.mark.anyio
async def test_five_mib_in_many_small_chunks() -> None:
    """The digest runs as the body streams in: 5 MiB in 64 KiB chunks, 1 KiB in 7-byte ones."""
    for body, size in ((BODIES["5MiB"], 64 * 1024), (BODIES["1KiB"], 7)):
        outcome = Outcome()
        headers = signed("rfc9421", body, url="http://orders.test/upload", at=NOW).httpx
        scope = scope_for("POST", "http://orders.test/upload", headers)
        await drive(recorded(outcome), scope, chunks(body, size), outcome)
        assert outcome.status == 200
        assert outcome.app_body == body


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A real uvicorn serving the RFC 9421 middleware (real time on both sides)."""
    mw = HMACMiddleware(who_app, schemes=[scheme()])
    with serve(mw, lifespan="off") as url:
        yield url


@KINDS
@pytest.mark.parametrize("body", [b"", b"x", BODIES["1KiB"]], ids=["empty", "1-byte", "1KiB"])
def test_sync_round_trip_over_uvicorn(server: str, kind: str, body: bytes) -> None:
    """A sync client, signing as an Auth or a transport, passes a real server."""
    signing: dict[str, Any] = {"scheme": "rfc9421", "key_id": KEY_ID}
    if kind == "auth":
        client = httpx.Client(auth=HMACSigningAuth(RFC_SECRET, **signing), base_url=server)
    else:
        transport = HMACSigningTransport(secret_key=RFC_SECRET, **signing)
        client = httpx.Client(transport=transport, base_url=server)
    with client:
        assert who(client.post("/orders?x=1", content=body))["body_len"] == len(body)
        assert who(client.get("/orders", params={"id": "7"}))["hmac"] == ["rfc9421", KEY_ID]


@pytest.mark.anyio
@KINDS
async def test_custom_components_on_both_sides(kind: str) -> None:
    """A server asking for content-type gets it from a client told to cover it; not otherwise."""
    server = guard(using=scheme(required_components=["@method", "@path", "content-type"]))
    covering = ["@method", "@path", "content-type", "content-digest"]
    async with async_client(kind, server, components=covering) as client:
        ok = await client.post("/orders", json={"sku": "A-1"})
    async with async_client(kind, server) as client:
        refused = await client.post("/orders", json={"sku": "A-1"})
    assert who(ok)["hmac"] == ["rfc9421", KEY_ID]
    assert refused.status_code == 401
    assert refused.json()["code"] == "insufficient_coverage"
    assert refused.json()["detail"] == 'Signature must cover "@method" "@path" "content-type".'


@pytest.mark.anyio
@KINDS
async def test_tag_on_both_sides(kind: str) -> None:
    """A server requiring a tag accepts a client that sends it, and refuses one that does not."""
    server = guard(using=scheme(tag="orders-app"))
    async with async_client(kind, server, tag="orders-app") as client:
        ok = await client.post("/orders", content=b"1")
    async with async_client(kind, server, tag="billing-app") as client:
        refused = await client.post("/orders", content=b"1")
    assert who(ok)["hmac"] == ["rfc9421", KEY_ID]
    assert refused.json()["code"] == "wrong_tag"
    assert refused.headers["accept-signature"].endswith(';alg="hmac-sha256";tag="orders-app"')


@pytest.mark.anyio
async def test_a_signer_sending_nonces_sends_a_fresh_one_each_time() -> None:
    """``MessageSigner(nonce=True)`` meets ``require_nonce=True``, never with the same nonce:
    16 random bytes, unpadded URL-safe base64."""
    requests = [signed("rfc9421", method="GET", at=NOW, nonce=True) for _ in range(2)]
    nonces = [re.findall(r';nonce="([\w-]{22})"', r.httpx["Signature-Input"]) for r in requests]
    assert len(nonces[0]) == len(nonces[1]) == 1 and nonces[0] != nonces[1]
    for request in requests:
        assert (await verify(request.scope(), using=scheme(require_nonce=True))).status == 200


@pytest.mark.anyio
@pytest.mark.parametrize("status", [307, 308, 303])
async def test_transport_signs_each_redirect_hop(status: int) -> None:
    """Every hop is signed for its own method and path (RFC 9421 binds them)."""
    seen: list[dict[str, str]] = []
    app = HMACMiddleware(
        redirecting(capturing(who_app, seen)),
        schemes=[scheme()],
        replay_cache=MemoryReplayCache(clock=lambda: NOW),
        clock=lambda: NOW,
    )
    async with async_client("transport", app) as client:
        response = await client.post(f"/redirect/{status}", content=b"kept", follow_redirects=True)
    assert who(response)["body_len"] == (0 if status == 303 else 4)
    assert [r.status_code for r in response.history] == [status]


@pytest.mark.anyio
@KINDS
@pytest.mark.parametrize("skew", [-1000, 1000], ids=["behind", "ahead"])
async def test_a_skewed_client_clock_is_corrected_from_date(kind: str, skew: int) -> None:
    """A 401 for the clock with a Date far from ours: re-signed once with the server's time."""
    calls: list[dict[str, str]] = []
    app = dated(guard(capturing(who_app, calls)), lambda: NOW)
    async with async_client(kind, app, clock=lambda: NOW + skew) as client:
        response = await client.post("/orders", content=b"late")
    assert who(response)["body_len"] == 4
    assert len(calls) == 1  # only the re-signed request reached the app


# --- what a signature binds ---------------------------------------------------------------

SIGNED_URL = "https://orders.example/orders?dry=1&page=2"
SIGNED_BODY = b'{"sku": "A-1", "qty": 2}'
SIGNED_HEADERS = {"Content-Type": "application/json", "X-Trace": "t-1"}


def signed_covering(components: list[str]) -> Signed:
    """The POST of SIGNED_BODY to SIGNED_URL with SIGNED_HEADERS, covering ``components``."""
    return signed(
        "rfc9421",
        SIGNED_BODY,
        url=SIGNED_URL,
        at=NOW,
        headers=SIGNED_HEADERS,
        components=components,
    )


def set_host(value: bytes) -> Callable[[dict[str, Any]], None]:
    def edit(scope: dict[str, Any]) -> None:
        scope["headers"] = [(k, value if k == b"host" else v) for k, v in scope["headers"]]

    return edit


def set_header(name: bytes, value: bytes) -> Callable[[dict[str, Any]], None]:
    def edit(scope: dict[str, Any]) -> None:
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k != name] + [(name, value)]

    return edit


def set_path(raw_path: bytes, path: str) -> Callable[[dict[str, Any]], None]:
    return lambda scope: scope.update(raw_path=raw_path, path=path)


def keep(scope: dict[str, Any]) -> None:
    return None


# name, edit of the server's scope, body sent, expected code (None: 200)
TAMPERING: list[tuple[str, Callable[[dict[str, Any]], None], bytes, str | None]] = [
    ("untouched", keep, SIGNED_BODY, None),
    ("method", lambda s: s.update(method="PUT"), SIGNED_BODY, "invalid_signature"),
    ("path", set_path(b"/orders/1", "/orders/1"), SIGNED_BODY, "invalid_signature"),
    ("path-trailing-slash", set_path(b"/orders/", "/orders/"), SIGNED_BODY, "invalid_signature"),
    (
        "query-value",
        lambda s: s.update(query_string=b"dry=0&page=2"),
        SIGNED_BODY,
        "invalid_signature",
    ),
    (
        "query-order",
        lambda s: s.update(query_string=b"page=2&dry=1"),
        SIGNED_BODY,
        "invalid_signature",
    ),
    ("query-dropped", lambda s: s.update(query_string=b""), SIGNED_BODY, "invalid_signature"),
    (
        "query-extended",
        lambda s: s.update(query_string=b"dry=1&page=2&x"),
        SIGNED_BODY,
        "invalid_signature",
    ),
    ("host", set_host(b"billing.example"), SIGNED_BODY, "invalid_signature"),
    ("host-other-port", set_host(b"orders.example:8443"), SIGNED_BODY, "invalid_signature"),
    (
        "host-443-over-http",  # not the default port for http: part of the authority
        lambda s: (s.update(scheme="http"), set_host(b"orders.example:443")(s)),
        SIGNED_BODY,
        "invalid_signature",
    ),
    ("host-case", set_host(b"Orders.EXAMPLE"), SIGNED_BODY, None),
    ("host-default-port", set_host(b"Orders.Example:443"), SIGNED_BODY, None),
    ("body-changed", keep, SIGNED_BODY.replace(b"2", b"3"), "digest_mismatch"),
    ("body-truncated", keep, SIGNED_BODY[:-1], "digest_mismatch"),
    ("body-dropped", keep, b"", "digest_mismatch"),
    (
        "body-and-digest-changed",  # the digest is signed: recomputing it does not help
        set_header(b"content-digest", d256(b"{}").encode()),
        b"{}",
        "invalid_signature",
    ),
    (
        "covered-header",
        set_header(b"content-type", b"text/plain"),
        SIGNED_BODY,
        "invalid_signature",
    ),
    (
        "covered-header-dropped",
        lambda s: s.update(headers=[h for h in s["headers"] if h[0] != b"content-type"]),
        SIGNED_BODY,
        "unsupported_component",
    ),
    ("uncovered-header-changed", set_header(b"x-trace", b"t-2"), SIGNED_BODY, None),
    ("uncovered-header-added", set_header(b"x-forwarded-for", b"10.0.0.1"), SIGNED_BODY, None),
    ("scheme-not-covered-by-default", lambda s: s.update(scheme="http"), SIGNED_BODY, None),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "edit", "body", "code"), TAMPERING, ids=[case[0] for case in TAMPERING]
)
async def test_what_the_signature_binds(
    name: str, edit: Callable[[dict[str, Any]], None], body: bytes, code: str | None
) -> None:
    """Method, path, query, authority, body and covered headers are bound; nothing else is."""
    components = ["@method", "@authority", "@path", "@query", "content-type", "content-digest"]
    scope = signed_covering(components).scope()
    edit(scope)
    outcome = await verify(scope, body)
    if code is None:
        assert outcome.status == 200, outcome.body
    else:
        assert outcome.status == 401
        assert outcome.json()["code"] == code


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "sent", "status"),
    [
        ("/a%2Fb", b"/a/b", 401),
        ("/a/b", b"/a%2Fb", 401),
        ("/caf%C3%A9", b"/caf%c3%a9", 401),
        ("/a%20b", b"/a+b", 401),
        ("/a%2Fb", b"/a%2Fb", 200),
        ("/caf%C3%A9", b"/caf%C3%A9", 200),
    ],
)
async def test_path_is_signed_as_sent_never_decoded(path: str, sent: bytes, status: int) -> None:
    """Only the percent-encoding differs, and the path decodes the same: still refused."""
    scope = signed("rfc9421", method="GET", url=f"http://orders.test{path}", at=NOW).scope()
    scope["raw_path"] = sent
    outcome = await verify(scope)
    assert outcome.status == status


def mounted(scope: dict[str, Any], path: str) -> None:
    """Without ``raw_path``, mounted at /api, with ``path`` as the server gives it."""
    del scope["raw_path"]
    scope["root_path"], scope["path"] = "/api", path


def without_host(scope: dict[str, Any]) -> None:
    scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"host"]


# name -> (URL signed, edit of the server's scope): keys an ASGI server may leave out
OPTIONAL_KEYS: dict[str, tuple[str, Callable[[dict[str, Any]], None]]] = {
    # The path re-encoded: a space as %20, what a path may hold as it is (":@,") kept.
    "no-raw_path": ("http://orders.test/a%20b/c:d@e,f", lambda s: s.pop("raw_path")),
    # Mounted at /api: path holds root_path (the ASGI spec as servers read it today), or
    # not (older servers); the URL signed is the whole path either way.
    "no-raw_path-mounted": ("http://orders.test/api/a%20b", lambda s: mounted(s, "/api/a b")),
    "no-raw_path-mounted-older": ("http://orders.test/api/a%20b", lambda s: mounted(s, "/a b")),
    "no-host": ("http://127.0.0.1:8000/orders", without_host),  # the server's address
    "no-scheme": ("http://orders.test/orders", lambda s: s.pop("scheme")),  # "http"
}


@pytest.mark.anyio
@pytest.mark.parametrize(("url", "edit"), OPTIONAL_KEYS.values(), ids=OPTIONAL_KEYS)
async def test_a_scope_without_optional_keys_is_read_as_asgi_says(
    url: str, edit: Callable[[dict[str, Any]], None]
) -> None:
    """ASGI's defaults: the path re-encoded from ``path``, the server's address without a
    Host (HTTP/1.0), ``http`` without a scheme."""
    components = ["@method", "@authority", "@path", "@query", "@scheme"]
    scope = signed("rfc9421", method="GET", url=url, at=NOW, components=components).scope()
    edit(scope)
    assert scope["server"] == ("127.0.0.1", 8000)
    outcome = await verify(scope)
    assert outcome.status == 200, outcome.body


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["auth", "transport"])
async def test_the_signer_signs_the_host_it_sends(kind: str) -> None:
    """Calling by address with a Host header: ``@authority`` is that Host, as the server sees."""
    signing = {
        "secret_key": RFC_SECRET,
        "key_id": KEY_ID,
        "scheme": "rfc9421",
        "clock": lambda: NOW,
    }
    base_url = "http://127.0.0.1:8000"
    async with signing_client(kind, guard(), base_url=base_url, **signing) as client:
        response = await client.get("/orders", headers={"Host": "orders.example"})
    assert who(response)["hmac"] == ["rfc9421", KEY_ID]


@pytest.mark.anyio
async def test_a_field_value_loses_its_outer_spaces_and_tabs_only() -> None:
    """RFC 9421 section 2.1: leading and trailing whitespace is dropped, nothing else;
    checked against a signature base written out here."""
    member = f'("x-note");created={NOW};keyid="{KEY_ID}"'
    headers = signed_over(['"x-note": X marks X'], member)
    scope = scope_for(
        "GET", "http://orders.test/", [(b"x-note", b" \tX marks X \t"), *raw(headers)]
    )
    outcome = await verify(scope, using=scheme(required_components=["x-note"]))
    assert outcome.status == 200, outcome.body


@pytest.mark.anyio
async def test_a_binary_wrapped_value_loses_its_outer_spaces_and_tabs_only() -> None:
    """``;bs`` wraps the bytes of each line once spaces and tabs are trimmed: a trailing
    obs-text byte such as 0xA0 (a no-break space in latin-1) is part of the value."""
    value = b"caf\xe9\xa0"
    member = f'("x-name";bs);created={NOW};keyid="{KEY_ID}"'
    headers = signed_over([f'"x-name";bs: :{base64.b64encode(value).decode()}:'], member)
    line = (b"x-name", b" \t" + value + b" \t")
    scope = scope_for("GET", "http://orders.test/", [line, *raw(headers)])
    outcome = await verify(scope, using=scheme(required_components=['"x-name";bs']))
    assert outcome.status == 200, outcome.body


# component, edit of the server's scope (None: none), expected code after the edit
DEFAULT = ["@method", "@authority", "@path", "@query", "content-digest"]
COMPONENTS: list[tuple[str, Callable[[dict[str, Any]], None] | None, str | None]] = [
    ('"@scheme"', lambda s: s.update(scheme="http"), "invalid_signature"),
    ('"@target-uri"', lambda s: s.update(scheme="http"), "invalid_signature"),
    ('"@request-target"', None, None),
    (
        '"@query-param";name="page"',
        lambda s: s.update(query_string=b"dry=1&page=3"),
        "invalid_signature",
    ),
    (
        '"@query-param";name="dry"',
        lambda s: s.update(query_string=b"dry=1&dry=1&page=2"),
        "unsupported_component",
    ),
    ('"content-type"', set_header(b"content-type", b"text/plain"), "invalid_signature"),
    ('"x-trace";bs', set_header(b"x-trace", b"t-2"), "invalid_signature"),
    (
        '"content-digest";sf',
        set_header(b"content-digest", d512(SIGNED_BODY).encode()),
        "invalid_signature",
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("component", "edit", "code"), COMPONENTS, ids=[case[0] for case in COMPONENTS]
)
async def test_every_supported_component_round_trips(
    component: str, edit: Callable[[dict[str, Any]], None] | None, code: str | None
) -> None:
    """Each derived component and field parameter we support signs, verifies, and binds."""
    request = signed_covering([*DEFAULT, component])
    assert component in request.httpx["Signature-Input"]
    scope = request.scope()
    assert (await verify(scope, SIGNED_BODY)).status == 200
    if edit is not None:
        edit(scope)
        outcome = await verify(scope, SIGNED_BODY)
        assert (outcome.status, outcome.json()["code"]) == (401, code)


@pytest.mark.anyio
async def test_a_field_sent_on_several_lines_is_one_value() -> None:
    """A covered field's lines are joined with ", ", as the signer saw them combined."""
    url = "http://orders.test/orders"
    headers = signed(
        "rfc9421",
        method="GET",
        url=url,
        at=NOW,
        headers={"Accept": "text/plain, application/json"},
        components=[*DEFAULT, "accept"],
    )
    lines = [(b"accept", b"text/plain"), (b"accept", b"application/json"), *headers.raw]
    assert (await verify(scope_for("GET", url, lines))).status == 200
    swapped = [(b"accept", b"application/json"), (b"accept", b"text/plain"), *headers.raw]
    assert (await verify(scope_for("GET", url, swapped))).status == 401


# --- the policy ---------------------------------------------------------------------------


class Case(NamedTuple):
    name: str
    member: str  # the Signature-Input member, signed correctly by hand
    code: str | None  # None: accepted
    detail: str | None = None
    policy: dict[str, Any] = {}  # noqa: RUF012 - a NamedTuple default, never mutated


def lacks(name: str) -> str:
    return f"Signature-Input lacks a valid {name} parameter."


POLICY = [
    Case("covers-the-default", ALL + PARAMS, None),
    Case("with-alg", ALL + PARAMS + ';alg="hmac-sha256"', None),
    Case("lacks-query", '("@method" "@authority" "@path")' + PARAMS, "insufficient_coverage"),
    Case("lacks-authority", '("@method" "@path" "@query")' + PARAMS, "insufficient_coverage"),
    Case("created-missing", ALL + f';keyid="{KEY_ID}"', "missing_parameter", lacks("created")),
    Case(
        "created-decimal",
        ALL + f';created={NOW}.0;keyid="{KEY_ID}"',
        "missing_parameter",
        lacks("created"),
    ),
    Case(
        "created-string",
        ALL + f';created="{NOW}";keyid="{KEY_ID}"',
        "missing_parameter",
        lacks("created"),
    ),
    Case(
        "created-boolean",
        ALL + f';created=?1;keyid="{KEY_ID}"',
        "missing_parameter",
        lacks("created"),
    ),
    Case(
        "created-negative",
        ALL + f';created=-1;keyid="{KEY_ID}"',
        "missing_parameter",
        lacks("created"),
    ),
    Case("keyid-missing", ALL + f";created={NOW}", "missing_parameter", lacks("keyid")),
    Case(
        "keyid-token", ALL + f";created={NOW};keyid={KEY_ID}", "missing_parameter", lacks("keyid")
    ),
    Case("keyid-empty", ALL + f';created={NOW};keyid=""', "missing_parameter", lacks("keyid")),
    Case("keyid-integer", ALL + f";created={NOW};keyid=1", "missing_parameter", lacks("keyid")),
    Case(
        "alg-rsa-pss",
        ALL + PARAMS + ';alg="rsa-pss-sha512"',
        "unsupported_algorithm",
        "Signature algorithm is not hmac-sha256.",
    ),
    Case("alg-ed25519", ALL + PARAMS + ';alg="ed25519"', "unsupported_algorithm"),
    Case("expires-passed", ALL + PARAMS + f";expires={NOW - 1}", "expired", "Token is expired."),
    Case("expires-now", ALL + PARAMS + f";expires={NOW}", None),
    Case("expires-later", ALL + PARAMS + f";expires={NOW + 60}", None),
    Case(
        "expires-decimal",
        ALL + PARAMS + f";expires={NOW}.5",
        "malformed_header",
        "Malformed Signature-Input header.",
    ),
    Case(
        "created-too-old",
        ALL + f';created={NOW - 301};keyid="{KEY_ID}"',
        "expired",
        "Token is expired.",
    ),
    Case("created-oldest-accepted", ALL + f';created={NOW - 300};keyid="{KEY_ID}"', None),
    Case(
        "created-too-far-ahead",
        ALL + f';created={NOW + 301};keyid="{KEY_ID}"',
        "future_timestamp",
        "Request timestamp is too far in the future.",
    ),
    Case("created-furthest-accepted", ALL + f';created={NOW + 300};keyid="{KEY_ID}"', None),
    Case("nonce-optional", ALL + PARAMS + ';nonce="n-1"', None),
    Case("nonce-a-token", ALL + PARAMS + ";nonce=n-1", "missing_parameter", lacks("nonce")),
    Case(
        "nonce-required-missing",
        ALL + PARAMS,
        "missing_parameter",
        lacks("nonce"),
        {"require_nonce": True},
    ),
    Case(
        "nonce-required-empty",
        ALL + PARAMS + ';nonce=""',
        "missing_parameter",
        lacks("nonce"),
        {"require_nonce": True},
    ),
    Case(
        "nonce-required-given", ALL + PARAMS + ';nonce="n-1"', None, None, {"require_nonce": True}
    ),
    Case(
        "tag-required-missing",
        ALL + PARAMS,
        "wrong_tag",
        "No signature has the tag this server requires (orders-app).",
        {"tag": "orders-app"},
    ),
    Case(
        "tag-required-other",
        ALL + PARAMS + ';tag="billing-app"',
        "wrong_tag",
        None,
        {"tag": "orders-app"},
    ),
    Case(
        "tag-required-given", ALL + PARAMS + ';tag="orders-app"', None, None, {"tag": "orders-app"}
    ),
    Case("tag-not-required", ALL + PARAMS + ';tag="anything"', None),
    Case(
        "query-param-required",
        '("@method" "@query-param";name="id")' + PARAMS,
        None,
        None,
        {"required_components": ["@method", '"@query-param";name="id"']},
    ),
    Case(
        "query-param-not-covered",
        ALL + PARAMS,
        "insufficient_coverage",
        'Signature must cover "@method" "@query-param";name="id".',
        {"required_components": ["@method", '"@query-param";name="id"']},
    ),
    Case(
        "query-param-other-name",
        '("@method" "@query-param";name="page")' + PARAMS,
        "insufficient_coverage",
        None,
        {"required_components": ["@method", '"@query-param";name="id"']},
    ),
    Case("nothing-required", "()" + PARAMS, None, None, {"required_components": []}),
]


@pytest.mark.anyio
@pytest.mark.parametrize("case", POLICY, ids=[case.name for case in POLICY])
async def test_policy(case: Case) -> None:
    """Each policy rule refuses with its own code (a correct MAC changes nothing)."""
    url = "http://orders.test/orders?id=7&page=2"
    sig = hand_signed(case.member, url=url)
    outcome = await verify(scope_for("GET", url, sig), using=scheme(**case.policy))
    if case.code is None:
        assert outcome.status == 200, outcome.body
        assert outcome.app_calls == 1
    else:
        check_refused(outcome, case.code, case.detail)


@pytest.mark.anyio
async def test_insufficient_coverage_says_what_is_required() -> None:
    """The refusal names the components, and Accept-Signature asks for them with the alg."""
    url = "http://orders.test/orders"
    sig = hand_signed('("@method" "@path")' + PARAMS, url=url)
    outcome = await verify(scope_for("GET", url, sig))
    check_refused(
        outcome,
        "insufficient_coverage",
        'Signature must cover "@method" "@authority" "@path" "@query" "content-digest".',
    )
    assert outcome.headers[b"accept-signature"].decode() == ACCEPT_DEFAULT


@pytest.mark.anyio
async def test_accept_signature_names_the_custom_policy_and_tag() -> None:
    """A custom policy's Accept-Signature lists its own components and tag."""
    policy = scheme(required_components=["@method", '"@query-param";name="id"'], tag="t1")
    outcome = await verify(scope_for("GET", "http://o.test/", {}), using=policy)
    check_refused(outcome, "missing_header")
    assert outcome.headers[b"accept-signature"] == (
        b'sig1=("@method" "@query-param";name="id");alg="hmac-sha256";tag="t1"'
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("components", "code"),
    [
        (["@method", "@authority", "@path", "@query"], "unsigned_body"),
        (["@method", "@authority", "@path", "@query", "content-digest"], None),
    ],
    ids=["digest-not-covered", "digest-covered"],
)
async def test_a_body_needs_a_covered_digest(components: list[str], code: str | None) -> None:
    """By default a body whose Content-Digest is not covered is refused, after the MAC checks."""
    url = "http://orders.test/orders"
    headers = signed("rfc9421", b"body", url=url, at=NOW, components=components).httpx
    outcome = await verify(scope_for("POST", url, headers), b"body")
    if code is None:
        assert outcome.status == 200
    else:
        check_refused(
            outcome, code, "Request has a body, but its signature does not cover content-digest."
        )


@pytest.mark.anyio
async def test_unsigned_body_is_allowed_when_the_policy_does_not_ask() -> None:
    """A policy without content-digest accepts a body the signature does not bind."""
    url = "http://orders.test/orders"
    policy = scheme(required_components=["@method", "@path"])
    headers = signed("rfc9421", b"body", url=url, at=NOW, components=["@method", "@path"]).httpx
    outcome = await verify(scope_for("POST", url, headers), b"xx", using=policy)
    assert outcome.status == 200
    assert outcome.app_body == b"xx"


# --- malformed headers --------------------------------------------------------------------

ZERO = base64.b64encode(bytes(32)).decode()
MALFORMED_URL = "http://orders.test/orders?id=7"


def malformed(member: str, signature: str = f"sig1=:{ZERO}:") -> dict[str, str]:
    return {"Signature-Input": member, "Signature": signature}


INPUT_DETAIL = "Malformed Signature-Input header."
SIGNATURE_DETAIL = "Malformed Signature header."


def covering(extra: str) -> dict[str, str]:
    """The default coverage and one more component, ``extra``, as written."""
    return malformed(f'sig1=("@method" "@authority" "@path" "@query" {extra})' + PARAMS)


# name, signature headers, code, detail
MALFORMED: list[tuple[str, dict[str, str], str, str | None]] = [
    (
        "no-signature-input",
        {"Signature": f"sig1=:{ZERO}:"},
        "missing_header",
        "Missing Signature-Input header.",
    ),
    (
        "no-signature",
        {"Signature-Input": "sig1=" + ALL + PARAMS},
        "missing_header",
        "Missing Signature header.",
    ),
    *(
        (name, malformed(*headers), "malformed_header", INPUT_DETAIL)
        for name, headers in [
            ("input-not-structured", ['sig1=("@method" "@path"']),
            ("input-empty", [""]),
            ("input-uppercase-label", ["Sig1=" + ALL + PARAMS, f"Sig1=:{ZERO}:"]),
            ("input-not-an-inner-list", ['sig1="@method"' + PARAMS]),
            ("input-non-ascii", ["sig1=" + ALL + PARAMS + ';tag="caf\xe9"']),
        ]
    ),
    *(
        (name, malformed("sig1=" + ALL + PARAMS, signature), "malformed_header", SIGNATURE_DETAIL)
        for name, signature in [
            ("signature-not-structured", "sig1=:not base64!:"),
            ("labels-differ", f"sig2=:{ZERO}:"),
            ("signature-a-string", 'sig1="abc"'),
            ("signature-a-token", "sig1=abc"),
            ("signature-an-inner-list", f"sig1=(:{ZERO}:)"),
        ]
    ),
    *(
        (name, covering(extra), code, INPUT_DETAIL if code == "malformed_header" else None)
        for name, extra, code in [
            ("component-a-token", "x-trace", "malformed_header"),
            ("component-an-integer", "1", "malformed_header"),
            ("component-twice", '"@path"', "malformed_header"),
            ("field-with-a-line-feed", '"x-split"', "unsupported_component"),
            ("unknown-derived", '"@fragment"', "unsupported_component"),
            ("status-on-a-request", '"@status"', "unsupported_component"),
            ("derived-with-req", '"@scheme";req', "unsupported_component"),
            ("field-with-req", '"x-trace";req', "unsupported_component"),
            ("field-with-tr", '"x-trace";tr', "unsupported_component"),
            ("field-bs-and-sf", '"x-trace";bs;sf', "unsupported_component"),
            ("field-sf-unknown-type", '"x-trace";sf', "unsupported_component"),
            ("field-absent", '"x-missing"', "unsupported_component"),
            ("field-non-ascii", '"x-name"', "unsupported_component"),
            ("query-param-without-name", '"@query-param"', "unsupported_component"),
            ("query-param-absent", '"@query-param";name="nope"', "unsupported_component"),
            ("digest-covered-but-absent", '"content-digest"', "unsupported_component"),
        ]
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "headers", "code", "detail"), MALFORMED, ids=[case[0] for case in MALFORMED]
)
async def test_malformed_signature_headers(
    name: str, headers: dict[str, str], code: str, detail: str | None
) -> None:
    """Each malformed request is a 401 with its code: never a 500, never the app."""
    extra = [
        (b"x-trace", b"t-1"),
        (b"x-name", "caf\xe9".encode("latin-1")),
        (b"x-split", b"a\nb"),  # a line feed would add a line to the signature base
    ]
    scope = scope_for("GET", MALFORMED_URL, [*extra, *raw(headers)])
    check_refused(await verify(scope), code, detail)


@pytest.mark.anyio
async def test_signature_headers_split_over_several_lines_are_one_field() -> None:
    """Two Signature-Input lines (and two Signature lines) are one dictionary each."""
    url = "http://orders.test/orders"
    unknown = signed("rfc9421", method="GET", url=url, at=NOW, key_id="nobody", label="sig0").httpx
    good = signed("rfc9421", method="GET", url=url, at=NOW).httpx
    lines = [
        (b"signature-input", unknown["Signature-Input"].encode()),
        (b"signature-input", good["Signature-Input"].encode()),
        (b"signature", unknown["Signature"].encode()),
        (b"signature", good["Signature"].encode()),
    ]
    outcome = await verify(scope_for("GET", url, lines))
    assert outcome.status == 200


# --- several signatures -------------------------------------------------------------------

SEVERAL_URL = "http://orders.test/orders?id=7"


def labelled(label: str, member: str = ALL + PARAMS, secret: str = RFC_SECRET) -> dict[str, str]:
    return hand_signed(member, url=SEVERAL_URL, secret=secret, label=label)


GOOD = ("good", ALL + PARAMS, RFC_SECRET)
UNKNOWN = ("unknown-keyid", ALL + f';created={NOW};keyid="nobody"', RFC_OTHER_SECRET)
BAD_MAC = ("bad-mac", ALL + PARAMS, RFC_OTHER_SECRET)
NO_QUERY = ("lacks-query", '("@method" "@authority" "@path")' + PARAMS, RFC_SECRET)
BAD_ALG = ("bad-alg", ALL + PARAMS + ';alg="rsa-pss-sha512"', RFC_SECRET)
STALE = ("stale", ALL + f';created={NOW - 400};keyid="{KEY_ID}"', RFC_SECRET)

# the signatures in order, the expected code (None: 200)
SEVERAL: list[tuple[list[tuple[str, str, str]], str | None]] = [
    ([GOOD, UNKNOWN], None),
    ([UNKNOWN, GOOD], None),  # an unknown keyid does not decide while a known one follows
    ([NO_QUERY, GOOD], None),  # nor does one that misses the policy
    ([BAD_ALG, UNKNOWN, GOOD], None),
    ([UNKNOWN, UNKNOWN], "invalid_signature"),
    ([BAD_MAC, GOOD], "invalid_signature"),  # the first that qualifies decides
    ([STALE, GOOD], "expired"),
    ([BAD_ALG, NO_QUERY], "unsupported_algorithm"),  # two bad: the first's refusal
    ([NO_QUERY, BAD_ALG], "insufficient_coverage"),
    ([NO_QUERY, UNKNOWN], "invalid_signature"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("signatures", "code"),
    SEVERAL,
    ids=["+".join(name for name, *_ in sigs) for sigs, _ in SEVERAL],
)
async def test_several_signatures(signatures: list[tuple[str, str, str]], code: str | None) -> None:
    """The first signature that meets the policy and has a known keyid decides."""
    sigs = [labelled(f"s{i}", member, secret) for i, (_, member, secret) in enumerate(signatures)]
    outcome = await verify(scope_for("GET", SEVERAL_URL, joined(*sigs)))
    if code is None:
        assert outcome.status == 200, outcome.body
        assert outcome.app_scope is not None
        assert outcome.app_scope["state"]["hmac"] == Verified("rfc9421", KEY_ID)
    else:
        check_refused(outcome, code)


@pytest.mark.anyio
async def test_with_a_lookup_the_first_signature_meeting_the_policy_decides() -> None:
    """A lookup cannot tell unknown keyids in advance: an unknown one first is refused."""

    async def lookup(key_id: str) -> str | None:
        return RFC_SECRET if key_id == KEY_ID else None

    sigs = [
        labelled(f"s{i}", member, secret) for i, (_, member, secret) in enumerate([UNKNOWN, GOOD])
    ]
    using = scheme(key_lookup=lookup)
    outcome = await verify(scope_for("GET", SEVERAL_URL, joined(*sigs)), using=using)
    check_refused(outcome, "invalid_signature")
    outcome = await verify(
        scope_for("GET", SEVERAL_URL, joined(labelled("a", *GOOD[1:]))), using=using
    )
    assert outcome.status == 200


# --- keys ---------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("secret", "status"),
    [(RFC_SECRET, 200), (RFC_OLD_SECRET, 200), (RFC_OTHER_SECRET, 401)],
    ids=["current", "retiring", "other"],
)
async def test_rotation_two_secrets_per_keyid(secret: str, status: int) -> None:
    """While a keyid has two secrets, either one signs."""
    using = scheme(keys={KEY_ID: [RFC_SECRET, RFC_OLD_SECRET]})
    url = "http://orders.test/orders"
    headers = signed("rfc9421", b"x", url=url, at=NOW, secret=secret).httpx
    outcome = await verify(scope_for("POST", url, headers), b"x", using=using)
    assert outcome.status == status


@pytest.mark.anyio
async def test_unknown_keyid_is_answered_and_costs_like_a_bad_signature(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Same response and as many MACs for an unknown keyid as for a wrong secret."""
    using = scheme(keys={KEY_ID: [RFC_SECRET, RFC_OLD_SECRET], "billing": RFC_OLD_SECRET})
    url = "http://orders.test/orders"
    requests = {
        "wrong-secret": signed("rfc9421", b"x", url=url, at=NOW, secret=RFC_OTHER_SECRET).httpx,
        "unknown-keyid": signed("rfc9421", b"x", url=url, at=NOW, key_id="nobody").httpx,
        "other-keyid-wrong-secret": signed(
            "rfc9421", b"x", url=url, at=NOW, key_id="billing"
        ).httpx,
    }
    calls = 0
    real = MacKey.mac

    def counted(self: MacKey, message: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return real(self, message)

    monkeypatch.setattr(MacKey, "mac", counted)
    answers = {}
    for name, headers in requests.items():
        calls = 0
        outcome = await verify(scope_for("POST", url, headers), b"x", using=using)
        answers[name] = (outcome.status, outcome.headers, outcome.body, calls)
    assert len(set(map(repr, answers.values()))) == 1, answers
    assert answers["unknown-keyid"][3] == 2  # the widest rotation: every keyid costs two


LOOKUP_ANSWERS: dict[str, Any] = {
    "str": RFC_SECRET,
    "bytes": RFC_SECRET.encode(),
    "list": [RFC_OLD_SECRET, RFC_SECRET],
    "none": None,
    "empty-list": [],
    "empty-str": "",
    "int": 5,
}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        ("str", 200, None),
        ("bytes", 200, None),
        ("list", 200, None),
        ("none", 401, "invalid_signature"),
        ("empty-list", 401, "invalid_signature"),
        ("empty-str", 401, "invalid_signature"),
        ("int", 503, "unavailable"),
        ("raises", 503, "unavailable"),
    ],
)
async def test_key_lookup_answers(answer: str, status: int, code: str | None) -> None:
    """An async lookup: a secret or several sign, nothing means unknown, failure is 503."""
    asked: list[str] = []

    async def lookup(key_id: str) -> Any:
        asked.append(key_id)
        if answer == "raises":
            raise ConnectionError("the key store is down")
        return LOOKUP_ANSWERS[answer]

    url = "http://orders.test/orders"
    headers = signed("rfc9421", b"x", url=url, at=NOW).httpx
    outcome = await verify(scope_for("POST", url, headers), b"x", using=scheme(key_lookup=lookup))
    assert asked == [KEY_ID]
    assert outcome.status == status
    if code is not None:
        assert outcome.json()["code"] == code
    if status == 503:
        assert outcome.json()["detail"] == (
            "Authentication is temporarily unavailable (key lookup)."
        )
        assert b"accept-signature" not in outcome.headers


@pytest.mark.anyio
@pytest.mark.parametrize(("ttl", "pause", "lookups"), [(0.0, 0, 3), (60.0, 0, 1), (0.05, 0.1, 3)])
async def test_key_lookup_ttl_caches_answers(ttl: float, pause: float, lookups: int) -> None:
    """With a TTL the store is asked once per keyid per TTL, unknown keyids included."""
    asked: list[str] = []

    async def lookup(key_id: str) -> str | None:
        asked.append(key_id)
        return RFC_SECRET if key_id == KEY_ID else None

    mw = guard(using=scheme(key_lookup=lookup, key_lookup_ttl=ttl))
    url = "http://orders.test/orders"
    for key_id in ("nobody", KEY_ID):
        asked.clear()
        for _ in range(3):
            request = signed("rfc9421", method="GET", url=url, at=NOW, key_id=key_id)
            outcome = await drive(mw, request.scope(), chunks(b"", 1))
            assert outcome.status == (200 if key_id == KEY_ID else 401)
            time.sleep(pause)
        assert asked == [key_id] * lookups


# --- replay -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_replay_refused_and_a_resigned_request_passes() -> None:
    """With a replay cache a signed request is good once; signed again later it is new."""
    clock = {"now": float(NOW)}
    mw = HMACMiddleware(
        who_app,
        schemes=[scheme()],
        replay_cache=MemoryReplayCache(clock=lambda: clock["now"]),
        clock=lambda: clock["now"],
    )
    url = "http://orders.test/orders"
    first = signed("rfc9421", b"pay", url=url, at=NOW).httpx
    relabelled = {k: v.replace("sig1=", "again=") for k, v in first.items()}
    answers = []
    for headers, at in ((first, NOW), (first, NOW + 1), (relabelled, NOW + 1)):
        clock["now"] = at
        outcome = await drive(mw, scope_for("POST", url, headers), chunks(b"pay", 3))
        answers.append((outcome.status, outcome.json()["code"] if outcome.status != 200 else None))
    resigned = signed("rfc9421", b"pay", url=url, at=NOW + 1).httpx
    outcome = await drive(mw, scope_for("POST", url, resigned), chunks(b"pay", 3))
    assert answers == [(200, None), (401, "replayed"), (401, "replayed")]
    assert outcome.status == 200


# --- Content-Digest -----------------------------------------------------------------------

BODY = b'{"sku": "A-1"}'

# name, Content-Digest sent, body sent, expected code (None: 200)
DIGESTS: list[tuple[str, str, bytes, str | None]] = [
    ("sha-256", d256(BODY), BODY, None),
    ("sha-512", d512(BODY), BODY, None),
    ("sha-512-body-changed", d512(BODY), BODY + b" ", "digest_mismatch"),
    ("both-right", f"{d256(BODY)}, {d512(BODY)}", BODY, None),
    ("sha-512-wrong", f"{d256(BODY)}, {d512(b'other')}", BODY, "digest_mismatch"),
    ("sha-256-wrong", f"{d256(b'other')}, {d512(BODY)}", BODY, "digest_mismatch"),
    (
        "unknown-only",
        f"md5=:{base64.b64encode(hashlib.md5(BODY).digest()).decode()}:",  # noqa: S324
        BODY,
        "malformed_header",
    ),
    ("unknown-and-right", f"unixsum=:AAAA:, {d256(BODY)}", BODY, None),
    ("unknown-and-wrong", f"unixsum=:AAAA:, {d256(b'other')}", BODY, "digest_mismatch"),
    ("not-a-byte-sequence", 'sha-256="abc"', BODY, "malformed_header"),
    ("not-structured", "sha-256=abc==", BODY, "malformed_header"),
    (
        "truncated-digest",
        f"sha-256=:{base64.b64encode(hashlib.sha256(BODY).digest()[:16]).decode()}:",
        BODY,
        "digest_mismatch",
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "digest", "body", "code"), DIGESTS, ids=[case[0] for case in DIGESTS]
)
async def test_content_digest(name: str, digest: str, body: bytes, code: str | None) -> None:
    """A covered Content-Digest is checked for every algorithm we know; only unknown ones refuse."""
    url = "http://orders.test/orders"
    sig = hand_signed(
        WITH_DIGEST + PARAMS, method="POST", url=url, body=BODY, headers={"Content-Digest": digest}
    )
    scope = scope_for("POST", url, {"Content-Digest": digest, **sig})
    outcome = await verify(scope, body, size=5)
    if code is None:
        assert outcome.status == 200, outcome.body
        assert outcome.app_body == body
    else:
        check_refused(outcome, code)
        if code == "malformed_header":
            assert outcome.json()["detail"] == "Malformed Content-Digest header."


@pytest.mark.anyio
async def test_digest_present_but_not_covered_is_an_unsigned_body() -> None:
    """A correct but uncovered Content-Digest does not bind the body: unsigned_body."""
    url = "http://orders.test/orders"
    sig = hand_signed(ALL + PARAMS, method="POST", url=url, body=BODY)
    scope = scope_for("POST", url, {"Content-Digest": d256(BODY), **sig})
    check_refused(await verify(scope, BODY), "unsigned_body")


# --- WebSocket ----------------------------------------------------------------------------


WS_URL = "http://orders.test/ws?room=7"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_header"),
        (
            signed("rfc9421", method="GET", url="http://orders.test/ws?room=8", at=NOW).httpx,
            "invalid_signature",
        ),
        (signed("rfc9421", method="GET", url=WS_URL, at=NOW - 301).httpx, "expired"),
    ],
    ids=["unsigned", "other-query", "stale"],
)
@pytest.mark.parametrize("denial", [False, True], ids=["close", "denial-response"])
async def test_websocket_handshake_refused_before_accept(
    headers: dict[str, str], code: str, denial: bool
) -> None:
    """A bad handshake never reaches the app: a 401 where the server can send one, else 1008."""
    outcome = Outcome()
    extra = {"extensions": {"websocket.http.response": {}}} if denial else {}
    await drive(
        guard(ws_app), ws_scope(WS_URL, headers, **extra), [{"type": "websocket.connect"}], outcome
    )
    if denial:
        assert outcome.status == 401
        assert outcome.json()["code"] == code
        assert outcome.headers[b"accept-signature"].decode() == ACCEPT_DEFAULT
    else:
        assert [m["type"] for m in outcome.sent] == ["websocket.close"]
        assert outcome.sent[0]["code"] == 1008


# --- proxies ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_inside_a_starlette_mount() -> None:
    """Inside ``Mount("/api", ...)`` the signature over /api/... verifies.

    A Mount rewrites ``root_path`` (and, in older Starlette, ``path``) for the mounted
    app, but never ``raw_path``: the path the client signed is still there, whole.
    """
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["root_path"])
        await who_app(scope, receive, send)

    outer = Starlette(routes=[Mount("/api", app=guard(app))])
    url = "http://orders.test/api/orders?dry=1"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(outer)) as client:
        response = await client.post(
            url, content=BODY, headers=signed("rfc9421", BODY, url=url, at=NOW).httpx
        )
    assert who(response)["hmac"] == ["rfc9421", KEY_ID]
    assert seen == ["/api"]


def test_behind_uvicorn_root_path() -> None:
    """Behind a proxy that strips /api and uvicorn's ``--root-path /api``, the signature verifies.

    The client signs the path it sends, /api/orders; the proxy forwards /orders; uvicorn
    puts the prefix back in both ``path`` and ``raw_path`` (uvicorn >= 0.26: raw_path =
    root_path + the bytes received), and the signed path is ``raw_path``. A client
    that skips the proxy and signs /orders is refused: the server sees /api/orders.
    """
    mw = HMACMiddleware(who_app, schemes=[scheme()])
    with serve(mw, lifespan="off", root_path="/api") as url, httpx.Client() as client:
        created = int(time.time())
        through_proxy = signed("rfc9421", BODY, url=f"{url}/api/orders?x=1", at=created).httpx
        forwarded = client.post(f"{url}/orders?x=1", content=BODY, headers=through_proxy)
        direct = signed("rfc9421", BODY, url=f"{url}/orders?x=1", at=created).httpx
        skipped = client.post(f"{url}/orders?x=1", content=BODY, headers=direct)
    assert who(forwarded)["hmac"] == ["rfc9421", KEY_ID]
    assert (skipped.status_code, skipped.json()["code"]) == (401, "invalid_signature")


# --- the command line ---------------------------------------------------------------------

SIGN = ["sign", "--scheme", "rfc9421", "--secret-env", "RFC_SECRET", "--key-id", KEY_ID]


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    monkeypatch.setenv("RFC_SECRET", RFC_SECRET)

    def run_cli(*argv: str) -> tuple[int, str, str]:
        status = main(list(argv))
        out, err = capsys.readouterr()
        assert RFC_SECRET not in out + err
        return status, out, err

    return run_cli


async def send_signed(
    method: str, url: str, headers: dict[str, str], body: bytes
) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(guard())) as client:
        return await client.request(method, url, content=body, headers=headers)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("extra", "method", "body"),
    [
        (["--data", '{"sku": "A-1"}'], "POST", b'{"sku": "A-1"}'),
        ([], "GET", b""),
        (["--data", "x", "--method", "put"], "PUT", b"x"),
    ],
    ids=["post", "get", "put"],
)
async def test_cli_headers_pass_the_middleware(
    cli: Callable[..., tuple[int, str, str]], extra: list[str], method: str, body: bytes
) -> None:
    """``hmac-asgi sign --scheme rfc9421`` prints headers that verify for that URL, and only it."""
    url = "http://orders.test/orders?dry=1"
    status, out, err = cli(*SIGN, "--url", url, "--timestamp", str(NOW), *extra)
    assert (status, err) == (0, "")
    headers = dict(line.split(": ", 1) for line in out.splitlines())
    assert set(headers) == ({"Content-Digest"} if body else set()) | {
        "Signature-Input",
        "Signature",
    }
    assert who(await send_signed(method, url, headers, body))["hmac"] == ["rfc9421", KEY_ID]
    other = await send_signed(method, "http://orders.test/orders?dry=0", headers, body)
    assert other.status_code == 401


@pytest.mark.anyio
async def test_cli_curl_mode_passes_the_middleware(
    cli: Callable[..., tuple[int, str, str]],
) -> None:
    """``--curl URL`` signs that URL and prints a command whose request verifies."""
    url = "http://orders.test/orders?dry=1"
    status, out, _ = cli(*SIGN, "--curl", url, "--data", '{"a": "b c"}', "--timestamp", str(NOW))
    assert status == 0
    words = shlex.split(out)
    assert words[:3] == ["curl", "-X", "POST"] and words[-3:] == [
        "--data-binary",
        '{"a": "b c"}',
        url,
    ]
    headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
    assert who(await send_signed("POST", url, headers, b'{"a": "b c"}'))["body_len"] == 12


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl here")
def test_cli_curl_command_really_passes(cli: Callable[..., tuple[int, str, str]]) -> None:
    """The printed curl command, run against a real server, is accepted."""
    with serve(HMACMiddleware(who_app, schemes=[scheme()]), lifespan="off") as url:
        status, out, _ = cli(*SIGN, "--curl", f"{url}/orders?x=1", "--data", '{"a": 1}')
        assert status == 0
        done = subprocess.run(
            [*shlex.split(out), "-sS"], capture_output=True, timeout=30, check=True
        )
    assert json.loads(done.stdout.partition(b"\n")[0])["hmac"] == ["rfc9421", KEY_ID]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["sign", "--scheme", "rfc9421", "--secret-env", "RFC_SECRET", "--url", "http://o/"],
            "needs --key-id and --url",
        ),
        ([*SIGN], "needs --key-id and --url"),
        (
            [*SIGN, "--url", "http://o/", "--client-id", "6234ddc9-6b49-4e45-9c0f-e91d2c381222"],
            "does not take client_id",
        ),
        (
            [*SIGN, "--url", "http://o/", "--timestamp", "soon"],
            "--timestamp must be a plain decimal",
        ),
        (
            [*SIGN[:2], "rfc9422", *SIGN[3:], "--url", "http://o/"],
            "invalid choice: (value not shown)",
        ),
    ],
    ids=["no-key-id", "no-url", "client-id", "bad-timestamp", "unknown-scheme"],
)
def test_cli_usage_errors(
    cli: Callable[..., tuple[int, str, str]], argv: list[str], message: str
) -> None:
    """Missing or foreign arguments: exit 2, a message naming them, nothing echoed."""
    status, out, err = cli(*argv)
    assert (status, out) == (2, "")
    assert message in err
    assert "Traceback" not in err


@pytest.mark.anyio
async def test_cli_url_and_curl_never_disagree(cli: Callable[..., tuple[int, str, str]]) -> None:
    """``--url A --curl B``: a usage error, or a command whose request to B verifies."""
    one, two = "http://orders.test/one", "http://orders.test/two"
    status, out, _ = cli(*SIGN, "--url", one, "--curl", two, "--timestamp", str(NOW))
    if status == 2:
        return
    words = shlex.split(out)
    headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
    assert words[-1] == two
    assert (await send_signed("GET", two, headers, b"")).status_code == 200


# --- construction -------------------------------------------------------------------------


async def no_lookup(key_id: str) -> None:
    return None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, TypeError, "exactly one of keys or key_lookup"),
        ({"keys": {KEY_ID: RFC_SECRET}, "key_lookup": no_lookup}, TypeError, "exactly one"),
        ({"keys": [RFC_SECRET]}, TypeError, "mapping"),
        ({"keys": {"": RFC_SECRET}}, ValueError, "non-empty str keyids"),
        ({"keys": {RFC_SECRET: ""}}, ValueError, "empty"),
        ({"keys": {KEY_ID: RFC_SECRET}, "key_lookup_ttl": 5}, ValueError, "only applies"),
        ({"key_lookup": no_lookup, "key_lookup_ttl": -1}, ValueError, "key_lookup_ttl"),
        ({"keys": {KEY_ID: RFC_SECRET}, "required_components": "@method"}, TypeError, "a list"),
        (
            {"keys": {KEY_ID: RFC_SECRET}, "required_components": ["Content-Type"]},
            ValueError,
            "lowercase",
        ),
        (
            {"keys": {KEY_ID: RFC_SECRET}, "required_components": ['"@query-param";name=']},
            ValueError,
            "does not parse",
        ),
        ({"keys": {KEY_ID: RFC_SECRET}, "tag": 5}, TypeError, "tag"),
    ],
)
def test_bad_configuration_fails_at_construction(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    """Every argument is checked at construction; no message shows a secret."""
    with pytest.raises(error, match=match) as caught:
        MessageSignatureScheme(**kwargs)
    assert RFC_SECRET not in str(caught.value)


# --- known bugs (strict xfails: each passes once the bug is fixed) ------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "edit",
    [
        set_host("orders.t\xe9st".encode("latin-1")),
        set_path("/caf\xc3\xa9".encode("latin-1"), "/café"),
        lambda s: s.update(query_string="q=\xe9".encode("latin-1")),
    ],
    ids=["host", "raw-path", "query"],
)
async def test_non_ascii_request_target_is_a_401_not_a_500(
    edit: Callable[[dict[str, Any]], None],
) -> None:
    """A signed request whose Host, path or query holds non-ASCII bytes is refused, not raised."""
    url = "http://orders.test/orders?q=1"
    scope = signed("rfc9421", method="GET", url=url, at=NOW).scope()
    edit(scope)
    check_refused(await verify(scope), "unsupported_component")


def test_non_ascii_host_over_uvicorn_is_a_401() -> None:
    """Through a real server: a signed request with ``Host: orders.t\\xe9st`` gets a 401."""
    import socket

    with serve(HMACMiddleware(who_app, schemes=[scheme()]), lifespan="off") as url:
        port = int(url.rsplit(":", 1)[1])
        headers = signed("rfc9421", method="GET", url=f"{url}/orders", at=int(time.time())).httpx
        lines = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items())
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"GET /orders HTTP/1.1\r\nHost: orders.t\xe9st\r\n"
                + lines
                + b"Connection: close\r\n\r\n"
            )
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:80]


@pytest.mark.anyio
async def test_key_parameter_signs_and_verifies() -> None:
    """Our signer covers ``"content-digest";key="sha-256"`` and the middleware verifies it."""
    components = [*DEFAULT, '"content-digest";key="sha-256"']
    request = signed("rfc9421", SIGNED_BODY, url=SIGNED_URL, at=NOW, components=components)
    assert (await verify(request.scope(), SIGNED_BODY)).status == 200


@pytest.mark.anyio
@pytest.mark.parametrize("signature", ["correct", "forged"])
async def test_key_parameter_in_a_request_is_never_a_500(signature: str) -> None:
    """A request covering ``;key`` is verified (RFC 9421 2.1.2: the member's value alone)."""
    url = "http://orders.test/orders"
    member = f'("@method" "@path" "content-digest";key="sha-256");created={NOW};keyid="{KEY_ID}"'
    digest = d256(BODY)
    lines = [
        '"@method": POST',
        '"@path": /orders',
        f'"content-digest";key="sha-256": {digest.removeprefix("sha-256=")}',
    ]
    secret = RFC_SECRET if signature == "correct" else RFC_OTHER_SECRET
    headers = {"Content-Digest": digest, **signed_over(lines, member, secret=secret)}
    policy = scheme(required_components=["@method", "@path"])
    outcome = await verify(scope_for("POST", url, headers), BODY, using=policy)
    assert outcome.status == (200 if signature == "correct" else 401)


@pytest.mark.anyio
async def test_an_uncovered_content_digest_proves_nothing_and_is_ignored() -> None:
    """Under a policy without content-digest, an uncovered Content-Digest binds nothing (anyone
    on the path could rewrite it with the body), so it is not checked: the policy decides."""
    url = "http://orders.test/orders"
    policy = scheme(required_components=["@method", "@path"])
    headers = signed("rfc9421", BODY, url=url, at=NOW, components=["@method", "@path"]).httpx
    scope = scope_for("POST", url, {**headers, "Content-Digest": d256(b"something else")})
    outcome = await verify(scope, BODY, using=policy)
    assert outcome.status == 200
