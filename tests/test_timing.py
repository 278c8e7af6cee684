"""Constant work: an unknown client costs what a bad signature costs; compare_digest decides.

Timing cannot be measured reliably on a shared CI machine, so these tests count
the work instead: how many HMACs are finished, how many body bytes are fed into
them, and which comparison decides. Spies replace what the destiny scheme module
looks up (its ``hmac`` module reference, ``_Check.update``) and ``MacKey.finish``
through ``monkeypatch``, which restores them; the global ``hmac`` module is untouched.
"""

from __future__ import annotations

import hmac
import types
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from _asgi import Outcome, chunks, drive, http_scope, raw, recording_app
from _secrets import secret
from _signing import CLIENT_ID, SECRET, signed

import hmac_asgi._keys as keys_module
import hmac_asgi.schemes.destiny as destiny_module
from hmac_asgi import HMACMiddleware
from hmac_asgi._mac import MacKey, Running

NOW = 1_800_000_000.5
ROTATED_SECRET = secret("destiny client, rotated in")
OTHER_CLIENT = uuid.UUID("0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b")  # a UUIDv7
UNKNOWN_CLIENT = uuid.UUID("3b42cdf7-add1-445f-98db-2fe525ad54d6")
BODY = b'{"amount": 100, "currency": "EUR"}' * 40


async def _lookup(client_id: uuid.UUID) -> str | list[str] | None:
    return {CLIENT_ID: [ROTATED_SECRET, SECRET], OTHER_CLIENT: SECRET}.get(client_id)


# name -> middleware keyword arguments. Every configuration has CLIENT_ID and
# OTHER_CLIENT known (with the secrets in the table) and UNKNOWN_CLIENT unknown.
CONFIGS: dict[str, dict[str, Any]] = {
    "client_secrets": {"client_secrets": {CLIENT_ID: SECRET, OTHER_CLIENT: SECRET}},
    # CLIENT_ID is mid-rotation (two secrets), OTHER_CLIENT is not.
    "client_secrets-rotation": {
        "client_secrets": {CLIENT_ID: [ROTATED_SECRET, SECRET], OTHER_CLIENT: SECRET}
    },
    "client_secrets-uuid-text-keys": {
        "client_secrets": {str(CLIENT_ID): SECRET, str(OTHER_CLIENT): [SECRET, ROTATED_SECRET]}
    },
}


@dataclass
class Work:
    """What verifying one request cost."""

    finished: int = 0  # HMACs completed (MacKey.finish calls)
    body_bytes_hashed: int = 0  # body bytes fed, summed over every candidate MAC
    compares: list[tuple[int, int]] = field(default_factory=list)  # argument lengths


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Work:
    """Count the HMAC work of each request through spies that call the real code."""
    counted = Work()
    real_finish = MacKey.finish
    real_update = destiny_module._Check.update

    def finish(self: MacKey, running: Running) -> bytes:
        counted.finished += 1
        return real_finish(self, running)

    def update(self: destiny_module._Check, chunk: bytes) -> None:
        counted.body_bytes_hashed += len(chunk) * len(self._running)
        real_update(self, chunk)

    def compare(a: bytes, b: bytes) -> bool:
        counted.compares.append((len(a), len(b)))
        return hmac.compare_digest(a, b)

    monkeypatch.setattr(MacKey, "finish", finish)
    monkeypatch.setattr(destiny_module._Check, "update", update)
    monkeypatch.setattr(destiny_module, "hmac", types.SimpleNamespace(compare_digest=compare))
    return counted


def headers_for(client_id: uuid.UUID, *, valid: bool) -> list[tuple[bytes, bytes]]:
    headers = signed("destiny", BODY, key_id=client_id, at=NOW).httpx
    if not valid:  # same length and form, wrong value
        good = headers["Authorization"][-64:]
        headers["Authorization"] = "Signature " + ("0" if good[0] != "0" else "1") + good[1:]
    return raw(headers)


async def run(mw: HMACMiddleware, headers: list[tuple[bytes, bytes]], outcome: Outcome) -> Outcome:
    outcome.sent.clear()
    return await drive(mw, http_scope(headers), chunks(BODY, 100), outcome)


async def cost(
    config: dict[str, Any], work: Work, client_id: uuid.UUID, *, valid: bool
) -> tuple[int | None, int, int, int]:
    """(status, HMACs finished, body bytes hashed, compares) for one request."""
    outcome = Outcome()
    mw = HMACMiddleware(recording_app(outcome), clock=lambda: NOW, **config)
    headers = headers_for(client_id, valid=valid)  # signing finishes a MAC too: not counted
    before = (work.finished, work.body_bytes_hashed, len(work.compares))
    await run(mw, headers, outcome)
    return (
        outcome.status,
        work.finished - before[0],
        work.body_bytes_hashed - before[1],
        len(work.compares) - before[2],
    )


@pytest.mark.anyio
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
async def test_unknown_client_costs_exactly_what_a_bad_signature_costs(
    config: dict[str, Any], work: Work
) -> None:
    unknown = await cost(config, work, UNKNOWN_CLIENT, valid=False)
    for known in (CLIENT_ID, OTHER_CLIENT):
        bad = await cost(config, work, known, valid=False)
        assert unknown == bad, f"unknown client {unknown} vs bad signature of {known} {bad}"
    status, finished, hashed, compares = unknown
    assert status == 401
    assert finished >= 1 and compares == finished  # every candidate computed and compared
    assert hashed == finished * len(BODY)  # the whole body went through every candidate
    # And a good request does the same work again: success is not faster either.
    assert (await cost(config, work, CLIENT_ID, valid=True))[1:] == unknown[1:]


