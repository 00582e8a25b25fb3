"""False-positive rate of ``ipcbench compare``, and its power against a 2x slowdown.

Given two result sets A and B taken the same way on the same machine (for example two
back-to-back ``ipcbench run --quick`` runs), every case that differs is a false positive:

1. the share of comparable cases that ``compare`` calls slower or faster (Benjamini-Hochberg
   q < 0.05, interval excluding 1, ratio at least ``--min-effect`` from 1). Target: <= 5 %.
2. the share called *slower* when B is made exactly 2x slower (every latency doubled, every
   throughput halved, noise kept): how often a real factor of two is found.

A case is comparable when both sets have ok repeats of its primary figure (a p-value exists).

    .venv/bin/python bench/false_positive_rate.py results/<machine>/<run-1>.csv \\
        results/<machine>/<run-2>.csv [--min-effect 5] [--normalize raw_pipe]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ipcbench.analysis.compare import MIN_EFFECT, compare
from ipcbench.results.loader import load
from ipcbench.results.schema import LATENCY_COLUMNS
from ipcbench.results.store import RunStore

if TYPE_CHECKING:
    import pandas as pd

LATENCY_FIGURES: tuple[str, ...] = (*LATENCY_COLUMNS, "join_latency_us")
THROUGHPUT_FIGURES: tuple[str, ...] = ("msgs_per_s", "mb_per_s")
TARGET_FALSE_POSITIVE = 0.05
TARGET_POWER = 0.95  # issue 17: a 2x slowdown flagged on >= 95% of comparable cases


@dataclass(frozen=True)
class Share:
    """``flagged`` of ``comparable`` cases."""

    flagged: int
    comparable: int

    @property
    def fraction(self) -> float:
        return self.flagged / self.comparable if self.comparable else math.nan

    def text(self) -> str:
        return f"{self.flagged} of {self.comparable} comparable cases ({self.fraction:.1%})"


def slowed_down(frame: pd.DataFrame, factor: float = 2.0) -> pd.DataFrame:
    """A copy of ``frame`` ``factor`` times slower: latencies x factor, throughputs / factor."""
    out = frame.copy()
    for column in LATENCY_FIGURES:
        if column in out:
            out[column] = out[column] * factor
    for column in THROUGHPUT_FIGURES:
        if column in out:
            out[column] = out[column] / factor
    return out


def flagged_share(cases: pd.DataFrame, decisions: Sequence[str] = ("slower", "faster")) -> Share:
    """How many comparable cases (finite p-value) ``compare`` decided as one of ``decisions``."""
    comparable = cases[cases["p_value"].notna()]
    return Share(int(comparable["decision"].isin(decisions).sum()), len(comparable))


def measure(
    a: pd.DataFrame,
    b: pd.DataFrame,
    *,
    min_effect: float = MIN_EFFECT,
    normalize: str | None = None,
) -> tuple[Share, Share]:
    """(share of A vs B flagged either way, share of A vs 2x-slower B flagged slower)."""
    same = compare([a, b], ["A", "B"], normalize=normalize, min_effect=min_effect).cases
    slow = compare(
        [a, slowed_down(b)], ["A", "B"], normalize=normalize, min_effect=min_effect
    ).cases
    return flagged_share(same), flagged_share(slow, ("slower",))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="first result set: a run's CSV or a machine folder")
    parser.add_argument("b", help="second result set, taken the same way")
    parser.add_argument("--min-effect", type=float, default=MIN_EFFECT * 100, help="percent")
    parser.add_argument("--normalize", metavar="BASELINE", help="as in ipcbench compare")
    args = parser.parse_args(argv)
    same, slow = measure(
        load(args.a), load(args.b), min_effect=args.min_effect / 100, normalize=args.normalize
    )
    rule = f"BH q < 0.05, interval excludes 1, change >= {args.min_effect:g}%"
    print(f"A = {args.a}\nB = {args.b}\ndecision rule: {rule}")
    verdict = "ok" if same.fraction <= TARGET_FALSE_POSITIVE else "ABOVE TARGET"
    print(f"A vs B flagged: {same.text()}; target <= {TARGET_FALSE_POSITIVE:.0%}: {verdict}")
    verdict = "ok" if slow.fraction >= TARGET_POWER else "BELOW TARGET"
    print(f"A vs B made 2x slower, flagged slower: {slow.text()}; target >= 95%: {verdict}")
    for name, path in (("A", args.a), ("B", args.b)):
        print(f"{name}: {_time_use(Path(path))}")
    return 0


def _time_use(csv_path: Path) -> str:
    """The run's wall time and its share inside timed batches, from its metadata."""
    meta = RunStore.for_csv(csv_path).meta
    if not meta.is_file():
        return "no run metadata (a folder, or a run from before time_use)"
    found = json.loads(meta.read_text())
    use = found.get("time_use")
    if not use:
        return "the run's metadata has no time_use (a run from before it)"
    repeats = found.get("adaptive") or found.get("config", {}).get("repeats")
    return (
        f"wall {use['wall_s'] / 60:.1f} min, {use['timed_share']:.0%} inside timed batches, "
        f"runner peak RSS {use['runner_peak_rss_mib']:.0f} MiB, repeats {repeats}"
    )


if __name__ == "__main__":
    sys.exit(main())
