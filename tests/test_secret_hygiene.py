"""Secrets never show: not in a repr, a str, an error, a warning, a response or a log line.

Every test of the suite also runs under ``secret_log_scanner`` (tests/conftest.py),
which scans each log record at DEBUG for the suite's secrets, raw, hex or base64.
"""

from __future__ import annotations

import gc
import logging
import traceback
import types
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from _asgi import Outcome, chunks, drive, echo_app, http_scope, recording_app
from _secrets import secret
from _signing import CLIENT_ID, SECRET, signed
from conftest import SecretScanner, secret_forms

from hmac_asgi import (
    AuthException,
    HMACAuth,
    HMACMiddleware,
    HMACSigningAuth,
    HMACSigningTransport,
    MemoryReplayCache,
    WeakSecretWarning,
)
from hmac_asgi._errors import CATALOGUE, failure
from hmac_asgi._keys import KeyRing
from hmac_asgi._verify import Verifier
from hmac_asgi.schemes.destiny import DestinyScheme

NOW = 1_800_000_000.5
SECOND = secret("second destiny client")
SHORT = secret("under 32 bytes", "short-secret")  # 12 bytes: the warning says so
UNICODE = secret("non-ASCII", "ünïcødé-sécret-ключ-610004106-0123456789")  # its escaped forms
OTHER_ID = uuid.UUID("0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b")


def leaked(text: str, secrets: tuple[str, ...] = (SECRET, SECOND, SHORT, UNICODE)) -> list[str]:
    """The forms of the given secrets found in ``text`` (named, never shown)."""
    return [
        f"secret #{i} as {form}"
        for i, secret in enumerate(secrets)
        for form, needle in secret_forms(secret).items()
        if needle in text
    ]


