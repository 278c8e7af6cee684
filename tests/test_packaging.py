"""Packaging: the sdist and wheel build, pass twine, and install into a fresh venv.

Slow (a real ``python -m build`` and a pip install from the registry): run by
``make test-slow`` and CI. ``python -m build`` builds the wheel *from the sdist*, so a
file the sdist forgets breaks the build here rather than for a user.
"""

from __future__ import annotations

import base64
import email
import json
import os
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

import hmac_asgi

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
NAME = "hmac_asgi"
# Never in an sdist: virtualenvs, caches, build output, bytecode.
UNWANTED = {
    ".venv",
    ".venv-interop",
    ".nox",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    ".git",
    "dist",
    "build",
}


def run(*argv: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(arg) for arg in argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, ROOT)
    return out


def only(directory: Path, pattern: str) -> Path:
    (found,) = directory.glob(pattern)
    return found


def wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(name))


def test_build_makes_one_wheel_and_one_sdist_that_pass_twine(dist: Path) -> None:
    wheel = only(dist, "*.whl")
    sdist = only(dist, "*.tar.gz")
    assert wheel.name == f"{NAME}-{hmac_asgi.__version__}-py3-none-any.whl"
    assert sdist.name == f"{NAME}-{hmac_asgi.__version__}.tar.gz"
    out = run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist)
    assert out.count("PASSED") == 2, out


def test_wheel_metadata_version_is_the_package_version(dist: Path) -> None:
    metadata = wheel_metadata(only(dist, "*.whl"))
    assert metadata["Version"] == hmac_asgi.__version__  # single-sourced in __init__.py
    assert metadata["Requires-Python"] == ">=3.10"
    assert metadata["License-Expression"] == "MIT"
    assert metadata["Description-Content-Type"] == "text/markdown"
    requires = metadata.get_all("Requires-Dist") or []
    for dependency in ("starlette", "pydantic", "httpx"):
        assert any(r.startswith(f"{dependency}>=") for r in requires), requires


def test_wheel_ships_py_typed_license_and_console_script(dist: Path) -> None:
    with zipfile.ZipFile(only(dist, "*.whl")) as archive:
        names = set(archive.namelist())
        info = f"{NAME}-{hmac_asgi.__version__}.dist-info"
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert f"{NAME}/py.typed" in names
    assert f"{info}/licenses/LICENSE" in names
    assert "hmac-asgi = hmac_asgi._cli:main" in entry_points
    assert {n.split("/")[0] for n in names} == {NAME, info}  # no tests, no examples


def test_sdist_has_what_building_and_testing_need_and_no_venvs_or_caches(dist: Path) -> None:
    with tarfile.open(only(dist, "*.tar.gz")) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    needed = {
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "SECURITY.md",
        "mkdocs.yml",
        "noxfile.py",
        "hmac_asgi/py.typed",
        "tests/data/destiny-signatures.json",
        "benchmarks/results.png",  # shown by the README
        "benchmarks/results.md",
    }
    needed |= {str(p.relative_to(ROOT)) for p in (ROOT / NAME).glob("*.py")}
    needed |= {str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("*.py")}
    needed |= {str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*.py")}
    # The tests read the docs (tables, worked examples, code blocks), tools/ is in mkdocs.yml.
    needed |= {str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md")}
    needed |= {str(p.relative_to(ROOT)) for p in (ROOT / "tools").glob("*.py")}
    assert needed <= names, sorted(needed - names)
    unwanted = sorted(
        n for n in names if UNWANTED & set(Path(n).parts) or n.endswith((".pyc", ".coverage"))
    )
    assert not unwanted


def test_wheel_installs_into_a_fresh_venv_and_runs(dist: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    wheel = only(dist, "*.whl")
    run(bin_dir / "python", "-m", "pip", "install", "-q", wheel, env=env)

    # From tmp_path, so that the checkout's hmac_asgi/ cannot shadow the installed one.
    probe = (
        "import hmac_asgi, importlib.metadata as m, json, pathlib; "
        "here = pathlib.Path(hmac_asgi.__file__).parent; "
        "print(json.dumps({'version': hmac_asgi.__version__, 'dist': m.version('hmac-asgi'), "
        "'where': str(here), 'typed': (here / 'py.typed').is_file()}))"
    )
    found = json.loads(run(bin_dir / "python", "-c", probe, cwd=tmp_path, env=env))
    assert found["version"] == found["dist"] == wheel_metadata(wheel)["Version"]
    assert Path(found["where"]).is_relative_to(env_dir)
    assert found["typed"]

    secret = run(bin_dir / "hmac-asgi", "keygen", cwd=tmp_path, env=env).strip()
    assert len(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))) == 32
    signed = run(
        bin_dir / "hmac-asgi",
        "sign",
        "--secret-env",
        "ORDERS_SECRET",
        "--client-id",
        "01938a6e-7d2b-7c4e-9f1a-2b3c4d5e6f70",
        "--data",
        "{}",
        "--timestamp",
        "1732838400.5",
        cwd=tmp_path,
        env={**env, "ORDERS_SECRET": secret},
    )
    expected = hmac_asgi.create_signature(
        secret, b"{}", "01938a6e-7d2b-7c4e-9f1a-2b3c4d5e6f70", "1732838400.5"
    )
    assert f"Authorization: Signature {expected}" in signed.splitlines()
