"""The version matrix: ``nox`` (or ``make matrix``) runs the fast suite on every supported
Python found on this machine, and on the lowest and the newest supported dependencies.

Sessions (each runs ``pytest -m "not interop and not slow"``):

- ``tests-3.10`` ... ``tests-3.13``: ``.[test]`` as pip resolves it, one per Python. An
  interpreter that is not on this machine is skipped, and said so, not an error.
- ``lowest``: starlette, pydantic, httpx and the server extras (redis, uvicorn, and
  websockets for uvicorn) pinned to the lower bounds in ``pyproject.toml``, on the oldest
  Python found. FastAPI, Litestar, Quart and Django cannot be installed next to a starlette
  that old (FastAPI pins starlette tightly; a framework's own floor is not ours to test), so
  this session runs the core suite without the framework and example test files.
- ``newest``: ``.[test]`` upgraded eagerly to the newest releases, on the newest Python.

Interop with destiny-sdk (Python >= 3.12) and the RFC 9421 and Standard Webhooks peer
libraries stays with ``make interop`` (their test vectors, which need no peer, are in the
fast suite); the load and packaging suite with ``make test-slow``. Virtualenvs are reused
between runs (``.nox/``); ``nox --reuse-venv=no`` rebuilds them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nox
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - nox normally runs from the 3.11 dev venv
    import tomli as tomllib

nox.needs_version = ">=2025.10.14"  # for download_python
nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_venv = "yes"
nox.options.download_python = "never"  # use this machine's interpreters, fetch none
# A Python this machine lacks is skipped (and reported below), also under CI.
nox.options.error_on_missing_interpreters = False

ROOT = Path(__file__).resolve().parent
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")
PYTEST = ("-m", "not interop and not slow", "-q", "-p", "no:cacheprovider")
# Test files that import FastAPI, Litestar, Quart or Django (not installed in `lowest`).
FRAMEWORK_TESTS = (
    "tests/test_frameworks.py",
    "tests/test_examples.py",
    "tests/test_docs_code.py",  # the documentation's examples use every framework
    "tests/test_dependency.py",
    "tests/test_openapi.py",
    "tests/test_identity.py",
    "tests/test_attacks_slow.py",  # hypercorn and h2; slow anyway
)
FRAMEWORKS = {"fastapi", "litestar", "quart", "django", "prometheus-client"}
# Pinned to their lower bound in `lowest`: the runtime dependencies, the server extras, and
# websockets (uvicorn 0.29 imports websockets.legacy, deprecated from websockets 14 on).
LOWEST_PINNED_EXTRAS = ("redis", "demo")
LOWEST_PINNED_TOOLS = {"websockets"}
SHOWN = ("starlette", "pydantic", "httpx", "anyio", "redis", "hiredis", "uvicorn", "websockets")


def _output(*argv: str) -> str | None:
    """What a local command prints, or None when it fails."""
    try:
        # Fixed argv, no shell: interpreters and pyenv found on this machine.
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=True)  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def _works(python: str, version: str) -> bool:
    """Whether ``python`` runs and is the wanted ``X.Y`` (a pyenv shim may be neither)."""
    return _output(python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])") == version


def _pyenv_versions() -> tuple[Path | None, list[str]]:
    """pyenv's root and its installed versions (none when pyenv is absent)."""
    pyenv = shutil.which("pyenv")
    root = _output(pyenv, "root") if pyenv else None
    bare = _output(pyenv, "versions", "--bare") if pyenv else None
    if not root or bare is None:
        return None, []
    return Path(root), bare.split()


def _locate(version: str, root: Path | None, installed: list[str]) -> tuple[str | None, str]:
    """The newest pyenv ``X.Y.Z`` of ``version``, else ``pythonX.Y`` on PATH; or why not."""
    patches = [v for v in installed if re.fullmatch(rf"{re.escape(version)}\.\d+", v)]
    for patch in sorted(patches, key=lambda v: int(v.rsplit(".", 1)[1]), reverse=True):
        python = str(root / "versions" / patch / "bin" / "python") if root else ""
        if python and _works(python, version):
            return python, f"pyenv {patch}"
    on_path = shutil.which(f"python{version}")
    if on_path and _works(on_path, version):
        return on_path, "PATH"
    where = f"no pyenv {version}.x" if root else "no pyenv"
    return None, f"{where}, no working python{version} on PATH"


