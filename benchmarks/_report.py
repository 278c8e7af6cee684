"""One run's summary as targets, Markdown tables (``results.md``) and a plot (``results.png``).

The targets are the ones the docs' Benchmarks page (docs/benchmarks.md) reports against, each
shown next to the same figure for ``_floor.py``'s sketch from the same run.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any, NamedTuple

from _apps import CONFIGS, TIMED, human_size
from _inprocess import HMAC_ONLY

KIB, BIG = str(1024), str(16 << 20)
LABELS = {**{n: c.label for n, c in CONFIGS.items()}, HMAC_ONLY: "HMAC alone"}
# Colour: what is added to the framework; dashes: the framework.
COLOURS = {"ours": "tab:blue", "basehttp": "tab:orange", "destiny": "tab:red", HMAC_ONLY: "k"}
COLOURS |= {"structure": "tab:purple", "floor": "tab:green", "bare": "tab:gray"}


def _style(name: str) -> tuple[str, str]:
    colour = next(c for key, c in COLOURS.items() if key in name)
    return colour, ":" if name == HMAC_ONLY else "--" if "fastapi" in name else "-"


class Target(NamedTuple):
    name: str
    goal: str
    measured: str
    passed: bool | None  # None: not measured in this run
    floor: str = "-"  # the same figure for the floor sketch

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "n/a"}[self.passed]


GOALS = (  # the targets, in the order of the table
    ("1 KiB signed POST vs bare Starlette", "<= 1.25x"),
    ("FastAPI overhead, destiny / ours (1 KiB)", ">= 20x"),
    ("16 MiB vs (bare Starlette + HMAC alone)", "<= 1.1x"),
    ("extra memory per body byte over bare Starlette", "<= 1.0x"),
    ("HTTP req/s vs bare Starlette (1 KiB)", ">= 0.9x"),
    ("RFC 9421 overhead / destiny-sdk format's (1 KiB)", "<= 2x"),
    ("http-message-signatures verify / our RFC 9421 overhead", ">= 8x"),
    ("Standard Webhooks overhead / destiny-sdk format's", "<= 1.3x"),
    ("Redis replay cost over no cache, 32 in flight (1 KiB)", "<= +35 us"),
    ("HTTP req/s, 2 workers: Redis replay / no cache", ">= 0.85x"),
    ("Memory replay cost over no cache (report only)", "<= +2 us"),
    ("Client overhead, ours / destiny-sdk's HMACSigningAuth (1 KiB)", "<= 1.0x"),
    ("Client overhead over a minimal signing transport", "<= +2 us"),
)


def targets(summary: dict[str, Any]) -> list[Target]:
    """The targets, each against what this run measured."""
    med, over = summary["inprocess"]["median_us"], summary["inprocess"]["overhead_us"]
    found: list[tuple[str, bool | None, str]] = []  # measured, passed, floor

    x = {n: med[n][KIB] / med["bare_starlette"][KIB] for n in med}  # 1 KiB, vs bare Starlette
    floor = f"{x['starlette_floor']:.3f}x (buffer and HMAC only: {x['starlette_structure']:.3f}x)"
    found.append((f"{x['starlette_ours']:.3f}x", x["starlette_ours"] <= 1.25, floor))

    destiny, ours, sketch = (over[f"fastapi_{n}"][KIB] for n in ("destiny", "ours", "floor"))
    ratio = destiny / ours if ours > 0 else math.inf  # ours below the noise: a pass
    measured = f"{ratio:.1f}x" if ours > 0 else "ours below the noise"
    measured += f" (ours {ours:.1f} us, destiny {destiny:.1f} us)"
    floor = f"{destiny / sketch:.1f}x (sketch {sketch:.1f} us)" if sketch > 0 else "below noise"
    found.append((measured, ratio >= 20, floor))

    ratio = med["starlette_ours"][BIG] / (med["bare_starlette"][BIG] + med[HMAC_ONLY][BIG])
    found.append((f"{ratio:.3f}x", ratio <= 1.1, "-"))

    # Judged with the endpoint that buffers the body: does verifying add a copy?
    extra = summary["memory"]["extra_ratio"]
    ratios = {int(size) >> 20: by_name["starlette_ours"] for size, by_name in extra.items()}
    measured = ", ".join(f"{s} MiB: {r:+.3f}x" for s, r in ratios.items())
    found.append((measured, max(ratios.values()) <= 1, "-"))

    if http := summary["http"]:
        bare = http["bare_starlette"]

        def vs_bare(n: str) -> str:
            cpu = http[n]["server_cpu_us"] - bare["server_cpu_us"]
            return f"{http[n]['rps'] / bare['rps']:.3f}x ({cpu:+.0f} us server CPU)"

        passed = http["starlette_ours"]["rps"] >= 0.9 * bare["rps"]
        found.append((vs_bare("starlette_ours"), passed, vs_bare("starlette_floor")))
    else:
        found.append(("not measured", None, "-"))

    schemes = summary["schemes"]
    cost, peer = schemes["overhead_us"], schemes["median_us"]
    rfc, hooks, destiny_cost = cost["rfc9421"], cost["webhooks"], cost["destiny"]
    found.append(
        (
            f"{rfc / destiny_cost:.2f}x ({rfc:.1f} vs {destiny_cost:.1f} us)",
            rfc <= 2 * destiny_cost,
            "-",
        )
    )
    pyauth = peer["pyauth_verify"]
    found.append((f"{pyauth / rfc:.1f}x ({pyauth:.1f} vs {rfc:.1f} us)", pyauth >= 8 * rfc, "-"))
    found.append(
        (f"{hooks / destiny_cost:.2f}x ({hooks:.1f} us)", hooks <= 1.3 * destiny_cost, "-")
    )
    found += _replay_targets(summary["replay"])
    found += _client_targets(summary["client"])
    return [Target(name, goal, *answer) for (name, goal), answer in zip(GOALS, found, strict=True)]


def _replay_targets(replay: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    """Redis at 32 in flight (the parser redis-py picks here, the other beside it), two
    workers over HTTP, and the memory cache (report only: its verdict is informational)."""
    at1, at32 = (replay["inprocess"][c]["overhead_us"] for c in ("1", "32"))
    default = "redis_hiredis" if replay["hiredis"] and "redis_hiredis" in at32 else "redis"
    other = {"redis": "redis_hiredis", "redis_hiredis": "redis"}[default]
    names = {"redis": "pure-Python parser", "redis_hiredis": "hiredis"}
    measured = f"{at32[default]:+.1f} us ({names[default]})"
    if other in at32:
        measured += f"; {names[other]} {at32[other]:+.1f} us"
    found: list[tuple[str, bool | None, str]] = [(measured, at32[default] <= 35, "-")]
    if http := replay["http"]:

        def ratio(name: str) -> float:
            return float(http[name]["rps"] / http["none"]["rps"])

        cpu = http[default]["server_cpu_us"] - http["none"]["server_cpu_us"]
        measured = f"{ratio(default):.3f}x ({names[default]}, {cpu:+.0f} us worker CPU)"
        if other in http:
            measured += f"; {names[other]} {ratio(other):.3f}x"
        found.append((measured, ratio(default) >= 0.85, "-"))
    else:
        found.append(("not measured", None, "-"))
    memory = f"{at1['memory']:+.1f} us (32 in flight: {at32['memory']:+.1f} us)"
    found.append((memory, at1["memory"] <= 2, "-"))
    return found


def _client_targets(client: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    """Ours, the transport and the Auth each, against destiny-sdk's Auth and the minimal
    signer; the verdict is the worse of the two."""
    over = client["overhead_us"]
    destiny, minimal = over["destiny_auth"], over["minimal"]
    ours = {"transport": over["transport"], "Auth": over["auth"]}
    ratios = ", ".join(f"{n} {v / destiny:.2f}x" for n, v in ours.items())
    gaps = ", ".join(f"{n} {v - minimal:+.1f} us" for n, v in ours.items())
    worst = max(ours.values())
    return [
        (f"{ratios} ({destiny:.1f} us)", worst <= destiny, "-"),
        (f"{gaps} (minimal {minimal:.1f} us)", worst <= minimal + 2, "-"),
    ]


def _client(client: dict[str, Any]) -> list[str]:
    from _client_bench import LABELS as CLIENT_LABELS

    med, over = client["median_us"], client["overhead_us"]
    rows = [[CLIENT_LABELS[n], _t(med[n]), _t(over[n]) if n in over else "-"] for n in med]
    return [
        "## The client half: signing a 1 KiB POST with httpx",
        "",
        "A sync `httpx.Client` over `httpx.MockTransport` (no network), plain and through each"
        f" signer ({client['rounds']} rounds x {client['batch']} calls, interleaved); every"
        " signer's headers verified once before timing, every answer asserted 200.",
        "",
        *_table(["client", "median per call", "above plain httpx"], rows),
    ]


def _replay(replay: dict[str, Any]) -> list[str]:
    from _replay_bench import HTTP_LABELS, INFLIGHT
    from _replay_bench import LABELS as REPLAY_LABELS

    rows = []
    for name, label in REPLAY_LABELS.items():
        if name not in replay["inprocess"]["1"]["median_us"]:
            continue
        cells = [label]
        for inflight in map(str, INFLIGHT):
            by = replay["inprocess"][inflight]
            cost = by["overhead_us"].get(name)
            cells.append(
                _t(by["median_us"][name]) + (f" ({cost:+.1f})" if cost is not None else "")
            )
        rows.append(cells)
    spread = ", ".join(f"{n:,}" for n in replay["cluster_keys_per_master"])
    lines = [
        "## Replay caches: 1 KiB signed POST, every request signed afresh",
        "",
        "Starlette + `HMACMiddleware` in process, one request at a time and 32 in flight"
        " (`asyncio.gather` of 32 on one loop: the Redis cache pipelines them); a redis-server"
        " and a Redis Cluster of three masters started on 127.0.0.1 by the benchmark"
        f" ({replay['rounds']} rounds x {replay['batch']} requests per configuration and"
        f" concurrency; keys per master of the cluster: {spread}). In brackets: the median"
        " over rounds of (configuration - no cache) in the same round. The cluster uses"
        " redis-py's default parser (hiredis when installed).",
        "",
        *_table(["configuration", *(f"{c} in flight" for c in INFLIGHT)], rows),
    ]
    if http := replay["http"]:
        meta, bare = http["meta"], http["none"]
        rows = []
        for name, label in HTTP_LABELS.items():
            if name not in http:
                continue
            r = http[name]
            cpu = f"{r['server_cpu_us']:.0f} µs ({r['server_cpu_us'] - bare['server_cpu_us']:+.0f})"
            rows.append(
                [
                    label,
                    f"{r['rps']:,.0f} ({r['rps'] / bare['rps']:.2f}x)",
                    f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f} ms",
                    cpu,
                    f"{r['redis_cpu_us']:.0f} µs" if name != "none" else "-",
                    f"{r['requests']:,.0f}",
                ]
            )
        header = ["configuration", "req/s (vs no cache)", "p50 / p99", "workers' CPU / request"]
        header += ["redis-server CPU / request", "requests (all 2xx)"]
        lines += [
            "",
            f"Over HTTP: uvicorn `--workers 2` sharing one redis-server, wrk with"
            f" {meta['connections']} connections and a fresh signature per request, medians of"
            f" {meta['rounds']} interleaved run(s) of {meta['seconds']:g} s. The listening socket"
            " has TCP_NODELAY (uvicorn's own for `--workers` leaves Nagle on: ~40 ms per"
            " keep-alive response).",
            "",
            *_table(header, rows),
        ]
    return lines


def _t(us: float) -> str:
    return f"{us / 1000:,.2f} ms" if abs(us) >= 1000 else f"{us:,.1f} µs"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _inprocess(inproc: dict[str, Any]) -> list[str]:
    med, over = inproc["median_us"], inproc["overhead_us"]
    plan = ", ".join(f"{human_size(int(s))} {n}x{b}" for s, (n, b) in inproc["plan"].items())
    added = [n for n in TIMED if n in over]
    times, costs = [], []
    for size in inproc["plan"]:
        body, hmac_only = human_size(int(size)), _t(med[HMAC_ONLY][size])
        cells = [_t(med[n][size]) for n in TIMED]
        for i, name in enumerate(TIMED):
            if name in added:
                cells[i] += f" ({med[name][size] / med[CONFIGS[name].bare][size]:.2f}x)"
        times.append([body, *cells, hmac_only])
        ours, destiny = over["fastapi_ours"][size], over["fastapi_destiny"][size]
        ratio = f"{destiny / ours:.1f}x" if ours > 0 else "ours below noise"
        costs.append([body, hmac_only, *(_t(over[n][size]) for n in added), ratio])
    return [
        "## In-process: median time per request",
        "",
        "One asyncio loop, a uvicorn-like scope, the body in fresh 64 KiB messages; every"
        f" configuration in each round (rounds x requests: {plan}); {inproc['requests']:,}"
        " requests, each answer asserted 200. In brackets: against the same framework bare."
        " *(reference)*: `_floor.py`, not products (*buffer and HMAC only* reads no header).",
        "",
        *_table(["body", *(LABELS[n] for n in TIMED), "HMAC alone"], times),
        "",
        "## Verification cost above the bare framework",
        "",
        "Median over rounds of (configuration - its bare framework) in the same round; HMAC"
        " alone is `hmac.new(key, body, sha256).hexdigest()` over the same bytes.",
        "",
        *_table(["body", "HMAC alone", *(LABELS[n] for n in added), "destiny ÷ ours"], costs),
    ]


def _memory(memory: dict[str, Any]) -> list[str]:
    peak, extra = memory["peak_bytes"], memory["extra_ratio"]
    rows = []
    for name in [n for n in CONFIGS if n in next(iter(peak.values()))]:
        cells = [f"{by_name[name] / 2**20:.1f}" for by_name in peak.values()]
        for i, size in enumerate(peak):
            if name in extra[size]:
                cells[i] += f" ({extra[size][name]:+.3f}x)"
        rows.append([LABELS[name], *cells])
    return [
        "## Peak memory per request (MiB; in brackets: extra over the bare app ÷ body size)",
        "",
        "`tracemalloc`'s peak during one request. An endpoint that reads the body already holds"
        " it about twice (chunks and join); the streaming one holds a chunk at a time, which"
        " shows what verifying before the app runs must buffer.",
        "",
        *_table(["configuration", *(human_size(int(s)) for s in peak)], rows),
    ]


def _http(http: dict[str, Any], meta: dict[str, Any]) -> list[str]:
    rows = []
    for name, r in http.items():
        bare = http[CONFIGS[name].bare]
        cpu = f"{r['server_cpu_us']:.0f} µs ({r['server_cpu_us'] - bare['server_cpu_us']:+.0f})"
        latency = f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f} ms"
        rps = f"{r['rps']:,.0f} ({r['rps'] / bare['rps']:.2f}x)"
        rows.append([LABELS[name], rps, latency, cpu, f"{r['requests']:,.0f}"])
    header = ["configuration", "req/s (vs its bare framework)", "p50 / p99"]
    header += ["server CPU / request (above bare)", "requests (all 2xx)"]
    return [
        "## Over HTTP: uvicorn, one 1 KiB signed POST re-sent",
        "",
        f"uvicorn {meta['uvicorn']} (one worker, `--loop asyncio`, `--http {meta['http']}`, no"
        f" access log) on 127.0.0.1, wrk with {meta['connections']} connections, medians of"
        f" {meta['rounds']} interleaved run(s) of {meta['seconds']:g} s. Client and server share"
        " the CPUs: the server's CPU time per request is the steadier measure.",
        "",
        *_table(header, rows),
    ]


def _schemes(schemes: dict[str, Any]) -> list[str]:
    from _schemes import LABELS as SCHEME_LABELS

    med, over = schemes["median_us"], schemes["overhead_us"]
    rows = [[SCHEME_LABELS[n], _t(med[n]), _t(over[n])] for n in ("destiny", "rfc9421", "webhooks")]
    rows += [
        [SCHEME_LABELS[n], _t(med[n]), "(no framework)"] for n in SCHEME_LABELS if n not in over
    ]
    return [
        "## Three wire formats, and the peers' verifiers (1 KiB POST)",
        "",
        f"Starlette + `HMACMiddleware`, one format each, signed afresh every round by the"
        f" package's signers ({schemes['rounds']} rounds x {schemes['batch']} requests);"
        f" bare Starlette {_t(med['bare'])}. The peers' own verifiers are called directly on"
        " the same signed requests, in the same rounds.",
        "",
        *_table(["", "median per request", "above bare Starlette"], rows),
    ]


def markdown(summary: dict[str, Any], found: list[Target]) -> str:
    m = summary["machine"]
    load = " at start, ".join("/".join(f"{x:.2f}" for x in m[k]) for k in ("load", "load_end"))
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    changes = " with uncommitted changes" if m["modified"] else ""
    malloc = "adaptive: 1-16 MiB times vary with allocator history"
    if m["mmap_threshold"]:
        malloc = f"fixed at {m['mmap_threshold']} bytes, so every 1-16 MiB buffer pays page faults"
    http = ["## Over HTTP: not loaded (no wrk on PATH), each server's answers checked"]
    http = _http(summary["http"], summary["http_meta"]) if summary["http"] else http
    rows = [[t.name, t.goal, t.measured, f"**{t.verdict}**", t.floor] for t in found]
    lines = [
        "# hmac_asgi benchmarks",
        "",
        f"- Command: `{summary['command']}` ({summary['seconds']} s)",
        f"- Date: {m['date']}; hmac_asgi at commit `{m['commit']}`{changes}",
        f"- Machine: `nproc` = {m['nproc']}, CPU: {m['cpu']}, {m['platform']}",
        f"- Python: {m['python']}; {versions}",
        f"- Load generator: {m['wrk'] or 'none (no wrk)'}; load average (1/5/15 min): {load}"
        " at end (a shared machine: medians of interleaved rounds)",
        f"- glibc's mmap threshold, in process: {malloc}",
        "",
        "## Targets",
        "",
        *_table(["target", "goal", "measured", "verdict", "floor sketch, same run"], rows),
        "",
        "Where the floor sketch (`_floor.py`) fails too, pure Python misses the target here.",
        "",
        *_inprocess(summary["inprocess"]),
        "",
        *_schemes(summary["schemes"]),
        "",
        *_client(summary["client"]),
        "",
        *_replay(summary["replay"]),
        "",
        *_memory(summary["memory"]),
        "",
        *http,
        "",
        "![benchmark plot](results.png)",
        "",
    ]
    return "\n".join(lines)


def plot(summary: dict[str, Any], path: Path) -> None:
    """Time per request and cost above bare (both next to HMAC alone), HTTP throughput."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inproc, http = summary["inprocess"], summary["http"] or {}
    fig, axes = plt.subplots(1, 3, figsize=(18, 4.8))
    sizes = [int(s) for s in inproc["plan"]]
    x = [max(s, 1) for s in sizes]  # 0 B sits at 1 on the log axis
    cost = {**inproc["overhead_us"], HMAC_ONLY: inproc["median_us"][HMAC_ONLY]}
    for ax, series, title in (
        (axes[0], inproc["median_us"], "Median time per request (in-process), µs"),
        (axes[1], cost, "Cost above the bare framework (paired median), µs"),
    ):
        for name, by_size in series.items():
            ys = [v if (v := by_size[str(s)]) > 0 else math.nan for s in sizes]  # log axis
            colour, dashes = _style(name)
            ax.plot(x, ys, dashes, color=colour, marker="o", ms=3, label=LABELS[name])
        ax.set(xscale="log", yscale="log", title=title, xlabel="body size")
        ax.set_xticks(x, [human_size(s) for s in sizes])
        ax.legend(fontsize=7)
    rps, colours = [r["rps"] for r in http.values()], [_style(n)[0] for n in http]
    axes[2].bar(range(len(http)), rps, color=colours)
    axes[2].set_xticks(range(len(http)), [textwrap.fill(LABELS[n], 16) for n in http], fontsize=7)
    axes[2].set(title="uvicorn over HTTP, 1 KiB signed POST", ylabel="requests / s")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
