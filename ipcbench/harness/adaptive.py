"""Adaptive repeats (``--repeats auto``): after the first rounds, more rounds only for the cases
whose answer is not settled yet, until each is settled, reaches the repeat cap, or the time
budget is spent.

A case is *settled* when both hold:

* precision: the exact order-statistic interval of the median of its primary metric (95 %,
  ``stats.median_interval``) has a relative half-width ``(hi - lo) / 2 / median`` within
  ``--precision``;
* its rival: in its like-for-like group (``ranking.groups``), when the case is the best channel
  or the runner-up, the two are told apart -- Mann-Whitney p < ``RIVAL_ALPHA`` (a quarter of the
  report's 0.05, a margin for the correction over many comparisons that the report applies) --
  or their Hodges-Lehmann ratio interval lies within 1 +- ``MIN_EFFECT`` (equal for every
  purpose the report has). Until then both stay in the rounds.

Pure functions of the rows so far; the runner schedules and records (``Runner._adaptive``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ipcbench.analysis import ranking, stats
from ipcbench.params import Case
from ipcbench.results.schema import case_key

MIN_ROUNDS = 5  # every case gets these before any is judged
DEFAULT_PRECISION = 0.05
DEFAULT_MAX_REPEATS = 30
RIVAL_ALPHA = stats.ALPHA / 4
MIN_EFFECT = stats.MIN_EFFECT


@dataclass(frozen=True)
class Verdict:
    """Where a case stands: settled, or why not ('precision', 'rival'), and its repeats."""

    case: Case
    ok_repeats: int
    half_width: float  # relative half-width of the median's interval (nan: no values)
    why_not: str = ""  # '' settled; 'precision' and/or 'rival'

    @property
    def settled(self) -> bool:
        return not self.why_not


def judge(
    cases: Iterable[Case], rows: Sequence[Mapping[str, Any]], precision: float
) -> list[Verdict]:
    """The verdict of every case from all its rows so far (ok rows count)."""
    values = _values_by_case(rows)
    open_rivals = _undecided_rivals(rows)
    out = []
    for case in cases:
        key = case_key(case.params())
        mine = values.get(key, [])
        width = relative_half_width(mine)
        reasons = []
        if not width <= precision:  # nan (no values) is not precise either
            reasons.append("precision")
        if key in open_rivals:
            reasons.append("rival")
        out.append(Verdict(case, len(mine), width, " and ".join(reasons)))
    return out


def relative_half_width(values: Sequence[float]) -> float:
    """(hi - lo) / 2 / median of the median's 95 % interval; nan without values or median 0."""
    if not values:
        return math.nan
    iv = stats.median_interval(values)
    median = stats.median(values)
    return (iv.hi - iv.lo) / 2 / abs(median) if median else math.nan


def _values_by_case(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, ...], list[float]]:
    out: dict[tuple[str, ...], list[float]] = {}
    for row in rows:
        if str(row.get("status") or "") != "ok":
            continue
        column, _ = stats.primary_metric(str(row.get("pattern") or ""))
        value = stats.to_float(row.get(column))
        if value is not None:
            out.setdefault(case_key(row), []).append(value)
    return out


def _undecided_rivals(rows: Sequence[Mapping[str, Any]]) -> set[tuple[str, ...]]:
    """Case keys of the best channel and the runner-up of every group where the two are not
    told apart yet (see the module docstring)."""
    open_keys: set[tuple[str, ...]] = set()
    by_group_transport = _case_keys_by_group(rows)
    for group in ranking.groups(rows, floors=True):
        if len(group.values) < 2:
            continue
        order = sorted(group.values, key=lambda t: _goodness(group, t), reverse=True)
        best, runner_up = order[0], order[1]
        c = ranking.compare_in(group, runner_up, best)
        equal = c.interval.lo >= 1 / (1 + MIN_EFFECT) and c.interval.hi <= 1 + MIN_EFFECT
        if c.p_value < RIVAL_ALPHA or equal:
            continue
        for transport in (best, runner_up):
            open_keys |= by_group_transport.get((group.key, transport), set())
    return open_keys


def _case_keys_by_group(
    rows: Iterable[Mapping[str, Any]],
) -> dict[tuple[Any, str], set[tuple[str, ...]]]:
    out: dict[tuple[Any, str], set[tuple[str, ...]]] = {}
    for row in rows:
        group_key = ranking.group_key(row)
        out.setdefault((group_key, str(row.get("transport") or "")), set()).add(case_key(row))
    return out


def _goodness(group: ranking.Group, transport: str) -> float:
    median = stats.median(group.values[transport])
    return median if group.higher_is_better else -median


def summary_lines(verdicts: Sequence[Verdict], cap: int, precision: float) -> list[str]:
    """What the run reached: how many cases are settled, and for the others why they stopped
    (the repeat cap, else the time budget) and why they were not settled."""
    settled = [v for v in verdicts if v.settled]
    lines = [
        f"adaptive repeats: {len(settled)} of {len(verdicts)} cases settled (median within "
        f"\u00b1{precision:.0%} at 95% and told apart from their nearest rival, or equal to it)"
    ]
    for stop, why in (("cap", f"reached the cap of {cap} repeats"), ("budget", "ran out of "
                      "the time budget")):  # fmt: skip
        rest = [v for v in verdicts if not v.settled and (v.ok_repeats >= cap) == (stop == "cap")]
        if not rest:
            continue
        shown = "; ".join(
            f"{v.case.label()} ({v.ok_repeats} ok repeats, {_width_text(v.half_width)}, "
            f"not settled: {v.why_not})"
            for v in rest[:3]
        )
        more = f"; and {len(rest) - 3} more" if len(rest) > 3 else ""
        lines.append(f"adaptive repeats: {len(rest)} cases {why}: {shown}{more}")
    return lines


def _width_text(half_width: float) -> str:
    return "no ok value" if math.isnan(half_width) else f"\u00b1{half_width:.1%}"
