"""The documentation's code runs: every ``python`` block of README.md and docs/.

A block fenced ``python`` is run unless its first line starts with ``# not run:`` and says
why; each runs in a subprocess of its own (``_docs_block.py`` says what it checks there),
with the environment variables it reads set to test values. docs/development.md states
the convention for the writers of the pages.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from _secrets import REGISTRY, secret
from conftest import secret_forms

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
SOURCES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
NOT_RUN = "# not run:"
# Fences that are never code to run; anything else fails the test below, so a block
# cannot leave the run by its spelling (```py, ```python3).
OTHER_FENCES = {"", "bash", "json", "text"}
ENVIRON = re.compile(
    r"os\.(?:environ\[|environ\.get\(|getenv\(|environ\.setdefault\()\s*[\"'](\w+)[\"']"
)
# Variables that hold no secret, and what a block gets for them.
PLAIN_VALUES = {
    "REDIS_URL": "redis://127.0.0.1:9/0",  # never reached: nothing connects before a request
    "DJANGO_SETTINGS_MODULE": "_docs_django_settings",
}


class Block(NamedTuple):
    where: str  # path:line of the fence, for the test id and tracebacks
    info: str
    code: str


def blocks() -> list[Block]:
    found = []
    for path in SOURCES:
        text = path.read_text("utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            where = f"{path.relative_to(ROOT).as_posix()}:{line}"
            found.append(Block(where, match.group(1).strip(), match.group(2)))
    return found


ALL = blocks()
RUNNABLE = [b for b in ALL if b.info == "python" and not b.code.startswith(NOT_RUN)]


def environment(code: str) -> tuple[dict[str, str], list[str]]:
    """Test values for the variables ``code`` reads, and which of them are secrets."""
    values, secrets = {}, []
    for name in dict.fromkeys(ENVIRON.findall(code)):
        if name in PLAIN_VALUES:
            values[name] = PLAIN_VALUES[name]
        elif "SECRET" in name or name.endswith("_KEY"):
            raw = secret(f"docs code blocks: {name}")
            hook = "WEBHOOK" in name
            values[name] = "whsec_" + base64.b64encode(raw.encode()).decode() if hook else raw
            secrets.append(name)
        else:
            pytest.fail(f"no test value for the environment variable {name}: add one here")
    if "DJANGO_SETTINGS_MODULE" in values:
        values["DJANGO_SECRET_KEY"] = secret("docs code blocks: Django's SECRET_KEY")
    return values, secrets


def run(block: Block, where: Path) -> subprocess.CompletedProcess[str]:
    values, secrets = environment(block.code)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")}
    env |= values
    env["DOCS_SECRET_VARIABLES"] = json.dumps(secrets)
    env["PYTHONPATH"] = str(TESTS)
    where.mkdir()
    return subprocess.run(
        [sys.executable, "-W", "error", str(TESTS / "_docs_block.py"), block.where],
        input=block.code,
        capture_output=True,
        text=True,
        cwd=where,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[Block, Future[Any]]:
    """Every block's run, started together: one subprocess per core at a time."""
    root = tmp_path_factory.mktemp("docs-blocks")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {b: pool.submit(run, b, root / str(i)) for i, b in enumerate(RUNNABLE)}
        wait(futures.values())
    return futures


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.where for b in RUNNABLE])
def test_code_block_runs(block: Block, runs: dict[Block, Future[Any]]) -> None:
    done = runs[block].result()
    output = done.stdout + done.stderr
    leaks = sorted(
        {
            (purpose, form)
            for purpose, value in REGISTRY.items()
            for form, text in secret_forms(value).items()
            if text in output
        }
    )
    assert not leaks, f"{block.where}: secrets in its output (purpose, form): {leaks}"
    assert done.returncode == 0, f"{block.where} failed:\n{done.stderr[-6000:]}"


def test_every_block_is_run_or_says_why_not() -> None:
    fences = {b.info for b in ALL}
    assert fences <= OTHER_FENCES | {"python"}, fences - OTHER_FENCES
    for block in ALL:
        if block.info == "python" and block.code.startswith(NOT_RUN):
            reason = block.code.splitlines()[0].removeprefix(NOT_RUN).strip()
            assert reason, f"{block.where}: say why it is not run"


def test_the_readme_and_the_docs_both_have_blocks_that_run() -> None:
    assert any(b.where.startswith("README.md:") for b in RUNNABLE)
    assert len([b for b in RUNNABLE if b.where.startswith("docs/")]) >= 20
