"""The summary as Markdown tables (``results.md``)."""

from __future__ import annotations

from typing import Any

from _apps import CONFIGS, REFERENCE, TIMED
from _asgi import human_size
from _targets import Target

__all__ = ["markdown"]

_TIME_COLUMNS = tuple(name for name in TIMED if name not in REFERENCE)


def _t(us: float) -> str:
    if abs(us) >= 1000:
        return f"{us / 1000:,.2f} ms"
    return f"{us:,.1f} µs"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _code(m: dict[str, Any], digest_end: str | None) -> str:
    text = f"- Code: hmac_asgi at commit `{m.get('commit')}`"
    if m.get("hmac_asgi_modified"):
        text += " with uncommitted changes"
    text += f" (sources digest `{m.get('source_digest_start')}`)"
    if digest_end and digest_end != m.get("source_digest_start"):
        text += f" — **changed during the run (now `{digest_end}`): results mix two versions**"
    return text


def _machine(m: dict[str, Any], command: str, load_end: Any) -> list[str]:
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    load = "/".join(f"{x:.2f}" for x in m["loadavg_start"])
    load_end = "/".join(f"{x:.2f}" for x in load_end)
    wrk = m["wrk"].split(" Copyright")[0] if m["wrk"] else "httpx (no wrk)"
    return [
        f"- Command: `{command}`",
        f"- Date: {m['date']}",
        f"- Machine: `nproc` = {m['nproc']}, CPU: {m['cpu']}, {m['platform']}",
        f"- Python: {m['python']}; {versions}; load generator: {wrk}",
        f"- Load average (1/5/15 min) at start {load}, at end {load_end}"
        " (a shared 2-core machine: other work was running; medians of interleaved rounds)",
    ]


def _targets(targets: list[Target]) -> list[str]:
    rows = [[t.name, t.goal, t.measured, f"**{t.verdict}**", t.floor or "-"] for t in targets]
    header = ["target", "goal", "measured", "verdict", "floor sketch, same run"]
    return [
        "## Targets",
        "",
        *_table(header, rows),
        "",
        "The last column is the same figure for `_floor.py`'s sketch (the fewest steps that make"
        " our checks, in one function; not a product): where the sketch fails too, the"
        " target is below what a pure-Python verifier reaches on this machine.",
    ]


def _reference(inproc: dict[str, Any]) -> list[str]:
    """The floors beside ours: ratio to the bare framework and µs above it."""
    med, over = inproc["median_us"], inproc["overhead_us"]
    columns = ["starlette_structure", "starlette_floor", "starlette_ours"]
    columns += ["fastapi_floor", "fastapi_ours"]
    columns = [n for n in columns if n in med]
    rows = []
    for size in map(str, inproc["sizes"]):
        if int(size) > 64 * 1024:
            continue
        cells = [
            f"{med[n][size] / med[CONFIGS[n].bare][size]:.2f}x ({over[n][size]:+.1f} µs)"
            for n in columns
        ]
        rows.append([human_size(int(size)), *cells])
    return [
        "## Reference floors (not products)",
        "",
        "Ratio to the same framework bare, and the paired median µs above it. *Buffer and"
        " HMAC only* reads, hashes and replays the body and looks at no header: the least any"
        " pure-ASGI middleware that verifies the body before the app runs can cost. The *floor"
        " sketch* adds the checks the wire format requires (three headers, their forms, the"
        " UUID, freshness, compare) with no structure around them.",
        "",
        *_table(["body", *(CONFIGS[n].label for n in columns)], rows),
    ]


def _malloc_note(mmap: str | None) -> str:
    if mmap is None:
        return " glibc's mmap threshold was adaptive: 1-16 MiB times depend on allocator history."
    return (
        f" glibc's mmap threshold was fixed (`MALLOC_MMAP_THRESHOLD_={mmap}`): every buffer"
        " that large pays the same fresh-page faults in every configuration and run."
    )


def _inprocess(inproc: dict[str, Any], mmap: str | None) -> list[str]:
    med, over, hmac_only = inproc["median_us"], inproc["overhead_us"], inproc["hmac_only"]
    names = [n for n in _TIME_COLUMNS if n in med]
    rows = []
    for size in map(str, inproc["sizes"]):
        row = [human_size(int(size))]
        for name in names:
            cell = _t(med[name][size])
            if CONFIGS[name].bare != name:
                cell += f" ({med[name][size] / med[CONFIGS[name].bare][size]:.2f}x)"
            row.append(cell)
        rows.append([*row, _t(med[hmac_only][size])])
    header = ["body", *(CONFIGS[n].label for n in names), "HMAC alone"]
    out = [
        "## In-process: median time per request",
        "",
        "One asyncio loop, a uvicorn-like scope, the body in fresh 64 KiB `http.request`"
        " messages, a `send` that discards; every configuration round-robin in each round"
        " (rounds x requests per size: "
        + ", ".join(
            f"{human_size(int(s))} {n}x{inproc['batch'][s]}" for s, n in inproc["rounds"].items()
        )
        + "). Ratios are against the same framework bare. Every request was signed"
        " correctly and every answer asserted 200." + _malloc_note(mmap),
        "",
        *_table(header, rows),
        "",
        "## Verification cost above the bare framework",
        "",
        "Median over rounds of (configuration - bare framework) in the same round,"
        " against `hmac.new(key, body, sha256).hexdigest()` over the same bytes.",
        "",
    ]
    rows = []
    for size in map(str, inproc["sizes"]):
        h = med[hmac_only][size]
        ours, f_ours, destiny = (
            over[n][size] for n in ("starlette_ours", "fastapi_ours", "fastapi_destiny")
        )
        rows.append(
            [
                human_size(int(size)),
                _t(h),
                _t(ours),
                f"{ours / h:.2f}x",
                _t(f_ours),
                _t(destiny),
                f"{destiny / f_ours:.1f}x" if f_ours > 0 else "ours below noise",
                _t(over["starlette_basehttp"][size]),
            ]
        )
    header = [
        "body",
        "HMAC alone",
        "Starlette + ours - bare",
        "÷ HMAC alone",
        "FastAPI + ours - bare",
        "FastAPI + destiny - bare",
        "destiny ÷ ours",
        "naive BaseHTTP - bare",
    ]
    return out + _table(header, rows)


