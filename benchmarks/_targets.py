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

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "n/a"}[self.passed]


def _small_post(inproc: dict[str, Any]) -> Target:
    med = inproc["median_us"]
    ratio = med["starlette_ours"][str(KIB)] / med["bare_starlette"][str(KIB)]
    return Target(
        "1 KiB signed POST vs bare Starlette",
        "<= 1.25x",
        f"{ratio:.3f}x",
        ratio <= 1.25,
    )


def _vs_destiny(inproc: dict[str, Any]) -> Target:
    over = inproc["overhead_us"]
    ours, destiny = over["fastapi_ours"][str(KIB)], over["fastapi_destiny"][str(KIB)]
    if ours <= 0:
        measured = f"ours {ours:+.1f} us (below noise), destiny {destiny:+.1f} us"
        return Target("FastAPI overhead, destiny / ours (1 KiB)", ">= 20x", measured, True)
    ratio = destiny / ours
    measured = f"{ratio:.1f}x (ours {ours:.1f} us, destiny {destiny:.1f} us)"
    return Target("FastAPI overhead, destiny / ours (1 KiB)", ">= 20x", measured, ratio >= 20)


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
    ratio = http["starlette_ours"]["rps"] / http["bare_starlette"]["rps"]
    return Target("HTTP req/s vs bare Starlette (1 KiB)", ">= 0.9x", f"{ratio:.3f}x", ratio >= 0.9)


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
