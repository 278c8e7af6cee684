"""Shared fixtures: the async backend, the interop marker, and the secrets-in-logs guard.

The guard looks for every secret in ``_secrets.REGISTRY``: each test secret is made by
``_secrets.secret()``, which registers it, so none is left out of the scan.
"""

from __future__ import annotations

import base64
import importlib.util
import logging
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from _secrets import REGISTRY

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

    ``secrets`` maps a purpose to a secret; it is read again whenever it has grown, so
    a secret registered after the scanner was made is looked for from then on. Records
    are not kept (the load test emits thousands): only leaks are, each as (logger,
    purpose, form), never the secret itself.
    """

    def __init__(self, secrets: Mapping[str, str]) -> None:
        super().__init__(logging.DEBUG)
        self.secrets = secrets
        self.needles: list[tuple[str, str, str]] = []
        self.scanned = 0  # how many of ``secrets`` the needles cover
        self.records = 0
        self.leaks: list[tuple[str, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        if len(self.secrets) != self.scanned:
            self.needles = [
                (purpose, form, text)
                for purpose, secret in list(self.secrets.items())
                for form, text in secret_forms(secret).items()
            ]
            self.scanned = len(self.secrets)
        try:
            text = record.getMessage()
        except Exception:  # a broken format string is still scanned, as given
            text = f"{record.msg} {record.args}"
        if record.exc_info and record.exc_info[1] is not None:
            text += "".join(traceback.format_exception(*record.exc_info))
        text += (record.exc_text or "") + (record.stack_info or "")
        for purpose, form, needle in self.needles:
            if needle in text:
                self.leaks.append((record.name, purpose, form))


@pytest.fixture(autouse=True)
def secret_log_scanner() -> Iterator[SecretScanner]:
    """Capture every log record at DEBUG; fail the test if one holds a known secret."""
    scanner = SecretScanner(REGISTRY)
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
    assert not leaks, f"secrets in log records (logger, purpose, form): {leaks}"