def _find_pythons() -> list[str]:
    """Locate each supported Python and put its directory first on PATH for nox."""
    root, installed = _pyenv_versions()
    found, dirs, lines = [], [], []
    for version in SUPPORTED:
        python, how = _locate(version, root, installed)
        if python is None:
            lines.append(f"  {version}: SKIPPED, {how} (pyenv install {version})")
            continue
        found.append(version)
        dirs.append(str(Path(python).parent))
        lines.append(f"  {version}: {python} ({how})")
    # nox looks interpreters up by name (python3.12); pyenv's shims answer only for the
    # active version, so the real bin directories go first.
    os.environ["PATH"] = os.pathsep.join([*dict.fromkeys(dirs), os.environ.get("PATH", "")])
    print("nox: Pythons for the matrix\n" + "\n".join(lines), file=sys.stderr)
    return found


FOUND = _find_pythons()
OLDEST = FOUND[0] if FOUND else SUPPORTED[0]
NEWEST = FOUND[-1] if FOUND else SUPPORTED[-1]


def _pyproject() -> dict[str, Any]:
    with open(ROOT / "pyproject.toml", "rb") as file:
        project: dict[str, Any] = tomllib.load(file)["project"]
    return project


def _floor(requirement: Requirement) -> str | None:
    floors = [spec.version for spec in requirement.specifier if spec.operator == ">="]
    return floors[0] if floors else None


def _lowest_constraints() -> list[str]:
    """``name==floor`` for every dependency whose lower bound `lowest` tests."""
    project = _pyproject()
    extras = project["optional-dependencies"]
    wanted = [Requirement(text) for text in project["dependencies"]]
    for extra in LOWEST_PINNED_EXTRAS:
        wanted += [Requirement(text) for text in extras[extra]]
    wanted += [r for r in map(Requirement, extras["test"]) if r.name in LOWEST_PINNED_TOOLS]
    pins = []
    for requirement in wanted:
        floor = _floor(requirement)
        if floor is None:
            raise ValueError(f"{requirement} has no lower bound (>=) in pyproject.toml")
        pins.append(f"{requirement.name}=={floor}")
    return pins


def _core_test_tools() -> list[str]:
    """The test extra without the frameworks (and without ourselves)."""
    tools = [Requirement(text) for text in _pyproject()["optional-dependencies"]["test"]]
    return [str(r) for r in tools if r.name not in FRAMEWORKS and r.name != "hmac-asgi"]


def _show_versions(session: nox.Session) -> None:
    """Print the interpreter and the versions under test, for the log."""
    script = (
        "import importlib.metadata as m, sys; "
        "print('python', sys.version.split()[0], sys.base_prefix, "
        f"*[f'{{n}}=={{m.version(n)}}' for n in {SHOWN!r}])"
    )
    session.run("python", "-c", script, silent=False)


@nox.session(python=list(SUPPORTED))
def tests(session: nox.Session) -> None:
    """The fast suite on one Python, with `.[test]` as pip resolves it."""
    session.install("-e", ".[test]")
    _show_versions(session)
    session.run("pytest", *PYTEST, *session.posargs)


@nox.session(python=OLDEST)
def lowest(session: nox.Session) -> None:
    """The core suite on the lower bounds of pyproject.toml (frameworks excluded)."""
    pins = _lowest_constraints()
    constraints = Path(session.create_tmp()) / "lowest-constraints.txt"
    constraints.write_text("\n".join(pins) + "\n")
    session.log("pinned: " + " ".join(pins))
    session.install("-c", str(constraints), "-e", ".[redis,demo]", *_core_test_tools())
    _show_versions(session)
    ignored = [f"--ignore={path}" for path in FRAMEWORK_TESTS]
    # This test asserts httpx's own query encoding (`a+b` since httpx 0.28, `a%20b`
    # before), not ours: the transport passes the URL through untouched either way.
    httpx_encoding = "--deselect=tests/test_client.py::test_transport_get_with_query_string"
    session.run("pytest", *PYTEST, *ignored, httpx_encoding, *session.posargs)


@nox.session(python=NEWEST)
def newest(session: nox.Session) -> None:
    """The fast suite with every dependency upgraded to its newest release."""
    session.install("--upgrade", "--upgrade-strategy", "eager", "-e", ".[test]")
    _show_versions(session)
    session.run("pytest", *PYTEST, *session.posargs)
