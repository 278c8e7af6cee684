"""Peak memory of one big request, each configuration in a fresh subprocess.

Run as a script (``python benchmarks/_memory.py CONFIG SIZE MODE``) it builds the
app, warms it up with a 1 KiB request, makes the body and signs it, then measures
one request of ``SIZE`` bytes and prints one JSON line. Two modes:

- ``tracemalloc``: peak of the Python allocations made during the request;
- ``rss``: growth of the resident set high-water mark (``VmHWM``, reset through
  ``/proc/self/clear_refs`` first) over the resident set before the request.

Bodies arrive as fresh 64 KiB slices, as a server would read them, so the
chunks the server hands over count too.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["measure_memory"]

MODES = ("tracemalloc", "rss")


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # 5: reset the peak RSS
    except OSError:
        return False
    return True


async def _child(name: str, size: int, mode: str) -> dict[str, object]:
    from _apps import CONFIGS
    from _asgi import Exchange, make_body, sign

    app = CONFIGS[name].factory()
    small = make_body(1024)
    assert (await Exchange(app, small, sign(small))())[0] == 200
    body = make_body(size)
    exchange = Exchange(app, body, sign(body))
    gc.collect()
    result: dict[str, object] = {"config": name, "size": size, "mode": mode}
    if mode == "tracemalloc":
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        status, text = await exchange(keep_body=True)
        result["peak_bytes"] = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    else:
        rss_before = _status_kib("VmRSS")
        result["hwm_reset"] = _reset_hwm()
        status, text = await exchange(keep_body=True)
        result["peak_bytes"] = max(0, _status_kib("VmHWM") - rss_before) * 1024
    assert (status, text) == (200, str(size).encode()), f"{name}: {status} {text[:80]!r}"
    return result


def measure_memory(
    names: Sequence[str],
    sizes: Sequence[int],
    modes: Sequence[str] = MODES,
    progress: Callable[[str], None] = print,
    timeout: float = 180.0,
) -> list[dict[str, object]]:
    """One fresh subprocess per (mode, size, configuration); returns their results."""
    results = []
    for mode in modes:
        for size in sizes:
            for name in names:
                done = subprocess.run(
                    [sys.executable, __file__, name, str(size), mode],
                    capture_output=True,
                    text=True,
                    timeout=timeout,  # the child is killed if it overruns
                    check=False,
                )
                if done.returncode != 0:
                    raise RuntimeError(f"memory child {name} {size} {mode} failed:\n{done.stderr}")
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            progress(f"  memory {mode:>11} {size >> 20:>4} MiB: {len(names)} subprocesses")
    return results


if __name__ == "__main__":
    config, size_text, mode_name = sys.argv[1:4]
    print(json.dumps(asyncio.run(_child(config, int(size_text), mode_name))))
