"""Raw samples → the JSON-ready summary every table, target and plot reads.

Medians throughout (this is a noisy, shared machine). An overhead "above bare"
is the median over rounds of (configuration - its bare framework) in the same
round: paired, so slow drift of the machine cancels out.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

from _apps import CONFIGS
from _inprocess import HMAC_ONLY, Plan, Samples

__all__ = ["summarise_http", "summarise_inprocess", "summarise_memory"]


def summarise_inprocess(samples: Samples, plan: Plan) -> dict[str, object]:
    median_us: dict[str, dict[str, float]] = {}
    overhead_us: dict[str, dict[str, float]] = {}
    for name, by_size in samples.items():
        median_us[name] = {str(s): statistics.median(v) * 1e6 for s, v in by_size.items()}
        bare = CONFIGS[name].bare if name in CONFIGS else name
        if bare == name:
            continue
        overhead_us[name] = {
            str(size): statistics.median(
                (a - b) * 1e6 for a, b in zip(values, samples[bare][size], strict=True)
            )
            for size, values in by_size.items()
        }
    return {
        "sizes": plan.sizes,
        "rounds": {str(s): n for s, n in plan.rounds.items()},
        "batch": {str(s): n for s, n in plan.batch.items()},
        "hmac_only": HMAC_ONLY,
        "median_us": median_us,
        "overhead_us": overhead_us,
        "samples_us": {
            name: {str(s): [round(x * 1e6, 3) for x in v] for s, v in by_size.items()}
            for name, by_size in samples.items()
        },
    }


def summarise_memory(results: Sequence[Mapping[str, object]]) -> dict[str, object]:
    """``peak_bytes[mode][size][config]`` and ``extra_ratio`` = (peak - bare peak) / size."""
    peak: dict[str, dict[str, dict[str, int]]] = {}
    for r in results:
        by_size = peak.setdefault(str(r["mode"]), {}).setdefault(str(r["size"]), {})
        by_size[str(r["config"])] = int(str(r["peak_bytes"]))
    extra: dict[str, dict[str, dict[str, float]]] = {}
    for mode, sizes in peak.items():
        for size, configs in sizes.items():
            for name, value in configs.items():
                bare = configs.get(CONFIGS[name].bare)
                if CONFIGS[name].bare != name and bare is not None:
                    ratio = (value - bare) / int(size)
                    extra.setdefault(mode, {}).setdefault(size, {})[name] = ratio
    return {"peak_bytes": peak, "extra_ratio": extra}


def summarise_http(results: Mapping[str, Sequence[Mapping[str, float]]]) -> dict[str, object]:
    summary: dict[str, object] = {}
    for name, runs in results.items():
        summary[name] = {
            "rps": statistics.median(r["rps"] for r in runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "server_cpu_us": statistics.median(r["server_cpu_us"] for r in runs),
            "requests": sum(r["requests"] for r in runs),
            "runs": list(runs),
        }
    return summary
