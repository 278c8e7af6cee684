"""Every secret of the test suite, registered as it is made.

``secret("purpose")`` makes a test secret (at least 32 bytes, distinct, the same on
every run) and registers it under that purpose; ``secret("purpose", "text")`` registers a
given one: a published vector's, the docs', or one whose shape a test needs (says
why). The log scanner of ``conftest.py`` reads :data:`REGISTRY` as it grows, so a secret
made anywhere (at import, or in the middle of a test) is looked for in every log record
from then on; ``test_secret_registry.py`` fails on a literal that looks like a secret and
did not come through here.

The secrets of the published vectors and of the docs and the examples are registered
here, whichever test uses them.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

__all__ = ["MADE", "REGISTRY", "secret"]

REGISTRY: dict[str, str] = {}  # purpose -> secret text (raw keys as their text)
MADE: set[str] = set()  # the purposes whose secret was made here
MADE_LENGTH = 32  # what a made secret has at least: no WeakSecretWarning


def secret(purpose: str, value: str | None = None) -> str:
    """The secret registered for ``purpose``: made from it, or ``value`` as given.

    Raises:
        ValueError: the purpose holds another secret already, or the value is registered
            for another purpose (one secret, one purpose: a leak names which).
    """
    made = value is None
    if value is None:
        slug = re.sub(r"[^a-z0-9]+", "-", purpose.lower()).strip("-")
        value = f"{slug}-secret-{hashlib.sha256(purpose.encode()).hexdigest()[:24]}"
    known = REGISTRY.get(purpose)
    if known is not None:
        if known != value:
            raise ValueError(f"{purpose!r} has another secret already: give this one a purpose")
        return value
    if value in REGISTRY.values():
        raise ValueError(f"the secret for {purpose!r} is registered for another purpose")
    REGISTRY[purpose] = value
    if made:
        MADE.add(purpose)
    return value


# Published values: tests check them byte for byte, so they are taken as they are.
DESTINY_VECTORS = json.loads(
    (Path(__file__).parent / "data" / "destiny-signatures.json").read_text("utf-8")
)
for index, value in enumerate(sorted({case["secret_key"] for case in DESTINY_VECTORS["cases"]})):
    secret(f"destiny-sdk vectors' secret {index}", value)
# The docs' worked examples (destiny-sdk's format and RFC 9421), examples/app.py and
# examples/rfc9421_call.py.
README_SECRET = secret(
    "README examples' dev secret", "dev-only-secret-do-not-use-in-production-0123456789"
)
# examples/webhook_receiver.py's whsec_ secret, and its key as text.
EXAMPLE_WEBHOOK_SECRET = secret(
    "examples/webhook_receiver.py", "whsec_ZGV2LW9ubHktd2ViaG9vay1zZWNyZXQtZG8tbm90LXVzZQ=="
)
secret("examples/webhook_receiver.py key", "dev-only-webhook-secret-do-not-use")
# RFC 9421 Appendix B.1.5: the shared key of its hmac-sha256 examples, base64 (registered
# without its padding, so that an unpadded copy is caught too).
RFC9421_B15_KEY_B64 = (
    secret(
        "RFC 9421 B.1.5 key",
        "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ",
    )
    + "=="
)
# The Standard Webhooks spec's vector secret (24 bytes: the size senders give out).
WEBHOOKS_SPEC_SECRET = secret(
    "Standard Webhooks spec vector", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)
