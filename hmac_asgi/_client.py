"""The client half: sign outgoing httpx requests (placeholder, being built)."""

from __future__ import annotations

__all__ = ["HMACSigningAuth", "HMACSigningTransport"]


class HMACSigningAuth:
    """httpx.Auth signing each request (being built)."""


class HMACSigningTransport:
    """httpx transport wrapper signing each request (being built)."""
