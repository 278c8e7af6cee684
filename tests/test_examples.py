"""Every example runs: each framework app answers a signed call 200 and an unsigned one 401."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from _signing import SECRET

from hmac_asgi import HMACSigningTransport

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CLIENT = uuid.UUID("01938a6e-7d2b-7c4e-9f1a-2b3c4d5e6f70")


@pytest.fixture
def examples_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("HMAC_SECRET", SECRET)


@pytest.mark.anyio
@pytest.mark.usefixtures("examples_path")
@pytest.mark.parametrize(
    "module", ["fastapi_app", "litestar_app", "quart_app", "django_app", "app"]
)
async def test_framework_example(module: str) -> None:
    app = importlib.import_module(module).app
    asgi = httpx.ASGITransport(app)  # every example reads HMAC_SECRET from the environment
    signing = HMACSigningTransport(secret_key=SECRET, client_id=CLIENT, transport=asgi)
    order = {"item": "widget", "quantity": 3}
    async with httpx.AsyncClient(transport=signing, base_url="http://testserver") as client:
        signed = await client.post("/orders", json=order)
    assert signed.status_code == 200, signed.text
    assert signed.json() == {"accepted": order, "client_id": str(CLIENT)}
    async with httpx.AsyncClient(transport=asgi, base_url="http://testserver") as client:
        unsigned = await client.post("/orders", json=order)
    assert unsigned.status_code == 401
    assert unsigned.json()["code"] == "missing_authorization"


def run_example(script: str) -> str:
    """Run ``examples/<script>`` as a user would; its output, once it has exited cleanly."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_make_demo_script_shows_200_then_401() -> None:
    out = run_example("demo.py")
    assert "-> 200 " in out and "-> 401 " in out
    assert out.index("-> 200 ") < out.index("-> 401 ")
    assert "Server stopped." in out


