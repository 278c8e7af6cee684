"""What the numbers were measured on: date, CPUs, Python, library versions, load."""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["machine", "source_digest"]

_CHECKOUT = Path(__file__).resolve().parent.parent

_PACKAGES = (
    "hmac-asgi",
    "starlette",
    "fastapi",
    "pydantic",
    "pydantic-core",
    "destiny-sdk",
    "uvicorn",
    "h11",
    "httptools",
    "httpx",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _wrk_version() -> str | None:
    if not shutil.which("wrk"):
        return None
    done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr).splitlines()[0]
    return first.split(" Copyright")[0].strip()  # "wrk 4.1.0 [epoll]"-like


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def source_digest() -> str:
    """A hash of the imported hmac_asgi's sources (equal at start and end: one version)."""
    import hmac_asgi

    digest = hashlib.sha256()
    for path in sorted(Path(hmac_asgi.__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _git(*args: str) -> str | None:
    done = subprocess.run(
        ["git", "-C", str(_CHECKOUT), *args], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


def machine() -> dict[str, object]:
    versions = {name: _version(name) for name in _PACKAGES}
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": _cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "executable": sys.executable,
        "versions": {k: v for k, v in versions.items() if v is not None},
        "wrk": _wrk_version(),
        "loadavg_start": os.getloadavg(),
        "malloc_mmap_threshold": os.environ.get("MALLOC_MMAP_THRESHOLD_"),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "hmac_asgi_modified": bool(_git("status", "--porcelain", "--", "hmac_asgi")),
        "source_digest_start": source_digest(),
    }
