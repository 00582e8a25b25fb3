"""How many repeats would each case of a run need to reach a precision, on this machine?

For every case of a result file: its median's 95% interval half-width now (as ``--repeats
auto`` judges it, relative to the median), whether that is within ``--precision``, and a
projection of the repeats that would reach it. The median of n values from a spread with
coefficient of variation ``cv`` has a 95% interval of about +-1.96 * 1.25 * cv / sqrt(n)
(normal approximation; the order-statistic interval used by ipcbench is a little wider at
small n), so n ~ (2.46 * cv / precision)^2. Prints the distribution over cases, and what a
``--repeats auto`` run capped at ``--max-repeats`` would cost in case runs.

    .venv/bin/python bench/repeats_needed.py results/<machine>/<run>.csv [--precision 5]
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

from ipcbench.harness import adaptive
from ipcbench.results.store import read_rows

Z_MEDIAN = 1.96 * math.sqrt(math.pi / 2)  # the median's standard error is ~1.25 sd / sqrt(n)


def repeats_for(cv: float, precision: float) -> int:
    """Repeats for a 95% median interval of +-``precision`` at this spread (at least 5)."""
    return max(adaptive.MIN_ROUNDS, math.ceil((Z_MEDIAN * cv / precision) ** 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--precision", type=float, default=5.0, help="percent (default 5)")
    parser.add_argument("--max-repeats", type=int, default=adaptive.DEFAULT_MAX_REPEATS)
    args = parser.parse_args()
    precision = args.precision / 100
    by_case = adaptive._values_by_case(read_rows(args.csv))
    cases = {k: v for k, v in by_case.items() if len(v) >= 3}
    widths = [adaptive.relative_half_width(v) for v in cases.values()]
    cvs = [statistics.stdev(v) / statistics.fmean(v) for v in cases.values()]
    needed = [repeats_for(cv, precision) for cv in cvs]
    now = statistics.median(len(v) for v in cases.values())
    within = sum(w <= precision for w in widths if not math.isnan(w))
    print(f"{len(cases)} cases with >= 3 ok repeats (median {now:.0f} repeats)")
    print(f"  median CV between repeats {statistics.median(cvs):.1%}; "
          f"median interval half-width {statistics.median(widths):.1%}")  # fmt: skip
    print(f"  within +-{args.precision:g}% now: {within} ({within / len(cases):.0%})")
    for q in (0.25, 0.5, 0.75, 0.9):
        print(
            f"  repeats needed, {q:.0%} of cases: <= {sorted(needed)[int(q * (len(needed) - 1))]}"
        )
    reach = sum(n <= args.max_repeats for n in needed)
    capped = sum(min(n, args.max_repeats) for n in needed)
    print(f"  reachable within {args.max_repeats} repeats: {reach} ({reach / len(cases):.0%}); "
          f"case runs for that: {capped} (5 repeats: {5 * len(cases)})")  # fmt: skip


if __name__ == "__main__":
    main()
