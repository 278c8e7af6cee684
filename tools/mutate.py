"""Mutation testing of hmac_asgi (``make mutate``, ``make mutate-all``), then a summary.

What is mutated and which tests run is configured in one place, ``[tool.mutmut]`` in
pyproject.toml: the whole ``hmac_asgi/`` package minus ``do_not_mutate``. mutmut keeps
its mutants and results in ``mutants/`` (git-ignored).

    python tools/mutate.py                      # the sample: mutants numbered *[147]
    python tools/mutate.py --sample '*[0258]'   # another slice
    python tools/mutate.py --all                # every mutant, from scratch

The sample's mutants are checked again on every run (mutmut re-runs the mutants it is
named); ``--all`` starts from an empty ``mutants/``. The summary counts the mutants of
this run and lists those the tests did not detect; ``mutmut show NAME`` prints one as a
diff, ``mutmut run NAME`` checks it again.
"""

from __future__ import annotations

import argparse
import collections
import fnmatch
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = str(Path(sys.executable).parent / "mutmut")
SAMPLE = "*[147]"
# Detected: the tests failed (killed), hung (timeout) or crashed (segfault, which is
# also how mutmut reports a worker it had to kill).
DETECTED = ("killed", "timeout", "segfault")


def mutmut_config() -> Any:
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads(text)["tool"]["mutmut"]
    import toml  # type: ignore[import-untyped,unused-ignore]  # mutmut needs it before 3.11

    return toml.loads(text)["tool"]["mutmut"]


def stale_excludes() -> list[str]:
    """``do_not_mutate`` patterns that match no file: a module was renamed or removed."""
    config = mutmut_config()
    files = [
        path.relative_to(ROOT).as_posix()
        for source in config["source_paths"]
        for path in (ROOT / source).rglob("*.py")
    ]
    return [p for p in config.get("do_not_mutate", []) if not fnmatch.filter(files, p)]


def statuses(pattern: str) -> dict[str, str]:
    """mutant name -> status, for the mutants matching ``pattern``, as mutmut reports them."""
    shown = subprocess.run(
        [MUTMUT, "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    found = {}
    for line in shown.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name and fnmatch.fnmatchcase(name, pattern):
            found[name] = status
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--all", action="store_true", help="every mutant, from scratch")
    group.add_argument("--sample", default=SAMPLE, help="mutant names to check (a glob)")
    args = parser.parse_args()

    stale = stale_excludes()
    if stale:
        print(f"[tool.mutmut] do_not_mutate matches no file (renamed?): {stale}", file=sys.stderr)
        return 2
    if args.all:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    started = time.monotonic()
    run = subprocess.run([MUTMUT, "run", *([] if args.all else [args.sample])], cwd=ROOT)
    minutes = (time.monotonic() - started) / 60
    if run.returncode:
        return run.returncode

    found = statuses("*" if args.all else args.sample)
    counts = collections.Counter(found.values())
    checked = sum(n for status, n in counts.items() if status != "not checked")
    detected = sum(counts[status] for status in DETECTED)
    print(
        f"\n{len(found)} mutants in {minutes:.1f} min: "
        + ", ".join(f"{n} {status}" for status, n in counts.most_common())
    )
    if checked:
        print(f"detected ({', '.join(DETECTED)}): {detected}/{checked} = {detected / checked:.1%}")
    for name, status in sorted(found.items()):
        if status not in (*DETECTED, "not checked"):
            print(f"  {status}: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
