"""Shared fixtures: the async backend, and the interop marker for tests/interop/."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

INTEROP_DIR = Path(__file__).parent / "interop"

if importlib.util.find_spec("destiny_sdk") is None:
    # Python < 3.12 has no destiny-sdk: `make interop` runs them in their own venv.
    collect_ignore = ["interop"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything under tests/interop needs destiny-sdk (Python >= 3.12).
    for item in items:
        if INTEROP_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.interop)