def reachable_strings(root: object) -> Iterator[str | bytes]:
    """Every str/bytes reachable from ``root``'s own state.

    Code and modules are not followed: a function's globals (the test module,
    with its SECRET constant) are not the object's state.
    """
    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
            types.MethodType, types.CodeType, types.FrameType)  # fmt: skip
    seen: set[int] = set()
    todo = [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        if isinstance(obj, (str, bytes, bytearray)):
            yield bytes(obj) if isinstance(obj, bytearray) else obj
            continue
        todo.extend(gc.get_referents(obj))


def assert_secret_not_held(obj: object) -> None:
    for value in reachable_strings(obj):
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        utf8 = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        assert not leaked(text) and not leaked(utf8), f"{type(obj).__name__} holds a secret"


async def lookup(client_id: uuid.UUID) -> str | None:
    return {CLIENT_ID: SECRET, OTHER_ID: SECOND}.get(client_id)


MIDDLEWARES: dict[str, Callable[[], HMACMiddleware]] = {
    "secret_key": lambda: HMACMiddleware(echo_app, secret_key=SECRET),
    "secret_key-rotation": lambda: HMACMiddleware(echo_app, secret_key=[SECOND, SECRET]),
    "client_secrets": lambda: HMACMiddleware(
        echo_app, client_secrets={CLIENT_ID: [SECRET, UNICODE], str(OTHER_ID): SECOND}
    ),
    "secret_lookup": lambda: HMACMiddleware(
        echo_app, secret_lookup=lookup, secret_lookup_ttl=60, replay_cache=MemoryReplayCache()
    ),
}


# The scanner itself: it sees DEBUG records and finds every encoding.


@pytest.mark.parametrize("form", ["raw", "hex", "HEX", "base64", "base64url"])
def test_the_log_scanner_catches_a_secret_in_any_form(
    form: str, secret_log_scanner: SecretScanner
) -> None:
    needle = secret_forms(SECRET)[form]
    before = secret_log_scanner.records
    logging.getLogger("some.library").debug("key material: %s", needle)
    assert secret_log_scanner.records == before + 1  # DEBUG records reach it
    assert ("destiny client", form) in [leak[1:] for leak in secret_log_scanner.leaks]
    secret_log_scanner.leaks.clear()  # this test's own leak, on purpose


def test_the_log_scanner_reads_tracebacks_and_escaped_bytes() -> None:
    scanner = SecretScanner({"non-ASCII": UNICODE})
    logger = logging.getLogger("scanner-self-test")
    logger.addHandler(scanner)
    logger.propagate = False
    try:
        try:
            raise ValueError(f"bad key {UNICODE.encode()!r}")
        except ValueError:
            logger.exception("construction failed")
        logger.warning("clean line")
    finally:
        logger.removeHandler(scanner)
        logger.propagate = True
    assert scanner.records == 2
    assert scanner.leaks == [("scanner-self-test", "non-ASCII", "bytes-repr")]


# repr / str of every public object that is given a secret.


@pytest.mark.parametrize("make", MIDDLEWARES.values(), ids=MIDDLEWARES.keys())
def test_middleware_repr_str_and_state_hold_no_secret(make: Callable[[], HMACMiddleware]) -> None:
    mw = make()
    assert not leaked(repr(mw) + str(mw) + repr(vars(mw)))
    assert_secret_not_held(mw)
    assert_secret_not_held(mw._verifier.scheme.keys)


@pytest.mark.parametrize("secret", [SECRET, SECRET.encode(), UNICODE, UNICODE.encode()])
def test_signing_auth_and_transport_hold_no_secret(secret: str | bytes) -> None:
    auth = HMACSigningAuth(secret, CLIENT_ID)
    transport = HMACSigningTransport(secret_key=secret, client_id=str(CLIENT_ID))
    for obj in (auth, transport):
        text = repr(obj) + str(obj)
        assert str(CLIENT_ID) in text  # the repr does say which client it signs for
        assert not leaked(text)
        assert_secret_not_held(obj)


def test_keyring_verifier_dependency_and_replay_cache_hold_no_secret() -> None:
    ring = KeyRing(table={CLIENT_ID: [SECRET, SECOND]})
    scheme = DestinyScheme(client_secrets={CLIENT_ID: [SECRET, SECOND]})
    dependency = HMACAuth(SECRET)
    for obj in (ring, scheme, Verifier(scheme), dependency):
        assert not leaked(repr(obj) + str(obj))
        assert_secret_not_held(obj)


@pytest.mark.anyio
async def test_replay_cache_after_use_holds_no_secret() -> None:
    cache = MemoryReplayCache()
    outcome = Outcome()
    mw = HMACMiddleware(
        recording_app(outcome), secret_key=SECRET, replay_cache=cache, clock=lambda: NOW
    )
    headers = signed("destiny", b"x", at=NOW).raw
    await drive(mw, http_scope(headers), chunks(b"x", 1), outcome)
    assert outcome.status == 200 and len(cache) == 1  # it did record the request
    assert not leaked(repr(cache) + str(cache) + repr(cache._entries))
    assert_secret_not_held(cache)


def test_the_state_walk_would_find_a_held_secret() -> None:
    # The walk is not vacuous: an object that keeps the text is caught, nested.
    class Careless:
        def __init__(self) -> None:
            self.config = {"keys": [("client", SECRET.encode().hex())]}

    with pytest.raises(AssertionError, match="holds a secret"):
        assert_secret_not_held(Careless())


# Errors and responses.


def every_failure() -> list[AuthException]:
    fields: dict[str, dict[str, Any]] = {
        "duplicate_header": {"name": "Authorization"},
        "body_too_large": {"limit": 1024},
        "body_timeout": {"seconds": 30.0},
        "unavailable": {"what": "key lookup"},
    }
    return [failure(code, **fields.get(code, {})) for code in CATALOGUE]


def test_every_failure_text_and_body_are_free_of_secrets() -> None:
    failures = every_failure()
    assert len(failures) >= 15
    for exc in failures:
        text = f"{exc!r} {exc} {exc.detail} {exc.headers} {exc.code}"
        assert not leaked(text + exc.json_body().decode())


@pytest.mark.anyio
@pytest.mark.parametrize("make", MIDDLEWARES.values(), ids=MIDDLEWARES.keys())
async def test_responses_to_refused_requests_hold_no_secret(
    make: Callable[[], HMACMiddleware],
) -> None:
    mw = make()
    body = b'{"transfer": 1}'
    attempts = [
        signed("destiny", body, secret=SECOND).httpx,  # another client's secret
        signed("destiny", body, key_id=uuid.uuid4()).httpx,  # unknown client
        {**signed("destiny", body).httpx, "X-Request-Timestamp": "1.0"},  # expired
        {
            **signed("destiny", body).httpx,
            "Authorization": "Signature " + SECRET,
        },  # the secret as sig
        {"Authorization": SECRET, "X-Client-Id": SECRET, "X-Request-Timestamp": SECRET},
    ]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(mw), base_url="http://t") as c:
        for headers in attempts:
            response = await c.post("/", content=body + b"!", headers=headers)
            assert response.status_code == 401
            assert not leaked(str(response.headers) + response.text)


# Warnings and construction errors: the message names the argument, never its value.