def _memory(memory: dict[str, Any]) -> list[str]:
    peak, extra = memory["peak_bytes"], memory["extra_ratio"]
    cells = [(mode, size) for mode, sizes in peak.items() for size in sizes]
    names = [n for n in CONFIGS if any(n in peak[m][s] for m, s in cells)]
    rows = []
    for name in names:
        row = [
            CONFIGS[name].label,
            "-" if CONFIGS[name].bare == name else CONFIGS[CONFIGS[name].bare].label,
        ]
        for mode, size in cells:
            value = peak[mode][size].get(name)
            ratio = extra.get(mode, {}).get(size, {}).get(name)
            cell = "-" if value is None else f"{value / 2**20:.1f}"
            row.append(cell if ratio is None else f"{cell} ({ratio:+.3f}x)")
        rows.append(row)
    header = ["configuration", "compared with"]
    header += [f"{human_size(int(size))} {mode}" for mode, size in cells]
    return [
        "## Peak memory per request (MiB; in brackets: extra over the bare app ÷ body size)",
        "",
        "One fresh subprocess per cell; `tracemalloc` = peak of Python allocations during the"
        " request, `rss` = growth of VmHWM over VmRSS before it. The usual endpoint buffers the"
        " body (`await request.body()`), so bare already holds the chunks plus their join"
        " (about 2x); the streaming endpoint (`async for chunk in request.stream()`) holds one"
        " chunk at a time, which shows what verifying before the app runs must buffer.",
        "",
        *_table(header, rows),
    ]


def _http(http: dict[str, Any], meta: dict[str, Any]) -> list[str]:
    rows = []
    for name, r in http.items():
        # Against the same framework bare (destiny-sdk runs on FastAPI), when measured.
        bare = http.get(CONFIGS[name].bare)
        rows.append(
            [
                CONFIGS[name].label,
                f"{r['rps']:,.0f}",
                f"{r['rps'] / http['bare_starlette']['rps']:.2f}x",
                f"{r['rps'] / bare['rps']:.2f}x" if bare else "not measured",
                f"{r['p50_ms']:.2f} ms",
                f"{r['p99_ms']:.2f} ms",
                f"{r['server_cpu_us']:.0f} µs",
                f"{r['server_cpu_us'] - bare['server_cpu_us']:+.0f} µs" if bare else "-",
                f"{r['requests']:,.0f}",
            ]
        )
    header = ["configuration", "req/s", "vs bare Starlette", "vs its bare framework", "p50"]
    header += ["p99", "server CPU / request", "above its bare framework", "requests (all 2xx)"]
    return [
        "## Over HTTP: uvicorn, one 1 KiB signed POST re-sent",
        "",
        f"uvicorn {meta['uvicorn']} (one worker, `--loop asyncio`, `--http {meta['http']}`,"
        f" `--no-access-log`) on 127.0.0.1, loaded by {meta['tool']} with {meta['connections']}"
        f" connections, {meta['rounds']} interleaved runs of {meta['duration']} s each;"
        " medians of the runs. Client and server share the 2 cores. Server CPU per request"
        " (user + system time of the uvicorn process ÷ requests) is the steadier measure."
        " uvicorn runs with glibc's default (adaptive) malloc settings.",
        "",
        *_table(header, rows),
    ]


def markdown(summary: dict[str, Any], targets: list[Target], command: str) -> str:
    lines = ["# hmac_asgi benchmarks", ""]
    lines += _machine(summary["machine"], command, summary["loadavg_end"])
    lines.append(_code(summary["machine"], summary.get("source_digest_end")))
    lines += ["", *_targets(targets)]
    if summary.get("inprocess"):
        mmap = summary["machine"].get("malloc_mmap_threshold")
        lines += ["", *_inprocess(summary["inprocess"], mmap)]
        if any(name in summary["inprocess"]["median_us"] for name in REFERENCE):
            lines += ["", *_reference(summary["inprocess"])]
    if summary.get("memory"):
        lines += ["", *_memory(summary["memory"])]
    if summary.get("http"):
        lines += ["", *_http(summary["http"], summary["http_meta"])]
    lines += ["", "![benchmark plot](results.png)", ""]
    return "\n".join(lines)
