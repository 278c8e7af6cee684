"""The README tells the truth: the worked example, the configuration and error tables."""

from __future__ import annotations

import inspect
import re
import uuid
from pathlib import Path

from hmac_asgi import HMACMiddleware, create_signature
from hmac_asgi._errors import CATALOGUE
from hmac_asgi.schemes.destiny import signed_suffix

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def row(label: str) -> str:
    match = re.search(rf"^\| {re.escape(label)} \| (.+) \|$", README, re.MULTILINE)
    assert match, label
    return match.group(1)


def test_worked_example_is_correct() -> None:
    secret = row("secret").strip("`")
    body = row("body").split("`")[1].encode()
    client_id = row("client id").split("`")[1]
    timestamp = row("timestamp header").split("`")[1]
    message_hex = "".join(re.findall(r"`([0-9a-f]+)`", row("message (53 bytes, hex)")))
    message = body + signed_suffix(uuid.UUID(client_id), timestamp)
    assert message.hex() == message_hex and len(message) == 53
    assert create_signature(secret, body, client_id, timestamp) == row("signature").strip("`")


def test_every_middleware_argument_is_in_the_configuration_table() -> None:
    params = [p for p in inspect.signature(HMACMiddleware).parameters if p != "app"]
    for name in params:
        assert re.search(rf"^\| `{name}` \| ", README, re.MULTILINE), name


def test_every_failure_code_is_in_the_error_table() -> None:
    codes = set(CATALOGUE)
    for code in codes:
        assert f"| `{code}` |" in README, code