@pytest.mark.anyio
async def test_unknown_client_costs_what_a_bad_signature_costs_with_secret_lookup(
    work: Work,
) -> None:
    # Without a TTL cache each request awaits the store, whose latency is the store's;
    # what the middleware adds is counted here: one HMAC per secret the store returned,
    # and the throwaway one for an unknown client.
    config: dict[str, Any] = {"secret_lookup": _lookup}
    unknown = await cost(config, work, UNKNOWN_CLIENT, valid=False)
    single = await cost(config, work, OTHER_CLIENT, valid=False)
    assert unknown == single == (401, 1, len(BODY), 1)


@pytest.mark.anyio
async def test_the_response_does_not_tell_unknown_from_bad(work: Work) -> None:
    config = CONFIGS["client_secrets"]
    answers = []
    for client_id in (UNKNOWN_CLIENT, CLIENT_ID):
        outcome = Outcome()
        mw = HMACMiddleware(recording_app(outcome), clock=lambda: NOW, **config)
        await run(mw, headers_for(client_id, valid=False), outcome)
        answers.append((outcome.status, outcome.headers, outcome.body))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401 and b"Signature is invalid." in answers[0][2]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("client_id", "valid", "status"),
    [(CLIENT_ID, True, 200), (CLIENT_ID, False, 401), (UNKNOWN_CLIENT, False, 401)],
    ids=["good", "bad-signature", "unknown-client"],
)
async def test_compare_digest_is_called_for_every_request(
    client_id: uuid.UUID, valid: bool, status: int, work: Work
) -> None:
    config = CONFIGS["client_secrets"]
    assert (await cost(config, work, client_id, valid=valid))[0] == status
    # One constant-time comparison of two 32-byte digests, whatever the outcome.
    assert work.compares == [(32, 32)]


def always(answer: bool) -> Callable[[bytes, bytes], bool]:
    def compare_digest(a: bytes, b: bytes) -> bool:
        return answer

    return compare_digest


@pytest.mark.anyio
async def test_compare_digest_decides_and_the_known_flag_backs_it_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outcome = Outcome()
    mw = HMACMiddleware(recording_app(outcome), clock=lambda: NOW, **CONFIGS["client_secrets"])

    # A comparison that always says "equal" lets a bad signature of a known client in:
    # so it is compare_digest, not some other check, that decides.
    monkeypatch.setattr(destiny_module, "hmac", types.SimpleNamespace(compare_digest=always(True)))
    await run(mw, headers_for(CLIENT_ID, valid=False), outcome)
    assert outcome.status == 200 and outcome.app_calls == 1 and outcome.app_body == BODY

    # ... but not an unknown client, checked against the throwaway key: the
    # "known" flag refuses it even when the comparison is fooled.
    await run(mw, headers_for(UNKNOWN_CLIENT, valid=False), outcome)
    assert outcome.status == 401 and outcome.json()["code"] == "invalid_signature"
    assert outcome.app_calls == 1

    # A comparison that always says "different" refuses even a good signature.
    monkeypatch.setattr(destiny_module, "hmac", types.SimpleNamespace(compare_digest=always(False)))
    await run(mw, headers_for(CLIENT_ID, valid=True), outcome)
    assert outcome.status == 401 and outcome.app_calls == 1

    # And with the real comparison restored, the same requests get their honest answers.
    monkeypatch.undo()
    for client_id, valid, status in ((CLIENT_ID, True, 200), (CLIENT_ID, False, 401)):
        await run(mw, headers_for(client_id, valid=valid), outcome)
        assert outcome.status == status
    assert outcome.app_calls == 2


REAL_COMPARE_DIGEST = hmac.compare_digest


def test_the_spies_patch_only_hmac_asgi(work: Work) -> None:
    # The fixture replaced the module reference inside the scheme module, not hmac itself.
    assert destiny_module.hmac is not hmac
    assert destiny_module.hmac.compare_digest is not REAL_COMPARE_DIGEST
    assert hmac.compare_digest is REAL_COMPARE_DIGEST


@pytest.mark.anyio
@pytest.mark.parametrize(
    "unknown_answer", [None, [], ""], ids=["none", "empty-list", "empty-secret"]
)
async def test_item5_unknown_client_derives_as_many_keys_as_a_known_one(
    unknown_answer: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With secret_lookup an unknown client skips the key derivation a known one pays."""
    # The spy sits on the name hmac_asgi._keys derives keys with (a MacKey per secret
    # the lookup returned, and the throwaway one for an unknown client).
    derived = [0]
    real_mac_key = keys_module.MacKey

    def mac_key(secret: bytes) -> MacKey:
        derived[0] += 1
        return real_mac_key(secret)

    monkeypatch.setattr(keys_module, "MacKey", mac_key)

    async def lookup(client_id: uuid.UUID) -> Any:
        return SECRET if client_id == CLIENT_ID else unknown_answer

    outcome = Outcome()
    mw = HMACMiddleware(recording_app(outcome), secret_lookup=lookup, clock=lambda: NOW)

    async def derivations(client_id: uuid.UUID) -> int:
        await run(mw, headers_for(client_id, valid=False), outcome)  # warm-up
        before = derived[0]
        await run(mw, headers_for(client_id, valid=False), outcome)
        assert outcome.status == 401
        return derived[0] - before

    known, unknown = await derivations(CLIENT_ID), await derivations(UNKNOWN_CLIENT)
    assert unknown == known, f"known client: {known} key derivations, unknown: {unknown}"
