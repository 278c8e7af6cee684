"""Key management: rotation, per-client secrets, secret_lookup (cached, failing closed)."""

from __future__ import annotations

import importlib.util
import logging
import math
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from _asgi import Outcome, chunks, drive, echo_app, http_scope, raw
from _secrets import secret
from _signing import CLIENT_ID, SECRET, signed

from hmac_asgi import HMACMiddleware, WeakSecretWarning
from hmac_asgi._keys import KeyRing

OLD_SECRET = secret("destiny client, retiring")
NEW_SECRET = secret("destiny client, new")
OTHER_ID = uuid.UUID("0190b4a2-7c3e-7d4f-8a1b-2c3d4e5f6a7b")  # a UUIDv7
OTHER_SECRET = secret("destiny client, another")
UNKNOWN_ID = uuid.UUID("9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f")
ROOT = Path(__file__).resolve().parent.parent


def client_for(app: HMACMiddleware) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def status_of(app: HMACMiddleware, **sign: Any) -> tuple[int, Any]:
    async with client_for(app) as client:
        headers = signed("destiny", b"payload", **sign).httpx
        response = await client.post("/", content=b"payload", headers=headers)
    return response.status_code, response.json() if response.status_code != 200 else None


class Store:
    """A secret store that counts how often it is asked."""

    def __init__(self, table: dict[uuid.UUID, Any]) -> None:
        self.table = table
        self.calls: list[uuid.UUID] = []

    async def __call__(self, client_id: uuid.UUID) -> Any:
        self.calls.append(client_id)
        answer = self.table.get(client_id)
        if isinstance(answer, Exception):
            raise answer
        return answer


# Rotation and per-client secrets.


@pytest.mark.anyio
@pytest.mark.parametrize("source", ["secret_key", "client_secrets", "secret_lookup"])
async def test_rotation_old_and_new_pass_then_old_is_removed(source: str) -> None:
    def app_with(secrets: list[str]) -> HMACMiddleware:
        configs: dict[str, dict[str, Any]] = {
            "secret_key": {"secret_key": secrets},
            "client_secrets": {"client_secrets": {str(CLIENT_ID): secrets}},
            "secret_lookup": {"secret_lookup": Store({CLIENT_ID: secrets})},
        }
        return HMACMiddleware(echo_app, **configs[source])

    during = app_with([NEW_SECRET, OLD_SECRET])
    assert (await status_of(during, secret=NEW_SECRET))[0] == 200
    assert (await status_of(during, secret=OLD_SECRET))[0] == 200
    after = app_with([NEW_SECRET])
    assert (await status_of(after, secret=NEW_SECRET))[0] == 200
    assert await status_of(after, secret=OLD_SECRET) == (
        401,
        {"detail": "Signature is invalid.", "code": "invalid_signature"},
    )


@pytest.mark.anyio
async def test_per_client_secrets() -> None:
    app = HMACMiddleware(echo_app, client_secrets={CLIENT_ID: SECRET, OTHER_ID: [OTHER_SECRET]})
    async with client_for(app) as client:
        mine = await client.get(
            "/", headers=signed("destiny", secret=SECRET, key_id=CLIENT_ID).httpx
        )
        theirs = await client.get(
            "/", headers=signed("destiny", secret=OTHER_SECRET, key_id=OTHER_ID).httpx
        )
        crossed = await client.get(
            "/", headers=signed("destiny", secret=OTHER_SECRET, key_id=CLIENT_ID).httpx
        )
    assert mine.status_code == 200 and mine.text.startswith(f'{{"client_id": "{CLIENT_ID}"')
    assert theirs.status_code == 200 and theirs.text.startswith(f'{{"client_id": "{OTHER_ID}"')
    assert crossed.status_code == 401


@pytest.mark.anyio
@pytest.mark.parametrize("source", ["client_secrets", "secret_lookup"])
async def test_unknown_client_looks_exactly_like_a_bad_signature(source: str) -> None:
    if source == "client_secrets":
        app = HMACMiddleware(echo_app, client_secrets={CLIENT_ID: SECRET})
    else:
        app = HMACMiddleware(echo_app, secret_lookup=Store({CLIENT_ID: SECRET}))
    async with client_for(app) as client:
        unknown = await client.get("/", headers=signed("destiny", key_id=UNKNOWN_ID).httpx)
        forged = await client.get("/", headers=signed("destiny", secret=OTHER_SECRET).httpx)
    assert unknown.status_code == forged.status_code == 401
    assert unknown.content == forged.content
    assert unknown.headers == forged.headers


