"""The README and the docs tell the truth: the worked example, the configuration and error
tables, and links that lead somewhere.

The reference lives in ``docs/`` (a page per subject); the README summarises it and links
there. The RFC 9421 worked example is checked by ``test_rfc9421.py``, and every Python
block of both by ``test_docs_code.py``.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hmac_asgi import (
    DestinyScheme,
    HMACAuth,
    HMACMiddleware,
    HMACSigningAuth,
    HMACSigningTransport,
    MemoryReplayCache,
    MessageSignatureScheme,
    RedisReplayCache,
    StandardWebhookScheme,
    create_signature,
    hmac_openapi,
)
from hmac_asgi._errors import CATALOGUE
from hmac_asgi.schemes.destiny import signed_suffix

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text("utf-8")
WIRE_FORMAT = (DOCS / "formats" / "destiny.md").read_text("utf-8")
CONFIGURATION = (DOCS / "configuration.md").read_text("utf-8")
ERRORS = (DOCS / "errors.md").read_text("utf-8")


def row(label: str) -> str:
    match = re.search(rf"^\| {re.escape(label)} \| (.+) \|$", WIRE_FORMAT, re.MULTILINE)
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
        assert re.search(rf"^\| `{name}` \| ", CONFIGURATION, re.MULTILINE), name


@pytest.mark.parametrize(
    ("shown", "constructor"),
    [
        ("HMACSigningTransport", HMACSigningTransport),
        ("HMACSigningAuth", HMACSigningAuth),
        ("HMACAuth", HMACAuth),
        ("DestinyScheme", DestinyScheme),
        ("MessageSignatureScheme", MessageSignatureScheme),
        ("StandardWebhookScheme", StandardWebhookScheme),
        ("MemoryReplayCache", MemoryReplayCache),
        ("RedisReplayCache", RedisReplayCache),
        ("RedisReplayCache.from_url", RedisReplayCache.from_url),
        ("RedisReplayCache.from_nodes", RedisReplayCache.from_nodes),
        ("hmac_openapi", hmac_openapi),
    ],
)
def test_the_other_constructors_are_shown_with_every_parameter(
    shown: str, constructor: Callable[..., Any]
) -> None:
    """Their row holds the signature: each parameter, and each default as Python spells it."""
    match = re.search(rf"^\| `{re.escape(shown)}\((.*)\)` \| ", CONFIGURATION, re.MULTILINE)
    assert match, f"{shown} has no row in docs/configuration.md"
    written = match.group(1)
    for name, param in inspect.signature(constructor).parameters.items():
        prefix = "**" if param.kind is param.VAR_KEYWORD else ""
        assert re.search(rf"(^|[ (*]){re.escape(prefix + name)}\b", written), (shown, name)
        if param.default is not param.empty and callable(param.default):
            assert f"{name}=time.time" in written, (shown, name)
        elif param.default is not param.empty:
            default = written.split(f"{name}=", 1)[1]
            value = eval(re.split(r", (?=[a-z_]+=)|, \*", default)[0])  # noqa: S307 - our docs
            assert value == param.default, (shown, name, value)


def test_every_failure_code_is_in_the_error_table() -> None:
    for code in set(CATALOGUE):
        assert f"| `{code}` |" in ERRORS, code


def relative_links(text: str) -> list[str]:
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t.split("#")[0] for t in targets if ":" not in t and not t.startswith("#")]


def test_the_readmes_links_lead_to_files_of_the_repository() -> None:
    """GitHub and the sdist read these as they are: relative, each to a file that exists."""
    links = relative_links(README)
    assert any(link.startswith("docs/") for link in links)
    for link in links:
        assert (ROOT / link).exists(), link


def test_the_readme_links_every_page_of_the_docs_but_the_changelog_and_itself() -> None:
    linked = {ROOT / link for link in relative_links(README)}
    for page in DOCS.rglob("*.md"):
        if page.name != "changelog.md":  # the README links CHANGELOG.md itself
            assert page in linked, f"the README does not link {page.relative_to(ROOT)}"