def formatted(exc: BaseException) -> str:
    """The whole traceback text, causes and contexts included, as a log would show it."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def test_weak_secret_warning_names_the_argument_not_the_value() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        HMACMiddleware(echo_app, secret_key=SHORT)
        HMACMiddleware(echo_app, client_secrets={CLIENT_ID: [SECRET, SHORT]})
    messages = [str(w.message) for w in caught if issubclass(w.category, WeakSecretWarning)]
    assert len(messages) == 2
    assert "secret_key is 12 bytes" in messages[0]
    assert str(CLIENT_ID) in messages[1]  # which client's secret is weak
    assert not any(leaked(m) for m in messages)


BAD_CONSTRUCTIONS: dict[str, Callable[[], object]] = {
    # The classic slip: positional arguments swapped, the secret lands on client_id.
    "auth-arguments-swapped": lambda: HMACSigningAuth(str(CLIENT_ID), SECRET),
    "transport-client-id-is-the-secret": lambda: HMACSigningTransport(
        secret_key=SECRET, client_id=SECRET
    ),
    "auth-hex-secret-as-client-id": lambda: HMACSigningAuth(
        SECRET,
        SECRET.encode()[:16].hex(),  # 32 hex digits parse as a UUID (version 2)
    ),
    # A mapping written the wrong way round: {secret: client id}.
    "client-secrets-reversed": lambda: HMACMiddleware(
        echo_app, client_secrets={SECRET: str(CLIENT_ID)}
    ),
    "client-secrets-reversed-hex": lambda: HMACMiddleware(
        echo_app, client_secrets={SECRET.encode()[:16].hex(): str(CLIENT_ID)}
    ),
    "secret-in-a-set": lambda: HMACMiddleware(echo_app, secret_key={SECRET}),  # type: ignore[arg-type]
    "secret-list-with-a-number": lambda: HMACMiddleware(echo_app, secret_key=[SECRET, 7]),
    "secret-list-with-an-empty-one": lambda: HMACMiddleware(
        echo_app, client_secrets={CLIENT_ID: [SECRET, ""]}
    ),
    "two-sources": lambda: HMACMiddleware(
        echo_app, secret_key=SECRET, client_secrets={CLIENT_ID: SECRET}
    ),
    "secret-as-lookup": lambda: HMACMiddleware(echo_app, secret_lookup=SECRET),  # type: ignore[arg-type]
    "dependency-secret-in-a-set": lambda: HMACAuth({SECRET}),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("make", BAD_CONSTRUCTIONS.values(), ids=BAD_CONSTRUCTIONS.keys())
def test_construction_errors_never_show_the_secret(make: Callable[[], object]) -> None:
    with pytest.raises((TypeError, ValueError)) as info:
        make()
    text = formatted(info.value)
    assert not leaked(text), leaked(text)
    hexed = SECRET.encode()[:16].hex()  # the part of a hex secret that parsed as a UUID
    assert hexed not in text.replace("-", "")


def test_construction_errors_still_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="client_id must be a UUID") as info:
        HMACSigningAuth(str(CLIENT_ID), SECRET)
    assert "swapped" in str(info.value)
    with pytest.raises(ValueError, match="not a UUID"):
        HMACMiddleware(echo_app, client_secrets={SECRET: str(CLIENT_ID)})
    with pytest.raises(ValueError, match="UUIDv4 or UUIDv7"):
        HMACMiddleware(echo_app, client_secrets={str(uuid.uuid1()): SECRET})


# The refusal log line: attacker-controlled text cannot forge or hide log lines.


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    [
        "/orders\nINFO hmac_asgi accepted POST /admin (client 6234ddc9)",  # a forged second line
        "/orders\r\x1b[2K\x1b[1Aaccepted",  # carriage return and ANSI: overwrite the line
        "/ünïcødé/\u2028/\x00",  # other line separators and NUL
    ],
    ids=["newline", "carriage-return-ansi", "unicode-separators"],
)
async def test_refusal_log_line_is_one_line_whatever_the_path(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    # uvicorn percent-decodes the path, so %0A in a URL is a newline in scope["path"];
    # the access log quotes it, and so must the refusal log.
    caplog.set_level(logging.INFO, logger="hmac_asgi")
    outcome = Outcome()
    mw = HMACMiddleware(recording_app(outcome), secret_key=SECRET, clock=lambda: NOW)
    await drive(mw, http_scope([], path=path), chunks(b"", 1), outcome)
    assert outcome.status == 401
    [record] = [r for r in caplog.records if r.name == "hmac_asgi"]
    message = record.getMessage()
    assert message.startswith("refused POST /") and "missing_authorization" in message
    assert message.isprintable() and message.isascii(), repr(message)