@pytest.mark.anyio
@pytest.mark.parametrize("answer", [None, "", [], ["", ""]])
async def test_lookup_without_a_secret_means_unknown(answer: Any) -> None:
    app = HMACMiddleware(echo_app, secret_lookup=Store({CLIENT_ID: answer}))
    assert (await status_of(app))[1]["code"] == "invalid_signature"


EMPTY_ANSWERS = {"empty": ("", 401), "all empty": (["", ""], 401), "one empty": ([SECRET, ""], 200)}


@pytest.mark.anyio
@pytest.mark.parametrize("ttl", [0.0, 60.0])
@pytest.mark.parametrize(("answer", "real_secret"), EMPTY_ANSWERS.values(), ids=EMPTY_ANSWERS)
async def test_empty_secret_from_lookup_never_verifies(
    answer: Any, real_secret: int, ttl: float
) -> None:
    # A store's empty field means "no secret", never "the empty key": anyone can sign
    # with that one. A real secret next to it still works.
    app = HMACMiddleware(echo_app, secret_lookup=Store({CLIENT_ID: answer}), secret_lookup_ttl=ttl)
    for _ in range(2):  # the second from the lookup cache when ttl > 0
        assert await status_of(app, secret="") == (
            401,
            {"detail": "Signature is invalid.", "code": "invalid_signature"},
        )
        assert (await status_of(app, secret=SECRET))[0] == real_secret


# secret_lookup: the TTL cache.


@pytest.mark.anyio
async def test_lookup_ttl_caches_known_and_unknown_clients() -> None:
    store = Store({CLIENT_ID: SECRET})
    app = HMACMiddleware(echo_app, secret_lookup=store, secret_lookup_ttl=60)
    for _ in range(3):
        assert (await status_of(app))[0] == 200
        assert (await status_of(app, key_id=UNKNOWN_ID))[0] == 401
    assert store.calls == [CLIENT_ID, UNKNOWN_ID]


@pytest.mark.anyio
async def test_without_ttl_every_request_asks_the_store() -> None:
    store = Store({CLIENT_ID: SECRET})
    app = HMACMiddleware(echo_app, secret_lookup=store)
    for _ in range(3):
        assert (await status_of(app))[0] == 200
    assert len(store.calls) == 3


@pytest.mark.anyio
async def test_lookup_cache_expires_after_ttl() -> None:
    now = [0.0]
    store = Store({CLIENT_ID: SECRET})
    ring = KeyRing(lookup=store, lookup_ttl=10, clock=lambda: now[0])
    await ring.keys(CLIENT_ID)
    now[0] = 9.99
    await ring.keys(CLIENT_ID)
    assert len(store.calls) == 1
    store.table[CLIENT_ID] = None  # revoked in the store
    now[0] = 10.0
    assert (await ring.keys(CLIENT_ID))[1] is False
    assert len(store.calls) == 2


@pytest.mark.anyio
async def test_lookup_cache_is_bounded() -> None:
    store = Store({})
    ring = KeyRing(lookup=store, lookup_ttl=60, clock=lambda: 0.0)
    ids = [uuid.UUID(int=i, version=4) for i in range(10_001)]
    for client_id in ids:
        await ring.keys(client_id)
    await ring.keys(ids[-1])
    assert len(store.calls) == 10_001  # the newest is still cached
    await ring.keys(ids[0])
    assert len(store.calls) == 10_002  # the oldest was evicted


# secret_lookup: failures.


