"""Per-repeat latency summary columns from raw samples (pure Python; no numpy in the driver).

A percentile q > 50 is written only when at least ``MIN_TAIL_SAMPLES`` (10) samples are
expected beyond it, n * (1 - q/100) >= 10: p90 needs 100 samples, p99 1000, p99.9 10000.
Below that the value would be one of the few largest samples, not a percentile, so the column
is None (an empty CSV cell). Same rule as ``ipcbench.analysis.stats.percentile_supported``
(not imported:
the driver must not pay for the stats module).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# column -> percentile (None for min/mean/max)
PERCENTILES: dict[str, float] = {
    "lat_p50_us": 50.0,
    "lat_p90_us": 90.0,
    "lat_p99_us": 99.0,
    "lat_p999_us": 99.9,
}
MIN_TAIL_SAMPLES = 10


def percentile_supported(n_samples: int, pct: float, min_tail: int = MIN_TAIL_SAMPLES) -> bool:
    """At least ``min_tail`` of ``n_samples`` expected beyond percentile ``pct`` (q <= 50: any
    sample will do)."""
    if n_samples < 1:
        return False
    if pct <= 50:
        return True
    if pct >= 100:
        return False
    return n_samples >= math.ceil(round(min_tail * 100 / (100 - pct), 6))  # round: 99.9 is inexact


def percentile_sorted(sorted_values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default 'linear' method)."""
    if not sorted_values:
        raise ValueError("no samples")
    pos = (len(sorted_values) - 1) * pct / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] * (1.0 - frac) + sorted_values[hi] * frac


def latency_columns(samples_ns: Sequence[int]) -> dict[str, float | None]:
    """min, mean, p50, p90, p99, p99.9 and max in microseconds; a percentile too few samples
    support (``percentile_supported``) is None."""
    ordered = sorted(samples_ns)
    cols: dict[str, float | None] = {
        "lat_min_us": ordered[0] / 1e3,
        "lat_mean_us": sum(ordered) / len(ordered) / 1e3,
        "lat_max_us": ordered[-1] / 1e3,
    }
    for col, pct in PERCENTILES.items():
        supported = percentile_supported(len(ordered), pct)
        cols[col] = percentile_sorted(ordered, pct) / 1e3 if supported else None
    return cols
