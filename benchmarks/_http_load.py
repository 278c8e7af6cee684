"""Over HTTP: one uvicorn per configuration on 127.0.0.1, loaded by wrk in turn.

Each server is checked first (a signed POST gets 200 and the body length; if it
verifies, an unsigned one 401), then loaded round-robin by wrk with one signed
1 KiB POST re-sent (fresh for 300 s; no replay cache): wrk must see only 2xx and
no socket error. Without wrk the servers are still checked, and not loaded.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
from _apps import CONFIGS, make_body, sign

HERE = Path(__file__).resolve().parent
CONNECTIONS = 16
HTTP = "httptools" if importlib.util.find_spec("httptools") else "h11"
_LUA = """\
wrk.method = "POST"
wrk.body = [==[{body}]==]
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests": %.0f, "duration_us": %.0f, "errors": %.0f, "p50_us": %.1f, '
    .. '"p99_us": %.1f}}\\n', summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _cpu_seconds(pid: int) -> float:  # user + system, so far
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _serve(name: str) -> Iterator[tuple[int, str]]:
    """Configuration ``name`` under uvicorn until the block ends: its pid and URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "uvicorn", "_apps:serve", "--factory", "--port", str(port)]
    command += ["--no-access-log", "--loop", "asyncio", "--http", HTTP, "--log-level", "warning"]
    env = {**os.environ, "BENCH_CONFIG": name}
    with tempfile.TemporaryFile() as log:
        # cwd: the benchmarks directory, on sys.path first for `python -m`, holds no hmac_asgi.
        server = subprocess.Popen(command, stdout=log, stderr=log, cwd=HERE, env=env)
        try:
            deadline = time.monotonic() + 30
            while server.poll() is None and time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                time.sleep(0.1)
            else:
                log.seek(0)
                raise RuntimeError(f"uvicorn {name} is not serving:\n{log.read().decode()[-2000:]}")
            yield server.pid, f"http://127.0.0.1:{port}/echo"
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)


def _check(name: str, url: str, body: bytes) -> None:
    answer = httpx.post(url, content=body, headers=sign(body))
    got = (answer.status_code, answer.content)
    assert got == (200, str(len(body)).encode()), f"{name} over HTTP: {got[0]} {got[1][:80]!r}"
    if CONFIGS[name].verifies:
        status = httpx.post(url, content=body).status_code
        assert status == 401, f"{name} over HTTP: unsigned request got {status}, expected 401"


def _wrk(pid: int, url: str, body: bytes, seconds: float) -> dict[str, float]:
    headers = "\n".join(f'wrk.headers["{k.decode()}"] = "{v.decode()}"' for k, v in sign(body))
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(_LUA.format(body=body.decode("ascii"), headers=headers))
        lua.flush()
        command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--timeout"]
        command += ["5s", "-s", lua.name, url]
        cpu = _cpu_seconds(pid)
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        cpu = _cpu_seconds(pid) - cpu
    lines = [x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")]
    assert lines, f"wrk on {url} failed: {done.stderr or done.stdout}"
    raw = json.loads(lines[0].removeprefix("WRKJSON "))
    assert raw["requests"] > 0 and not raw["errors"], f"wrk on {url}: {raw}"
    n = raw["requests"]
    result = {"requests": n, "rps": n / raw["duration_us"] * 1e6, "server_cpu_us": cpu / n * 1e6}
    return result | {"p50_ms": raw["p50_us"] / 1e3, "p99_ms": raw["p99_us"] / 1e3}


def measure_http(
    names: Sequence[str], rounds: int, seconds: float, warmup: float
) -> dict[str, Any] | None:
    """``rounds`` interleaved wrk runs per configuration, medians of the runs; ``None``
    when wrk is not installed (after checking every server's answers)."""
    body = make_body(1024)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(_serve(name)) for name in names}
        for name, (_, url) in servers.items():
            _check(name, url, body)
        if not shutil.which("wrk"):
            print("  over HTTP: every server answered as expected; NOT LOADED: wrk is not on PATH")
            return None
        for name in names:
            _wrk(*servers[name], body, warmup)
        for r in range(rounds):
            for name in [*names[r % len(names) :], *names[: r % len(names)]]:
                runs[name].append(_wrk(*servers[name], body, seconds))
            print(f"  http round {r + 1}/{rounds}: {seconds:g} s per configuration")
    keys = ("rps", "p50_ms", "p99_ms", "server_cpu_us")
    return {
        name: {
            **{k: statistics.median(run[k] for run in rs) for k in keys},
            "requests": sum(run["requests"] for run in rs),
            "runs": rs,
        }
        for name, rs in runs.items()
    }