@pytest.mark.anyio
@pytest.mark.usefixtures("examples_path")
async def test_prometheus_example_counts_refusals_by_code() -> None:
    module = importlib.import_module("prometheus_metrics")
    transport = httpx.ASGITransport(module.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        before = await client.get("/metrics/")
        await client.get("/hello")
        await client.get("/hello", headers={"Authorization": "Bearer x"})
        await client.get("/hello", headers={"Authorization": "Bearer y"})
        after = await client.get("/metrics/")
    assert before.status_code == after.status_code == 200

    def count(text: str, code: str) -> float:
        pattern = rf'hmac_refused_requests_total{{code="{code}",status="401"}} ([0-9.]+)'
        match = re.search(pattern, text)
        return float(match.group(1)) if match else 0.0

    assert (
        count(after.text, "missing_authorization") - count(before.text, "missing_authorization")
        == 1
    )
    assert count(after.text, "unsupported_scheme") - count(before.text, "unsupported_scheme") == 2


@pytest.mark.anyio
@pytest.mark.usefixtures("examples_path")
async def test_webhook_receiver_processes_once_and_refuses_a_replay() -> None:
    module = importlib.import_module("webhook_receiver")
    module.processed.clear()
    asgi = httpx.ASGITransport(module.app)
    signing = HMACSigningTransport(
        secret_key=module.SECRET, scheme="standard-webhooks", transport=asgi
    )
    event = {"type": "invoice.paid", "data": {"id": "in_1"}}
    async with httpx.AsyncClient(transport=signing, base_url="http://receiver") as client:
        first = await client.post("/webhooks", json=event)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "processed" and first.json()["type"] == "invoice.paid"
    delivered = first.request
    async with httpx.AsyncClient(transport=asgi, base_url="http://receiver") as client:
        # The very same delivery again (a captured request): refused before the route.
        replay = await client.post(
            "/webhooks", content=delivered.content, headers=delivered.headers
        )
        assert (replay.status_code, replay.json()["code"]) == (401, "replayed")
        unsigned = await client.post("/webhooks", json=event)
        assert (unsigned.status_code, unsigned.json()["code"]) == (401, "missing_header")
    # The sender's retry of the message, seconds later: same webhook-id, new timestamp
    # and signature. (Within the same second it would be the same delivery: a replay.)
    later = HMACSigningTransport(
        secret_key=module.SECRET,
        scheme="standard-webhooks",
        transport=asgi,
        clock=lambda: time.time() + 5,
    )
    retry_headers = {"webhook-id": delivered.headers["webhook-id"]}
    async with httpx.AsyncClient(transport=later, base_url="http://receiver") as client:
        retry = await client.post("/webhooks", content=delivered.content, headers=retry_headers)
    assert retry.status_code == 200 and retry.json()["status"] == "duplicate"


@pytest.mark.anyio
@pytest.mark.usefixtures("examples_path")
async def test_rfc9421_call_signs_method_path_and_body() -> None:
    module = importlib.import_module("rfc9421_call")
    asgi = httpx.ASGITransport(module.app)
    async with httpx.AsyncClient(
        transport=module.signing_transport(asgi), base_url="http://orders"
    ) as client:
        created = await client.post("/orders", json={"sku": "A-1", "qty": 2})
        deleted = await client.delete("/orders/42")
    assert created.status_code == 201, created.text
    assert created.json() == {"caller": "billing-service", "order": {"sku": "A-1", "qty": 2}}
    assert deleted.json() == {"deleted": "42"}
    # A signed POST /orders replayed as DELETE /orders/42 (destiny-sdk's format would
    # let an empty-bodied one through): the method and path are signed.
    headers = dict(created.request.headers)
    async with httpx.AsyncClient(transport=asgi, base_url="http://orders") as client:
        moved = await client.delete("/orders/42", headers=headers)
    assert (moved.status_code, moved.json()["code"]) == (401, "invalid_signature")


def test_fastapi_to_fastapi_one_command_runs_both_services_and_stops_them() -> None:
    out = run_example("fastapi_to_fastapi.py")
    assert "/invoices/42 -> 200" in out
    # Billing's answer holds what orders said, and orders knew the caller by its keyid.
    assert '"total": 750' in out and '"recorded_for": "billing"' in out
    assert "/orders/42 unsigned -> 401" in out
    assert out.rstrip().endswith("Both services stopped.")


@pytest.mark.anyio
@pytest.mark.usefixtures("examples_path")
async def test_litestar_user_reads_who_signed_and_guards_by_format() -> None:
    module = importlib.import_module("litestar_user")
    asgi = httpx.ASGITransport(module.app)
    destiny = HMACSigningTransport(secret_key=SECRET, client_id=CLIENT, transport=asgi)
    rfc9421 = HMACSigningTransport(
        secret_key=SECRET, key_id="billing-service", scheme="rfc9421", transport=asgi
    )
    refund = {"order_id": 42, "amount": 250}
    async with httpx.AsyncClient(transport=destiny, base_url="http://shop") as client:
        as_client = await client.get("/whoami")
        refused = await client.post("/refunds", json=refund)
    async with httpx.AsyncClient(transport=rfc9421, base_url="http://shop") as client:
        as_service = await client.get("/whoami")
        refunded = await client.post("/refunds", json=refund)
    async with httpx.AsyncClient(transport=asgi, base_url="http://shop") as client:
        unsigned = await client.get("/whoami")
        docs = await client.get("/schema/openapi.json")
    assert as_client.json() == {
        "scheme": "destiny",
        "key_id": str(CLIENT),
        "identity": str(CLIENT),
        "scopes": ["authenticated", "destiny"],
    }
    assert as_service.json() == {
        "scheme": "rfc9421",
        "key_id": "billing-service",
        "identity": "billing-service",
        "scopes": ["authenticated", "rfc9421"],
    }
    assert refused.status_code == 403  # signed, but not in the format the guard wants
    assert refunded.status_code == 201 and refunded.json() == {
        "refunded": refund,
        "by": "billing-service",
    }
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "no_signature")
    assert docs.status_code == 200 and len(docs.json()["paths"]["/whoami"]["get"]["security"]) == 2
