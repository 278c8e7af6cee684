"""Shared fixtures: the async backend, the interop marker, and the secrets-in-logs guard."""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from _helpers import SECRET
from _scheme_helpers import SCHEME_SECRETS

INTEROP_DIR = Path(__file__).parent / "interop"

# What tests/interop imports: destiny-sdk (Python >= 3.12) and the peer libraries of the
# other two formats. `make interop` installs them all in a venv of its own; elsewhere the
# folder is not collected (and `make interop` fails when it collects no test at all).
INTEROP_MODULES = (
    "destiny_sdk",
    "http_message_signatures",
    "requests_http_signature",
    "standardwebhooks",
    "requests",
)

if any(importlib.util.find_spec(name) is None for name in INTEROP_MODULES):
    collect_ignore = ["interop"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything under tests/interop needs the interop venv (Python >= 3.12).
    for item in items:
        if INTEROP_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.interop)


# The secrets the suite signs with. Every log record of every test is scanned for
# each of them, raw and encoded (see `_secrets_never_logged`).
KNOWN_SECRETS = [
    SECRET,  # tests/_helpers.py
    "old-secret-0123456789abcdef-0123456789abcdef",  # test_keys.py
    "new-secret-0123456789abcdef-0123456789abcdef",
    "other-secret-0123456789abcdef-0123456789abcdef",
    "bytes-secret-0123456789abcdef-0123456789",
    "another-secret-another-secret-another",  # test_hostile.py
    "another " + SECRET,  # test_client.py
    "old-secret-" + "o" * 32,  # test_middleware.py
    "new-secret-" + "n" * 32,
    "short-secret",
    "dev-only-secret-do-not-use-in-production-0123456789",  # examples/, README
    "wrong-secret-for-explain-0123456789abcdef",  # test_explain.py
    "whsec_ZGV2LW9ubHktd2ViaG9vay1zZWNyZXQtZG8tbm90LXVzZQ==",  # examples/webhook_receiver.py
    "dev-only-webhook-secret-do-not-use",  # its key, decoded
    "rotated-secret-for-timing-0123456789abcdef",  # test_timing.py
    "second-client-secret-0123456789abcdef-01234",  # test_load.py, test_secret_hygiene.py
    "cli-argv-secret-0123456789abcdef-0123456789",  # test_attacks.py
    "-cli-dash-secret-0123456789abcdef-0123456",
    "echo-secret-0123456789abcdef-0123456789abcdef",
    "0123456789ab4def8123456789abcdef",
    "lookup-bytes-secret-0123456789abcdef-0123",
    "rfc9421-peer-secret-0123456789abcdef-0123",  # interop/test_rfc9421_peers.py
    "rfc9421-wrong-secret-0123456789abcdef-012",
    # Test vectors: RFC 9421 B.1.5's key (base64 of the raw key), the Standard Webhooks
    # spec's secret (test_rfc9421_vectors.py, test_webhooks_vectors.py).
    "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ",
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    # interop/test_webhooks_peers.py: raw keys (their base64 is the whsec_ text).
    "webhook-peer-secret-0123456789abcdef-01",
    "webhook-next-secret-0123456789abcdef-01",
    "webhook-other-secret-0123456789abcdef-0",
    *SCHEME_SECRETS,  # tests/_scheme_helpers.py: RFC 9421 and Standard Webhooks
    *sorted(
        {
            case["secret_key"]
            for case in json.loads(
                (Path(__file__).parent / "data" / "destiny-signatures.json").read_text("utf-8")
            )["cases"]
        }
    ),
]


def secret_forms(secret: str) -> dict[str, str]:
    """How a secret could show up in a log line: raw, hex, base64, or as escaped bytes."""
    raw = secret.encode("utf-8")
    forms = {
        "raw": secret,
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "base64": base64.b64encode(raw).decode("ascii").rstrip("="),
        "base64url": base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="),
    }
    if not raw.isascii():
        forms["bytes-repr"] = repr(raw)[2:-1]  # b'\xc3\xbc...' as printed
    return forms


class SecretScanner(logging.Handler):
    """A DEBUG handler that checks every record, as it is emitted, for a known secret.

    Records are not kept (the load test emits thousands): only leaks are, each as
    (logger, secret index, form), never the secret itself.
    """

    def __init__(self, secrets: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.needles = [
            (index, form, text)
            for index, secret in enumerate(secrets)
            for form, text in secret_forms(secret).items()
        ]
        self.records = 0
        self.leaks: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        try:
            text = record.getMessage()
        except Exception:  # a broken format string is still scanned, as given
            text = f"{record.msg} {record.args}"
        if record.exc_info and record.exc_info[1] is not None:
            text += "".join(traceback.format_exception(*record.exc_info))
        text += (record.exc_text or "") + (record.stack_info or "")
        for index, form, needle in self.needles:
            if needle in text:
                self.leaks.append((record.name, index, form))


@pytest.fixture(autouse=True)
def secret_log_scanner() -> Iterator[SecretScanner]:
    """Capture every log record at DEBUG; fail the test if one holds a known secret."""
    scanner = SecretScanner(KNOWN_SECRETS)
    root = logging.getLogger()
    # uvicorn's own logging config stops its records at "uvicorn" (propagate=False).
    loggers = [root, logging.getLogger("uvicorn"), logging.getLogger("uvicorn.access")]
    level = root.level
    root.setLevel(logging.DEBUG)
    for logger in loggers:
        logger.addHandler(scanner)
    try:
        yield scanner
    finally:
        for logger in loggers:
            logger.removeHandler(scanner)
        root.setLevel(level)
    leaks = sorted(set(scanner.leaks))
    assert not leaks, f"secrets in log records (logger, KNOWN_SECRETS index, form): {leaks}"
