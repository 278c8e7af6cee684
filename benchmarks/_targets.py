"""The performance targets of issue #6, evaluated on one run's summary."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Target", "evaluate"]

KIB, MIB = 1024, 1024 * 1024


@dataclass(frozen=True)
class Target:
    name: str
    goal: str
    measured: str
    passed: bool | None  # None: not measured in this run
    floor: str = ""  # the same figure for the floor sketch, when it was measured

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "n/a"}[self.passed]


def _small_post(inproc: dict[str, Any]) -> Target:
    med = inproc["median_us"]

    def ratio(name: str) -> float:
        return float(med[name][str(KIB)] / med["bare_starlette"][str(KIB)])

    floor = ""
    if "starlette_floor" in med:
        floor = f"{ratio('starlette_floor'):.3f}x"
    if "starlette_structure" in med:
        floor += f" (buffer and HMAC only: {ratio('starlette_structure'):.3f}x)"
    ours = ratio("starlette_ours")
    return Target(
        "1 KiB signed POST vs bare Starlette", "<= 1.25x", f"{ours:.3f}x", ours <= 1.25, floor
    )


def _vs_destiny(inproc: dict[str, Any]) -> Target:
    over = inproc["overhead_us"]
    name = "FastAPI overhead, destiny / ours (1 KiB)"
    destiny = over["fastapi_destiny"][str(KIB)]
    floor = ""
    if "fastapi_floor" in over and over["fastapi_floor"][str(KIB)] > 0:
        sketch = over["fastapi_floor"][str(KIB)]
        floor = f"{destiny / sketch:.1f}x (sketch {sketch:.1f} us)"
    ours = over["fastapi_ours"][str(KIB)]
    if ours <= 0:
        measured = f"ours {ours:+.1f} us (below noise), destiny {destiny:+.1f} us"
        return Target(name, ">= 20x", measured, True, floor)
    ratio = destiny / ours
    measured = f"{ratio:.1f}x (ours {ours:.1f} us, destiny {destiny:.1f} us)"
    return Target(name, ">= 20x", measured, ratio >= 20, floor)


def _big_body(inproc: dict[str, Any]) -> Target:
    med, size = inproc["median_us"], str(16 * MIB)
    limit = med["bare_starlette"][size] + med[inproc["hmac_only"]][size]
    ratio = med["starlette_ours"][size] / limit
    return Target(
        "16 MiB vs (bare Starlette + HMAC alone)", "<= 1.1x", f"{ratio:.3f}x", ratio <= 1.1
    )


def _memory(memory: dict[str, Any]) -> Target:
    """Judged on the issue's comparison: an endpoint that buffers the body, bare vs
    ours (does verifying add a copy?). The streaming endpoint's figure (what the
    middleware itself must buffer: the body once, plus its messages) is shown too."""
    extra = memory["extra_ratio"].get("tracemalloc", {})
    name, goal = "extra memory per body byte over bare Starlette", "<= 1.0x"
    judged = {int(s): c["starlette_ours"] for s, c in extra.items() if "starlette_ours" in c}
    if not judged:
        return Target(name, goal, "not measured", None)
    measured = ", ".join(f"{s // MIB} MiB: {r:+.3f}x" for s, r in sorted(judged.items()))
    streaming = {
        int(s): c["streaming_starlette_ours"]
        for s, c in extra.items()
        if "streaming_starlette_ours" in c
    }
    if streaming:
        measured += (
            " (streaming endpoint, for information: "
            + ", ".join(f"{s // MIB} MiB {r:+.3f}x" for s, r in sorted(streaming.items()))
            + ")"
        )
    return Target(name, goal, measured, max(judged.values()) <= 1)


def _http(http: dict[str, Any]) -> Target:
    bare = http["bare_starlette"]

    def measured(name: str) -> str:
        extra = http[name]["server_cpu_us"] - bare["server_cpu_us"]
        return f"{http[name]['rps'] / bare['rps']:.3f}x ({extra:+.0f} us server CPU)"

    ratio = http["starlette_ours"]["rps"] / bare["rps"]
    floor = measured("starlette_floor") if "starlette_floor" in http else ""
    name = "HTTP req/s vs bare Starlette (1 KiB)"
    return Target(name, ">= 0.9x", measured("starlette_ours"), ratio >= 0.9, floor)


def evaluate(summary: dict[str, Any]) -> list[Target]:
    targets = []
    inproc = summary.get("inprocess")
    if inproc:
        targets += [_small_post(inproc), _vs_destiny(inproc)]
        if str(16 * MIB) in inproc["median_us"]["starlette_ours"]:
            targets.append(_big_body(inproc))
    if summary.get("memory"):
        targets.append(_memory(summary["memory"]))
    if summary.get("http"):
        targets.append(_http(summary["http"]))
    return targets
