"""How CPU placement changes the spread between repeats, on this machine, in one run.

Runs the same cases under each placement (``unpinned``: the scheduler's choice; ``same``: the
parent and its workers on one CPU; ``split``: parent and workers on two CPUs), interleaved in
seeded shuffled rounds so drift hits every placement alike, and prints per placement and
pattern the spread of each case's primary figure (pingpong: median round trip; stream and
the rest: msgs/s) between its repeats:

* ``CV``: the median over cases of stdev/mean between repeats;
* ``>10%``: the share of cases whose CV is above 10 %;
* ``half-width``: the median over cases of the 95 % interval of the median, as a share of
  the median (what ``--repeats auto`` compares with ``--precision``);
* ``max/min``: the median over cases of the slowest repeat over the fastest.

    .venv/bin/python bench/placement_spread.py                  # the default cases, 7 repeats
    .venv/bin/python bench/placement_spread.py --repeats 10 -- -t pipe,queue -s 64
    .venv/bin/python bench/placement_spread.py --csv results/<machine>/<run>.csv  # re-read
"""

from __future__ import annotations

import argparse
import collections
import math
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ipcbench import cli
from ipcbench.analysis import stats
from ipcbench.harness.adaptive import relative_half_width
from ipcbench.results.store import read_rows

CASES = ["-t", "pipe,pipe_bytes,queue,simplequeue,manager_queue,raw_pipe", "-p", "pingpong,stream"]
CASES += ["-s", "64,64K,1M"]


def spreads(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, float]]]:
    """(placement, pattern) -> one dict of spread figures per case with >= 3 ok repeats."""
    by_case: dict[tuple[str, ...], list[float]] = collections.defaultdict(list)
    for row in rows:
        if row.get("status") != "ok":
            continue
        column, _ = stats.primary_metric(row["pattern"])
        value = stats.to_float(row.get(column))
        if value is not None:
            key = (row["placement"], row["pattern"], row["transport"], row["payload_bytes"])
            by_case[key].append(value)
    out: dict[tuple[str, str], list[dict[str, float]]] = collections.defaultdict(list)
    for (placement, pattern, *_), values in by_case.items():
        if len(values) < 3:
            continue
        out[(placement, pattern)].append(
            {
                "cv": statistics.stdev(values) / statistics.fmean(values),
                "half_width": relative_half_width(values),
                "max_min": max(values) / min(values),
            }
        )
    return out


def table(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = [f"{'placement':<10} {'pattern':<10} {'cases':>5} {'CV':>6} {'>10%':>5} "
             f"{'half-width':>10} {'max/min':>7}"]  # fmt: skip
    for (placement, pattern), cases in sorted(spreads(rows).items()):
        cv = [c["cv"] for c in cases]
        widths = [c["half_width"] for c in cases if not math.isnan(c["half_width"])]
        above = sum(v > 0.10 for v in cv) / len(cv)
        lines.append(
            f"{placement:<10} {pattern:<10} {len(cases):>5} {statistics.median(cv):>6.1%} "
            f"{above:>5.0%} {statistics.median(widths):>10.1%} "
            f"{statistics.median(c['max_min'] for c in cases):>7.2f}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--placements", default="unpinned,same,split")
    parser.add_argument("--csv", type=Path, help="report on this result file instead of running")
    parser.add_argument("--out", help="keep the run's results here (default: a temporary dir)")
    parser.add_argument("run_flags", nargs="*", help="ipcbench run flags for the cases (after --)")
    args = parser.parse_args()
    if args.csv:
        print("\n".join(table(read_rows(args.csv))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or tmp
        flags = args.run_flags or CASES
        run = ["run", *flags, "--placements", args.placements, "--repeats", str(args.repeats)]
        code = cli.main([*run, "-o", out, "-q"])
        if code != 0:
            raise SystemExit(code)
        (csv_path,) = sorted(Path(out).rglob("*.csv"))[-1:]
        print(f"results: {csv_path}" if args.out else "")
        print("\n".join(table(read_rows(csv_path))))


if __name__ == "__main__":
    main()
