"""Benchmark hmac_asgi against bare frameworks, a naive verifier and destiny-sdk.

    python benchmarks/run.py            # full run (< ~10 min), writes benchmarks/results.*
    python benchmarks/run.py --quick    # smoke run (< 60 s), writes to a temporary directory
    python benchmarks/run.py --render benchmarks/results.json   # re-render, measure nothing

Needs Python >= 3.12 with destiny-sdk, fastapi, uvicorn and matplotlib (the
``.venv-interop`` venv plus matplotlib); wrk on PATH for the HTTP part (else a
bounded httpx client). Every measured request is asserted to get its expected
status: a failure exits non-zero. Targets that miss are reported as FAIL; with
``--strict`` they also make the exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:  # _apps imports destiny-sdk (and quiets its import-time warning)
    import _apps  # noqa: F401
except ImportError as exc:
    sys.exit(f"run.py needs destiny-sdk, fastapi, uvicorn (Python >= 3.12: .venv-interop): {exc}")

from _apps import CONFIGS, TIMED
from _http_load import http_impl, load_tool, measure_http
from _inprocess import Plan, measure
from _machine import machine, source_digest
from _memory import MODES, measure_memory
from _plot import plot
from _report import markdown
from _summary import summarise_http, summarise_inprocess, summarise_memory
from _targets import evaluate

HERE = Path(__file__).resolve().parent
_PINNED = "HMAC_BENCH_PINNED_SOURCES"  # set in the child that runs on the copy
_MALLOC_SET = "HMAC_BENCH_MALLOC_SET"  # the mmap threshold is ours, not the user's
KIB, MIB = 1024, 1024 * 1024
SIZES = (0, KIB, 64 * KIB, MIB, 16 * MIB)
HTTP_CONFIGS = (
    "bare_starlette",
    "starlette_ours",
    "bare_fastapi",
    "fastapi_destiny",
    "starlette_structure",
    "starlette_floor",
)


@dataclass(frozen=True)
class Settings:
    plan: Plan
    memory_sizes: tuple[int, ...]
    memory_modes: tuple[str, ...]
    memory_configs: tuple[str, ...]
    http_rounds: int
    http_seconds: float
    http_warmup: float


FULL = Settings(
    plan=Plan(
        rounds=dict(zip(SIZES, (101, 101, 61, 41, 25), strict=True)),
        batch=dict(zip(SIZES, (200, 200, 50, 8, 2), strict=True)),
    ),
    memory_sizes=(16 * MIB, 100 * MIB),
    memory_modes=MODES,
    memory_configs=tuple(CONFIGS),
    http_rounds=3,
    http_seconds=10.0,
    http_warmup=2.0,
)
QUICK = Settings(
    plan=Plan(
        rounds=dict.fromkeys(SIZES, 5),
        batch=dict(zip(SIZES, (20, 20, 5, 2, 1), strict=True)),
        warmup=1,
    ),
    memory_sizes=(16 * MIB,),
    memory_modes=("tracemalloc",),
    memory_configs=(
        "bare_starlette",
        "starlette_ours",
        "streaming_starlette",
        "streaming_starlette_ours",
    ),
    http_rounds=1,
    http_seconds=2.0,
    http_warmup=1.0,
)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few iterations: a smoke test")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--out", type=Path, help="where results.{md,json,png} go")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument(
        "--load-generator",
        choices=("wrk", "httpx"),
        help="over HTTP: default wrk if on PATH, else a bounded httpx client",
    )
    parser.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS_JSON",
        help="measure nothing: re-render results.{md,png} and the targets from a results.json",
    )
    return parser.parse_args()


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    settings = QUICK if args.quick else FULL
    command = shlex.join(["python", "benchmarks/run.py", *sys.argv[1:]])
    started = time.monotonic()
    summary: dict[str, Any] = {"machine": machine(), "command": command}

    print("in-process, interleaved:")
    samples, requests = asyncio.run(measure(TIMED, settings.plan))
    summary["inprocess"] = summarise_inprocess(samples, settings.plan)
    summary["inprocess_requests"] = requests
    if not args.skip_memory:
        print("peak memory, fresh subprocesses:")
        results = measure_memory(
            settings.memory_configs, settings.memory_sizes, settings.memory_modes
        )
        summary["memory"] = summarise_memory(results)
    if not args.skip_http:
        print("over HTTP:")
        tool = args.load_generator or load_tool()
        # Not for uvicorn: a fixed mmap threshold costs it ~25 us of CPU per request
        # (bodies there are 1 KiB; the threshold only steadies the 1-16 MiB timings).
        env = dict(os.environ)
        if env.pop(_MALLOC_SET, None):
            env.pop("MALLOC_MMAP_THRESHOLD_", None)
        runs = measure_http(
            HTTP_CONFIGS,
            rounds=settings.http_rounds,
            duration=settings.http_seconds,
            warmup=settings.http_warmup,
            tool=tool,
            server_env=env,
        )
        summary["http"] = summarise_http(runs)
        summary["http_meta"] = {
            "tool": tool,
            "http": http_impl(),
            "connections": 16,
            "uvicorn": summary["machine"]["versions"].get("uvicorn"),
            "rounds": settings.http_rounds,
            "duration": settings.http_seconds,
        }
    summary["loadavg_end"] = os.getloadavg()
    summary["source_digest_end"] = source_digest()
    summary["seconds"] = round(time.monotonic() - started, 1)
    return summary


def _pinned_run() -> int:
    """Run this script again on a copy of hmac_asgi taken now.

    Other people edit the checkout while a run takes minutes; without a copy the
    server and memory subprocesses could import a newer version than the first
    measurements did. The copy goes first on PYTHONPATH (ahead of the editable
    install's path entry) for the child and every subprocess it starts. The
    child also gets a fixed malloc mmap threshold (see below).
    """
    root = Path(tempfile.mkdtemp(prefix="hmac-bench-src-"))
    try:
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(HERE.parent / "hmac_asgi", root / "hmac_asgi", ignore=ignore)
        path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path, _PINNED: str(root)}
        # glibc adapts its mmap threshold to past frees, so whether a 1-16 MiB buffer
        # costs fresh-page faults changed from run to run (bare 16 MiB: 3-29 ms).
        # Fixed at its 128 KiB default, every large buffer pays them, every time.
        if "MALLOC_MMAP_THRESHOLD_" not in env:
            env |= {"MALLOC_MMAP_THRESHOLD_": "131072", _MALLOC_SET: "1"}
        return subprocess.run([sys.executable, __file__, *sys.argv[1:]], env=env).returncode
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    args = _arguments()
    if not args.render and _PINNED not in os.environ:
        return _pinned_run()
    if _PINNED in os.environ:
        import hmac_asgi

        assert Path(hmac_asgi.__file__).is_relative_to(os.environ[_PINNED]), hmac_asgi.__file__
    if args.render:
        summary = json.loads(args.render.read_text())
        out = args.out or args.render.parent
    else:
        summary = _measure(args)
        out = args.out or (Path(tempfile.mkdtemp(prefix="hmac-bench-")) if args.quick else HERE)
    out.mkdir(parents=True, exist_ok=True)
    targets = evaluate(summary)
    summary["targets"] = [t.as_dict() for t in targets]
    report = markdown(summary, targets, summary["command"])
    (out / "results.md").write_text(report)
    (out / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    plot(summary, out / "results.png")

    print()
    print(report)
    requests = summary["inprocess_requests"]
    print(f"{requests} in-process requests, all asserted 200; {summary['seconds']} s")
    for target in targets:
        floor = f"; floor sketch: {target.floor}" if target.floor else ""
        print(f"{target.verdict}: {target.name}: {target.measured} (goal {target.goal}{floor})")
    print(f"written: {out / 'results.md'}, results.json, results.png")
    failed = any(t.passed is False for t in targets)
    return 1 if (failed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
