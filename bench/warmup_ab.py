"""Does the warm-up's length change the figures? By default A: a quarter of the measured
batch (the warm-up before 0.2.x), B: ipcbench's (a quarter, at most ``driver.WARMUP_MAX_S``);
``--arms 10,2`` compares a quarter capped at 10 ms (A) with one capped at 2 ms (B).

Runs the same sweep alternately with A and B (A, B, A, B, ...: drift hits both alike), then
compares all A rows with all B rows as ``ipcbench compare`` does (Mann-Whitney, Benjamini-
Hochberg q < 0.05, Hodges-Lehmann interval, 5% minimum effect), and prints how many cases
differ and the median time ratio B/A per pattern. The warm-up is patched in this process; the
drivers are forked from it, so they use the patched one.

    .venv/bin/python bench/warmup_ab.py [--pairs 2] [--arms quarter,10] [-- ipcbench run flags]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
from pathlib import Path
from typing import Any

from ipcbench import cli
from ipcbench.analysis.compare import compare
from ipcbench.harness import driver
from ipcbench.results.loader import load

CASES = ["-t", "pipe,queue,raw_pipe,manager_queue", "-p", "pingpong,stream", "-s", "64,64K,1M"]


def quarter(n_messages: int, target_time_s: float) -> int:
    return max(1, n_messages // 4)


def capped_at(max_s: float) -> Any:
    """A quarter of the measured batch, at most ``max_s`` of it (as ``driver.warmup_messages``)."""

    def warmup(n_messages: int, target_time_s: float) -> int:
        by_time = math.ceil(n_messages * max_s / target_time_s) if target_time_s > 0 else 1
        return max(1, min(n_messages // 4, by_time))

    return warmup


def arm(text: str) -> Any:
    """'quarter' or a cap in milliseconds."""
    return quarter if text == "quarter" else capped_at(float(text) / 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=2, help="A/B run pairs (default 2)")
    parser.add_argument(
        "--arms", default="quarter,10", help="A,B: 'quarter' or a cap in ms (default quarter,10)"
    )
    parser.add_argument("run_flags", nargs="*", help="ipcbench run flags (after --)")
    args = parser.parse_args()
    flags = args.run_flags or [*CASES, "--repeats", "5"]
    arms = dict(zip(("A", "B"), (arm(t) for t in args.arms.split(",")), strict=True))
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.pairs):
            for name, warmup in arms.items():
                driver.warmup_messages = warmup  # type: ignore[assignment]
                code = cli.main(["run", *flags, "--seed", str(i), "-o", f"{tmp}/{name}", "-q"])
                if code != 0:
                    raise SystemExit(code)
        result = compare([load(Path(tmp, "A")), load(Path(tmp, "B"))], ["A", "B"])
    cases = result.cases[result.cases["p_value"].notna()]
    decided = cases["decision"].value_counts().to_dict()
    a_arm, b_arm = args.arms.split(",")
    print(f"{len(cases)} comparable cases, B ({b_arm}) vs A ({a_arm}): {decided}")
    for pattern, group in cases.groupby("pattern"):
        ratios = group["time_ratio"].dropna()
        print(f"  {pattern}: median time ratio B/A {statistics.median(ratios):.3f}, "
              f"range {ratios.min():.2f}-{ratios.max():.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
