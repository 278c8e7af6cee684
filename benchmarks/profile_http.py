"""Where a server under load spends its CPU: py-spy on uvicorn while wrk loads it.

    python benchmarks/profile_http.py [CONFIG ...] [--seconds 10] [--rate 1000]

For each configuration of ``_apps`` (default: bare Starlette and Starlette +
HMACMiddleware) this starts uvicorn as ``run.py`` does, loads it with wrk (16
connections, the same pre-signed 1 KiB POST), samples it with ``py-spy record``
and prints, per configuration, the share of samples whose innermost hmac_asgi
frame is not the call into the app: the CPU that verification itself takes on
a real server. Then the functions and lines that take it. Sampling slows the
server; read shares, not req/s. Needs wrk and py-spy (pip install py-spy) and
permission to ptrace the server (root, or kernel.yama.ptrace_scope = 0).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from _apps import CONFIGS
from _asgi import make_body
from _http_load import _serve, _wrk

PACKAGE = "hmac_asgi/"


def _record(pid: int, seconds: float, rate: int, out: Path) -> None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [spy, "record", "--pid", str(pid), "--duration", str(round(seconds))]
    command += ["--rate", str(rate), "--format", "raw", "--output", str(out), "--nonblocking"]
    subprocess.run(command, check=True, capture_output=True, timeout=seconds + 60)


def _shares(collapsed: Path) -> tuple[int, int, collections.Counter[str]]:
    """(all samples, samples inside our own code, where those were)."""
    total, ours, where = 0, 0, collections.Counter[str]()
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = stack.split(";")
        depths = [d for d, frame in enumerate(frames) if PACKAGE in frame]
        if not depths:
            continue
        inner = frames[depths[-1]]
        # The middleware's __call__ with frames below it is awaiting the app or the
        # server's receive: their CPU, which the bare app spends too.
        if depths[-1] < len(frames) - 1 and "HMACMiddleware.__call__" in inner:
            continue
        ours += n
        where[inner] += n
    return total, ours, where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="*", default=["bare_starlette", "starlette_ours"])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=1000, help="samples per second")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    unknown = set(args.configs) - set(CONFIGS)
    if unknown:
        sys.exit(f"unknown configuration(s) {sorted(unknown)}; choose from {sorted(CONFIGS)}")
    if not shutil.which("wrk"):
        sys.exit("profile_http.py needs wrk on PATH (apt-get install wrk)")
    if not (shutil.which("py-spy") or Path(sys.executable).with_name("py-spy").exists()):
        sys.exit("profile_http.py needs py-spy (pip install py-spy)")
    body = make_body(1024)
    for name in args.configs:
        with tempfile.TemporaryDirectory() as tmp, (Path(tmp) / "log").open("w+b") as log:
            out = Path(tmp) / "stacks.txt"
            with _serve(name, log, None) as server:
                _wrk(server.port, body, 1.0, 16)  # warm up
                spy = threading.Thread(
                    target=_record, args=(server.pid, args.seconds, args.rate, out)
                )
                spy.start()
                load = _wrk(server.port, body, args.seconds + 2, 16)
                spy.join()
            total, ours, where = _shares(out)
        print(f"## {name}: {total} samples, {load['rps']:,.0f} req/s while sampled\n")
        share = ours / max(total, 1)
        print(f"hmac_asgi's own code: {ours} samples, {share:.1%} of the server's CPU\n")
        if ours:
            print("| samples | share | innermost hmac_asgi frame |\n|---|---|---|")
            for frame, n in where.most_common(args.top):
                print(f"| {n} | {n / total:.1%} | `{frame}` |")
            print()


if __name__ == "__main__":
    main()
