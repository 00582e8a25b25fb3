"""Per-repeat latency summary columns from raw samples (pure Python; no numpy in the driver).

A percentile q > 50 is written only when at least ``MIN_TAIL_SAMPLES`` (10) samples are
expected beyond it, n * (1 - q/100) >= 10: p90 needs 100 samples, p99 1000, p99.9 10000.
Below that the value would be one of the few largest samples, not a percentile, so the column
is None (an empty CSV cell). The rule and the percentile itself are defined once in
``ipcbench.results.schema`` (stdlib only, cheap to import), which stats uses too.
"""

from __future__ import annotations

from collections.abc import Sequence

from ipcbench.results.schema import (  # noqa: F401 (percentile_sorted: re-exported)
    MIN_TAIL_SAMPLES,
    PERCENTILE_COLUMNS,
    percentile_sorted,
    percentile_supported,
)


def latency_columns(samples_ns: Sequence[int]) -> dict[str, float | None]:
    """min, mean, p50, p90, p99, p99.9 and max in microseconds; a percentile too few samples
    support (``percentile_supported``) is None."""
    ordered = sorted(samples_ns)
    cols: dict[str, float | None] = {
        "lat_min_us": ordered[0] / 1e3,
        "lat_mean_us": sum(ordered) / len(ordered) / 1e3,
        "lat_max_us": ordered[-1] / 1e3,
    }
    for col, pct in PERCENTILE_COLUMNS.items():
        supported = percentile_supported(len(ordered), pct)
        cols[col] = percentile_sorted(ordered, pct) / 1e3 if supported else None
    return cols
