"""Over HTTP: each app under uvicorn on 127.0.0.1, loaded by wrk for a bounded time.

One uvicorn process per configuration (one worker, ``--loop asyncio``, httptools
if installed else h11, no access log), all started up front and always terminated.
Each is checked first (a signed POST gets 200 and the body length, an unsigned one
401), then loaded round-robin with one pre-signed 1 KiB POST re-sent for the whole
run: fine, because the timestamp stays fresh (max_age 300 s) and no replay cache
is configured. wrk must see no non-2xx answer and no socket error. Without wrk, a
bounded httpx client stands in (much slower itself: compare only within a run).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, NamedTuple

from _apps import CONFIGS
from _asgi import Headers, make_body, sign

__all__ = ["http_impl", "load_tool", "measure_http"]

HOST = "127.0.0.1"
HERE = Path(__file__).resolve().parent

_LUA = """\
wrk.method = "POST"
wrk.path = "/echo"
wrk.body = [==[{body}]==]
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests": %.0f, "duration_us": %.0f, "non2xx": %.0f, "connect": %.0f, '
    .. '"read": %.0f, "write": %.0f, "timeout": %.0f, "p50_us": %.1f, "p99_us": %.1f}}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def http_impl() -> str:
    return "httptools" if importlib.util.find_spec("httptools") else "h11"


def load_tool() -> str:
    return "wrk" if shutil.which("wrk") else "httpx"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server(NamedTuple):
    pid: int
    port: int


@contextlib.contextmanager
def _serve(name: str, log: IO[bytes], env: Mapping[str, str] | None) -> Iterator[Server]:
    """Run ``_apps:<name>`` under uvicorn until the block ends (always terminated)."""
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", f"_apps:{name}", "--factory"]
    command += ["--app-dir", str(HERE), "--host", HOST, "--port", str(port), "--workers", "1"]
    command += ["--no-access-log", "--loop", "asyncio", "--http", http_impl()]
    command += ["--log-level", "warning", "--timeout-graceful-shutdown", "2"]
    # cwd: `python -m` puts it first on sys.path; the benchmarks directory holds no
    # hmac_asgi, so the server imports the same (pinned) copy as run.py does.
    server = subprocess.Popen(command, stdout=log, stderr=log, cwd=HERE, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"uvicorn {name} exited:\n{log.read().decode()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"uvicorn {name} did not listen on {port} within 30 s")
            time.sleep(0.1)
        yield Server(server.pid, port)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _post(port: int, body: bytes, auth: Headers) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        headers = {k.decode(): v.decode() for k, v in auth}
        headers["Content-Type"] = "application/octet-stream"
        conn.request("POST", "/echo", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _check(name: str, port: int, body: bytes) -> None:
    status, text = _post(port, body, sign(body))
    assert (status, text) == (200, str(len(body)).encode()), f"{name}: {status} {text[:80]!r}"
    if CONFIGS[name].signed:
        status, _ = _post(port, body, [])
        assert status == 401, f"{name} over HTTP: unsigned request got {status}, expected 401"


def _wrk(port: int, body: bytes, duration: float, connections: int) -> dict[str, float]:
    headers = "\n".join(f'wrk.headers["{k.decode()}"] = "{v.decode()}"' for k, v in sign(body))
    script = _LUA.format(body=body.decode("ascii"), headers=headers)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        done = subprocess.run(
            [
                *("wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s"),
                *("--timeout", "5s", "-s", lua.name, f"http://{HOST}:{port}/echo"),
            ],
            capture_output=True,
            text=True,
            timeout=duration + 60,
            check=True,
        )
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRKJSON "))
    raw = json.loads(line.removeprefix("WRKJSON "))
    errors = {k: raw[k] for k in ("non2xx", "connect", "read", "write", "timeout") if raw[k]}
    assert raw["requests"] > 0 and not errors, f"wrk on port {port}: {errors or 'no requests'}"
    return {
        "requests": raw["requests"],
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1e3,
        "p99_ms": raw["p99_us"] / 1e3,
    }


async def _httpx_load(port: int, body: bytes, duration: float, workers: int) -> dict[str, float]:
    import httpx

    headers = {k.decode(): v.decode() for k, v in sign(body)}
    latencies: list[float] = []
    statuses: list[int] = []
    deadline = time.perf_counter() + duration

    async def worker(client: httpx.AsyncClient) -> None:
        while (start := time.perf_counter()) < deadline:
            response = await client.post("/echo", content=body, headers=headers)
            latencies.append(time.perf_counter() - start)
            statuses.append(response.status_code)

    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=5) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(workers)))
        elapsed = time.perf_counter() - started
    bad = sum(s != 200 for s in statuses)
    assert latencies and not bad, f"httpx load on port {port}: {bad} non-200"
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": cuts[49] * 1e3,
        "p99_ms": cuts[98] * 1e3,
    }


def measure_http(
    names: Sequence[str],
    rounds: int,
    duration: float,
    connections: int = 16,
    warmup: float = 1.0,
    tool: str | None = None,
    server_env: Mapping[str, str] | None = None,
    progress: Callable[[str], None] = print,
) -> dict[str, list[dict[str, float]]]:
    """Run ``rounds`` interleaved load runs per configuration; one result per run.

    ``tool``: "wrk" or "httpx"; by default wrk when it is on PATH.
    ``server_env``: uvicorn's environment (default: this process's).
    """
    body = make_body(1024)
    tool = tool or load_tool()
    results: dict[str, list[dict[str, float]]] = {name: [] for name in names}

    def load(server: Server, seconds: float) -> dict[str, float]:
        cpu = _cpu_seconds(server.pid)
        if tool == "wrk":
            result = _wrk(server.port, body, seconds, connections)
        else:
            result = asyncio.run(_httpx_load(server.port, body, seconds, connections))
        # Server CPU per request: less sensitive than req/s to the load generator
        # and other work competing for the same two cores.
        result["server_cpu_us"] = (_cpu_seconds(server.pid) - cpu) / result["requests"] * 1e6
        return result

    with contextlib.ExitStack() as stack:
        servers = {}
        for name in names:
            log = stack.enter_context(tempfile.TemporaryFile())
            servers[name] = stack.enter_context(_serve(name, log, server_env))
            _check(name, servers[name].port, body)
            if warmup:
                load(servers[name], warmup)
        for r in range(rounds):
            turn = r % len(names)
            for name in [*names[turn:], *names[:turn]]:
                results[name].append(load(servers[name], duration))
            progress(f"  http round {r + 1}/{rounds}: {duration:g} s per configuration ({tool})")
    return results
