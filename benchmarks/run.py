"""Benchmark hmac_asgi against bare frameworks, a naive verifier and destiny-sdk.

    python benchmarks/run.py            # full run (~8 min): benchmarks/results.{md,png,json}
    python benchmarks/run.py --quick    # smoke run (< 90 s), written to a temporary directory

Needs Python >= 3.12 with destiny-sdk, fastapi, uvicorn, redis and matplotlib (``make
bench`` uses ``.venv-interop``, and adds hiredis), redis-server and redis-cli (the replay
caches' servers are started on 127.0.0.1), and wrk on PATH to load the servers. Every
answer is asserted (a wrong one exits non-zero); a missed target is only a FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import datetime
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

try:  # _apps imports destiny-sdk (and quiets its import-time warning)
    from _apps import TIMED
except ImportError as exc:
    sys.exit(f"run.py needs destiny-sdk, fastapi, uvicorn (Python >= 3.12: .venv-interop): {exc}")

from _client_bench import measure_client
from _http_load import CONNECTIONS, HTTP, measure_http
from _inprocess import measure, measure_memory
from _replay_bench import measure_replay
from _report import markdown, plot, targets
from _schemes import measure_schemes

HERE = Path(__file__).resolve().parent
MIB = 1 << 20
SIZES = (0, 1024, 64 * 1024, MIB, 16 * MIB)
HTTP_CONFIGS = ("bare_starlette", "starlette_ours", "bare_fastapi", "fastapi_destiny")
HTTP_CONFIGS += ("starlette_structure", "starlette_floor")
VERSIONS = ("hmac-asgi", "starlette", "fastapi", "pydantic", "pydantic-core", "destiny-sdk")
VERSIONS += ("uvicorn", "h11", "httptools", "httpx", "redis", "hiredis")
STREAMING = ["streaming", "streaming_ours"]
# In process, per size: (rounds, requests per round), and warm-up batches; memory:
# configurations and sizes; over HTTP: rounds, seconds per run, seconds of warm-up.
FULL = {
    "plan": dict(zip(SIZES, [(101, 200), (101, 200), (61, 50), (41, 8), (25, 2)], strict=True)),
    "warmup": 3,
    "memory": ([*TIMED, *STREAMING], (16 * MIB, 100 * MIB)),
    "http": (3, 10.0, 2.0),
    "schemes": (61, 200),
    "client": (41, 300),  # rounds x calls per client
    "replay": (41, 320, (3, 10.0, 2.0)),  # rounds x requests in process; HTTP as above
}
QUICK = {
    "plan": dict(zip(SIZES, [(5, 20), (5, 20), (5, 5), (5, 2), (5, 1)], strict=True)),
    "warmup": 1,
    "memory": (["bare_starlette", "starlette_ours", *STREAMING], (16 * MIB,)),
    "http": (1, 2.0, 1.0),
    "schemes": (3, 20),
    "client": (3, 30),
    "replay": (3, 64, (1, 2.0, 1.0)),
}


def _fix_mmap_threshold(threshold: int = 128 * 1024) -> int | None:
    """Fix glibc's mmap threshold in this process, so that whether a 1-16 MiB buffer
    costs fresh-page faults no longer depends on past frees (bare 16 MiB read 3-29
    ms). Not in the uvicorn servers: there it costs ~25 us of CPU per request."""
    try:
        done = ctypes.CDLL(None).mallopt(-3, threshold)  # -3: M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # not glibc
        return None
    return threshold if done == 1 else None


def _machine() -> dict[str, Any]:
    """What the numbers were measured on."""

    def run(*command: str) -> str:  # stdout, whatever the exit status (`wrk --version`: 1)
        return subprocess.run(command, capture_output=True, text=True, cwd=HERE).stdout.strip()

    def version(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    cpus = [x for x in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in x]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpus[0].split(":", 1)[1].strip() if cpus else platform.processor(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "versions": {p: v for p in VERSIONS if (v := version(p))},
        "wrk": run("wrk", "--version").split(" Copyright")[0] if shutil.which("wrk") else None,
        "load": os.getloadavg(),
        "commit": run("git", "rev-parse", "--short", "HEAD"),
        "modified": bool(run("git", "status", "--porcelain", "--", "../hmac_asgi")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few iterations: a smoke test")
    settings = QUICK if parser.parse_args().quick else FULL
    started = time.monotonic()
    machine = {**_machine(), "mmap_threshold": _fix_mmap_threshold()}
    command = shlex.join(["python", "benchmarks/run.py", *sys.argv[1:]])
    summary: dict[str, Any] = {"command": command, "machine": machine}
    print("in-process, interleaved:")
    summary["inprocess"] = asyncio.run(measure(TIMED, settings["plan"], settings["warmup"]))
    print("three wire formats:")
    summary["schemes"] = asyncio.run(measure_schemes(*settings["schemes"]))
    print("the client half (httpx.MockTransport):")
    summary["client"] = measure_client(*settings["client"])
    print("replay caches (a redis-server and a 3-master Redis Cluster on 127.0.0.1):")
    summary["replay"] = measure_replay(*settings["replay"])
    print("peak memory per request:")
    summary["memory"] = asyncio.run(measure_memory(*settings["memory"]))
    print("over HTTP:")
    rounds, seconds, warmup = settings["http"]
    summary["http"] = measure_http(HTTP_CONFIGS, rounds, seconds, warmup)
    summary["http_meta"] = {"http": HTTP, "uvicorn": machine["versions"].get("uvicorn")}
    summary["http_meta"] |= {"rounds": rounds, "seconds": seconds, "connections": CONNECTIONS}
    machine["load_end"] = os.getloadavg()
    summary["seconds"] = round(time.monotonic() - started, 1)

    out = Path(tempfile.mkdtemp(prefix="hmac-bench-")) if settings is QUICK else HERE
    found = targets(summary)
    summary["targets"] = [t._asdict() for t in found]
    (out / "results.md").write_text(report := markdown(summary, found))
    (out / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    plot(summary, out / "results.png")
    print(f"\n{report}\nwritten: {out / 'results.md'}, results.png, results.json")


if __name__ == "__main__":
    main()
