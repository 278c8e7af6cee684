"""``results.png``: time per request, cost above bare, and HTTP throughput."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

from _apps import CONFIGS
from _asgi import human_size

__all__ = ["plot"]

_STYLE = {
    "bare_starlette": ("tab:gray", "-"),
    "starlette_ours": ("tab:blue", "-"),
    "starlette_basehttp": ("tab:orange", "-"),
    "bare_fastapi": ("tab:gray", "--"),
    "fastapi_ours": ("tab:blue", "--"),
    "fastapi_destiny": ("tab:red", "--"),
    "starlette_structure": ("tab:purple", ":"),
    "starlette_floor": ("tab:green", "-."),
    "fastapi_floor": ("tab:green", ":"),
    "hmac_only": ("black", ":"),
}


def _positive(values: list[float]) -> list[float]:
    return [v if v > 0 else math.nan for v in values]  # log axes cannot show <= 0


def plot(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inproc, http = summary.get("inprocess"), summary.get("http")
    panels = 2 + bool(http) if inproc else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.8), squeeze=False)
    axes = list(axes[0])
    if inproc:
        sizes = inproc["sizes"]
        x = [max(s, 1) for s in sizes]  # 0 B sits at 1 on the log axis
        labels = [human_size(s) for s in sizes]
        label = {**{n: c.label for n, c in CONFIGS.items()}, "hmac_only": "HMAC alone"}

        def lines(series: dict[str, Any], title: str, ylabel: str) -> None:
            ax = axes.pop(0)
            for name, by_size in series.items():
                color, dash = _STYLE[name]
                ys = _positive([by_size[str(s)] for s in sizes])
                ax.plot(x, ys, dash, color=color, marker="o", ms=3, label=label[name])
            ax.set(xscale="log", yscale="log", title=title, xlabel="body size", ylabel=ylabel)
            ax.set_xticks(x, labels)
            ax.legend(fontsize=7)

        lines(inproc["median_us"], "Median time per request (in-process)", "µs")
        lines(
            {**inproc["overhead_us"], "hmac_only": inproc["median_us"]["hmac_only"]},
            "Cost above the bare framework vs HMAC alone",
            "µs (median paired difference)",
        )
    if http:
        ax = axes.pop(0)
        names = list(http)
        rps = [http[n]["rps"] for n in names]
        bars = ax.bar(range(len(names)), rps, color=[_STYLE[n][0] for n in names])
        for bar, name in zip(bars, names, strict=True):
            note = f"p50 {http[name]['p50_ms']:.1f} ms\np99 {http[name]['p99_ms']:.1f} ms"
            ax.annotate(
                note,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
            )
        ticks = [textwrap.fill(CONFIGS[n].label, 16) for n in names]
        ax.set_xticks(range(len(names)), ticks, fontsize=7)
        ax.set(title="uvicorn over HTTP, 1 KiB signed POST", ylabel="requests / s")
        ax.margins(y=0.15)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
