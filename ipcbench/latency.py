"""Per-repeat latency summary columns from raw samples (pure Python; no numpy in the driver)."""

from __future__ import annotations

from collections.abc import Sequence

# column -> percentile (None for min/mean/max)
PERCENTILES: dict[str, float] = {
    "lat_p50_us": 50.0,
    "lat_p90_us": 90.0,
    "lat_p99_us": 99.0,
    "lat_p999_us": 99.9,
}


def percentile_sorted(sorted_values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default 'linear' method)."""
    if not sorted_values:
        raise ValueError("no samples")
    pos = (len(sorted_values) - 1) * pct / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] * (1.0 - frac) + sorted_values[hi] * frac


def latency_columns(samples_ns: Sequence[int]) -> dict[str, float]:
    """min, mean, p50, p90, p99, p99.9 and max in microseconds."""
    ordered = sorted(samples_ns)
    cols = {
        "lat_min_us": ordered[0] / 1e3,
        "lat_mean_us": sum(ordered) / len(ordered) / 1e3,
        "lat_max_us": ordered[-1] / 1e3,
    }
    for col, pct in PERCENTILES.items():
        cols[col] = percentile_sorted(ordered, pct) / 1e3
    return cols