@pytest.mark.anyio
@pytest.mark.parametrize("ttl", [0.0, 60.0])
async def test_lookup_raising_is_503_logged_and_not_cached(
    ttl: float, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store({CLIENT_ID: ConnectionRefusedError("db down")})
    app = HMACMiddleware(echo_app, secret_lookup=store, secret_lookup_ttl=ttl)
    with caplog.at_level(logging.ERROR, logger="hmac_asgi"):
        status, body = await status_of(app)
    assert (status, body) == (
        503,
        {
            "detail": "Authentication is temporarily unavailable (key lookup).",
            "code": "unavailable",
        },
    )
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.name == "hmac_asgi" and record.exc_info is not None
    assert isinstance(record.exc_info[1], ConnectionRefusedError)
    assert SECRET not in caplog.text
    store.table[CLIENT_ID] = SECRET  # the store is back: the failure was not cached
    assert (await status_of(app))[0] == 200


async def _raw_call(app: HMACMiddleware, headers: dict[str, str]) -> Outcome:
    return await drive(app, http_scope(raw(headers), method="GET"), chunks(b"", 1))


@pytest.mark.anyio
@pytest.mark.parametrize("answer", [5, [SECRET, 7], {"secret": SECRET}, {SECRET}])
async def test_lookup_answering_nonsense_is_a_logged_503(
    answer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A store answering the wrong type is the store's fault: 503 and an ERROR, never a 500."""
    app = HMACMiddleware(echo_app, secret_lookup=Store({CLIENT_ID: answer}))
    outcome = await _raw_call(app, signed("destiny").httpx)
    assert outcome.code() == (503, "unavailable")
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "secret lookup" in record.getMessage()


@pytest.mark.anyio
@pytest.mark.parametrize("answer", [SECRET.encode(), [SECRET.encode()], [b"old-key", SECRET]])
async def test_lookup_may_answer_bytes(answer: Any) -> None:
    """Raw key bytes from a store (a vault) are a key, as str secrets are UTF-8 bytes."""
    app = HMACMiddleware(echo_app, secret_lookup=Store({CLIENT_ID: answer}))
    assert (await _raw_call(app, signed("destiny").httpx)).status == 200


@pytest.mark.anyio
async def test_raw_call_answers_normally() -> None:
    # The driver above works: a good lookup gets the app's 200.
    app = HMACMiddleware(echo_app, secret_lookup=Store({CLIENT_ID: SECRET}))
    assert (await _raw_call(app, signed("destiny").httpx)).status == 200


# Construction.


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, TypeError, "got none"),
        ({"secret_key": SECRET, "client_secrets": {CLIENT_ID: SECRET}}, TypeError, "exactly one"),
        ({"secret_key": ""}, ValueError, "empty"),
        ({"secret_key": []}, ValueError, "empty list"),
        ({"client_secrets": {CLIENT_ID: []}}, ValueError, "empty list"),
        ({"client_secrets": {CLIENT_ID: [SECRET, ""]}}, ValueError, "empty"),
        ({"client_secrets": {"not-a-uuid": SECRET}}, ValueError, "not a UUID"),
        (
            {"client_secrets": {"6234ddc9-6b49-1e45-9c0f-e91d2c381222": SECRET}},
            ValueError,
            "UUIDv4",
        ),
        ({"client_secrets": [(CLIENT_ID, SECRET)]}, TypeError, "mapping"),
        ({"secret_key": {SECRET}}, TypeError, "str"),
        ({"secret_lookup": "not callable"}, TypeError, "async callable"),
        ({"secret_lookup": Store({}), "secret_lookup_ttl": -1}, ValueError, "lookup_ttl"),
        ({"secret_lookup": Store({}), "secret_lookup_ttl": math.inf}, ValueError, "lookup_ttl"),
        ({"secret_lookup": Store({}), "secret_lookup_ttl": True}, TypeError, "lookup_ttl"),
        ({"secret_key": SECRET, "secret_lookup_ttl": 5}, ValueError, "only applies"),
    ],
)
def test_constructor_errors(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        HMACMiddleware(echo_app, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"secret_key": "short"}, {"client_secrets": {CLIENT_ID: [SECRET, "short"]}}],
)
def test_weak_secret_warns(kwargs: dict[str, Any]) -> None:
    with pytest.warns(WeakSecretWarning, match="5 bytes"):
        HMACMiddleware(echo_app, **kwargs)


# examples/keys_from_env.py


def _example() -> Any:
    spec = importlib.util.spec_from_file_location(
        "keys_from_env", ROOT / "examples/keys_from_env.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_keys_from_env_parses_variables() -> None:
    env = {
        "HMAC_CLIENT_" + str(CLIENT_ID).replace("-", "_"): f"{NEW_SECRET}, {OLD_SECRET}",
        "HMAC_CLIENT_" + str(OTHER_ID).upper().replace("-", "_"): OTHER_SECRET,
        "PATH": "/usr/bin",
    }
    assert _example().client_secrets_from_env(env) == {
        CLIENT_ID: [NEW_SECRET, OLD_SECRET],
        OTHER_ID: [OTHER_SECRET],
    }


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({}, "no HMAC_CLIENT_"),
        ({"HMAC_CLIENT_nope": SECRET}, "HMAC_CLIENT_nope"),
        ({"HMAC_CLIENT_" + str(CLIENT_ID).replace("-", "_"): " , "}, "no secret"),
    ],
)
def test_keys_from_env_errors(env: dict[str, str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _example().client_secrets_from_env(env)


@pytest.mark.anyio
async def test_keys_from_env_app_rotates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "HMAC_CLIENT_" + str(CLIENT_ID).replace("-", "_"), f"{NEW_SECRET},{OLD_SECRET}"
    )
    app = _example().create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for secret in (NEW_SECRET, OLD_SECRET):
            response = await client.get("/whoami", headers=signed("destiny", secret=secret).httpx)
            assert response.json() == {"client_id": str(CLIENT_ID)}
        forged = await client.get("/whoami", headers=signed("destiny", secret=OTHER_SECRET).httpx)
    assert forged.status_code == 401
