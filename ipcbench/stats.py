"""Statistics as small pure functions, tested against hand-worked numbers.

Definitions used everywhere in ipcbench (plots, summaries, comparisons):

* percentiles use linear interpolation between order statistics (Hyndman & Fan type 7,
  numpy's default ``method="linear"``); latency percentiles are computed from the pooled
  per-message samples of all repeats, never by averaging per-repeat percentiles;
* ``stdev`` is the sample standard deviation (n - 1); CV = stdev / mean;
* confidence intervals are percentile bootstraps with a fixed seed, so the same data always
  gives the same interval;
* significance is a two-sided Mann-Whitney U test (see ``mann_whitney_u``): exact permutation
  p-value for up to 40 values in all (ties handled with mid-ranks), normal approximation with
  tie and continuity correction above that. With 3 repeats each the smallest possible p is
  0.1, so no difference is ever "significant" -- a property of the data: take 5+ repeats.

Module-level imports are stdlib only: the runner calls ``stability_warnings`` at the end of a run
and must not pay for numpy/pandas. numpy is imported inside the functions that need it.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ipcbench.params import human_size
from ipcbench.results import PARAM_COLUMNS

LATENCY_PATTERNS = frozenset({"pingpong", "proxy_ops", "rate", "lifecycle"})
LATENCY_METRIC = "lat_p50_us"
THROUGHPUT_METRIC = "msgs_per_s"

CV_LIMIT = 0.10
MIN_OK_REPEATS = 5
MIN_ELAPSED_S = 1e-3
EXACT_MAX_N = 40  # exact Mann-Whitney p-values up to this many values in all
DEFAULT_RESAMPLES = 2000


def primary_metric(pattern: str, available: Iterable[str] | None = None) -> tuple[str, bool]:
    """Return ``(column, higher_is_better)`` for a pattern's headline figure.

    Latency patterns use ``lat_p50_us`` (lower is better); everything else uses ``msgs_per_s``
    (higher is better). For an unknown pattern whose rows have no throughput but do have a
    latency (``available`` = columns holding values), latency is used.
    """
    if pattern in LATENCY_PATTERNS:
        return LATENCY_METRIC, False
    if available is not None:
        have = set(available)
        if THROUGHPUT_METRIC not in have and LATENCY_METRIC in have:
            return LATENCY_METRIC, False
    return THROUGHPUT_METRIC, True


# --- descriptive statistics -------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def mean(values: Sequence[float]) -> float:
    return float(statistics.fmean(values))


def stdev(values: Sequence[float]) -> float:
    """Sample standard deviation (n - 1 denominator); NaN for fewer than two values."""
    if len(values) < 2:
        return math.nan
    return float(statistics.stdev(values))


def cv(values: Sequence[float]) -> float:
    """Coefficient of variation stdev / mean as a fraction (0.1 = 10 %); NaN if undefined."""
    m = mean(values) if values else math.nan
    if not values or m == 0:
        return math.nan
    return stdev(values) / abs(m)


def percentile(values: Sequence[float], q: float) -> float:
    """Percentile ``q`` in [0, 100] with linear interpolation (type 7)."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be in [0, 100], got {q}")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


def pooled_percentiles(
    samples_per_repeat: Iterable[Sequence[float]], qs: Sequence[float]
) -> dict[float, float]:
    """Percentiles of all repeats' samples pooled together (same definition as ``percentile``).

    Returns ``{q: value}``; empty dict if there are no samples.
    """
    import numpy as np

    arrays = [np.asarray(s, dtype=np.float64) for s in samples_per_repeat]
    pooled = np.concatenate(arrays) if arrays else np.empty(0)
    if pooled.size == 0:
        return {}
    values = np.percentile(pooled, list(qs), method="linear")
    return {q: float(v) for q, v in zip(qs, values, strict=True)}


# --- bootstrap --------------------------------------------------------------------------------


def _resampled_medians(values: Sequence[float], n_resamples: int, rng: Any) -> Any:
    import numpy as np

    data = np.asarray(values, dtype=np.float64)
    idx = rng.integers(0, data.size, size=(n_resamples, data.size))
    return np.median(data[idx], axis=1)


def _interval(estimates: Any, confidence: float) -> tuple[float, float]:
    import numpy as np

    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(estimates, [tail, 100 - tail], method="linear")
    return float(lo), float(hi)


def bootstrap_ci_median(
    values: Sequence[float],
    *,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the median; reproducible for a given seed."""
    import numpy as np

    if len(values) == 0:
        raise ValueError("bootstrap of an empty sequence")
    rng = np.random.default_rng(seed)
    return _interval(_resampled_medians(values, n_resamples, rng), confidence)


def bootstrap_ci_ratio(
    numerators: Sequence[Sequence[float]],
    denominators: Sequence[Sequence[float]],
    *,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Bootstrap CI of ``prod(median(n) for n in numerators) / prod(median(d) ...)``.

    Each group is resampled independently. One numerator and one denominator give the plain
    ratio of medians ``median(b) / median(a)``; two of each give a ratio of ratios, as used by
    baseline-normalised comparisons (the baselines' uncertainty is then part of the interval).
    """
    import numpy as np

    if not numerators or not denominators or any(len(g) == 0 for g in (*numerators, *denominators)):
        raise ValueError("bootstrap ratio needs non-empty groups")
    rng = np.random.default_rng(seed)
    ratio = np.ones(n_resamples)
    for group in numerators:
        ratio = ratio * _resampled_medians(group, n_resamples, rng)
    for group in denominators:
        ratio = ratio / _resampled_medians(group, n_resamples, rng)
    return _interval(ratio, confidence)


# --- significance -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MannWhitney:
    """Result of a two-sided Mann-Whitney U test; ``u`` is the statistic of the first sample."""

    u: float
    p_value: float
    exact: bool


def _midranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Ranks (1-based, ties get the mean rank) and the sizes of tie groups."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    ties: list[int] = []
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1
        ties.append(end - start + 1)
        start = end + 1
    return ranks, ties


def mann_whitney_u(
    a: Sequence[float], b: Sequence[float], *, exact: bool | None = None
) -> MannWhitney:
    """Two-sided Mann-Whitney U test of ``a`` against ``b``.

    ``exact=None`` (default) chooses the exact permutation distribution of U (conditional on the
    observed mid-ranks, so ties are handled exactly) when ``len(a) + len(b) <= EXACT_MAX_N``, and
    the normal approximation with tie and continuity correction above that.
    """
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        raise ValueError("Mann-Whitney U needs two non-empty samples")
    ranks, ties = _midranks([*a, *b])
    u = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    if exact is None:
        exact = n1 + n2 <= EXACT_MAX_N
    if exact:
        return MannWhitney(u, _exact_p(ranks, n1, u), exact=True)
    return MannWhitney(u, _normal_p(u, n1, n2, ties), exact=False)


def _exact_p(ranks: Sequence[float], n1: int, u_obs: float) -> float:
    """Share of all C(n, n1) rank splits whose U is at least as far from n1*n2/2 as ``u_obs``.

    Counts subsets of size n1 per rank sum by dynamic programming over doubled (integer)
    mid-ranks instead of enumerating the splits.
    """
    import numpy as np

    doubled = [round(2 * r) for r in ranks]
    top = sum(doubled)
    counts = np.zeros((n1 + 1, top + 1))
    counts[0, 0] = 1.0
    for r in doubled:
        counts[1:, r:] = counts[1:, r:] + counts[:-1, : top + 1 - r]
    n2 = len(ranks) - n1
    u_values = np.arange(top + 1) / 2 - n1 * (n1 + 1) / 2
    extreme = np.abs(u_values - n1 * n2 / 2) >= abs(u_obs - n1 * n2 / 2) - 1e-9
    return float(counts[n1][extreme].sum() / counts[n1].sum())


def _normal_p(u: float, n1: int, n2: int, ties: Sequence[int]) -> float:
    n = n1 + n2
    tie_term = sum(t**3 - t for t in ties) / (n * (n - 1))
    variance = n1 * n2 / 12 * ((n + 1) - tie_term)
    if variance <= 0:
        return 1.0
    z = max(abs(u - n1 * n2 / 2) - 0.5, 0.0) / math.sqrt(variance)
    return min(1.0, math.erfc(z / math.sqrt(2)))


# --- cells, case identity and labels (rows may hold str or numbers) ---------------------------


def to_float(value: Any) -> float | None:
    """A CSV cell or number as float; None for empty, NA or NaN."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _key_cell(value: Any) -> str:
    if is_na(value):
        return ""
    number = to_float(value)
    if number is not None and number.is_integer() and not isinstance(value, bool):
        return str(int(number))
    return str(value).strip()


def is_na(value: Any) -> bool:
    """True for None, blank strings, NaN and pandas NA (anything that means 'no value')."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return type(value).__name__ == "NAType"


def format_bytes(n_bytes: Any) -> str:
    """64 -> '64 B', 4096 -> '4 KiB' (``params.human_size``); '-' when missing."""
    number = to_float(n_bytes)
    return "-" if number is None else human_size(int(number))


def case_label(params: Mapping[str, Any]) -> str:
    """A short label in the style of ``params.Case.label``, e.g.
    ``pipe pingpong 64 B bytes fork unpinned`` (+ maxsize, producers/consumers if set)."""
    op = "" if is_na(params.get("op")) else f"/{params['op']}"
    parts = [f"{params.get('transport')} {params.get('pattern')}{op}"]
    parts.append(format_bytes(params.get("payload_bytes")))
    parts += [
        str(params[c])
        for c in ("payload_kind", "start_method", "placement")
        if not is_na(params.get(c))
    ]
    if not is_na(params.get("maxsize")):
        parts.append(f"maxsize={_key_cell(params['maxsize'])}")
    workers = [
        f"{c}={_key_cell(params[c])}"
        for c in ("producers", "consumers")
        if not is_na(params.get(c)) and _key_cell(params[c]) != "1"
    ]
    return " ".join(parts + workers)


def case_key(row: Mapping[str, Any]) -> tuple[str, ...]:
    """The case identity of a row: its parameter cells, normalised so '64', 64 and 64.0 agree."""
    return tuple(_key_cell(row.get(col)) for col in PARAM_COLUMNS)


def timer_min_elapsed_s() -> float:
    """Shortest trustworthy timed region: 1 ms, or 1000x the perf_counter resolution if larger."""
    return max(MIN_ELAPSED_S, 1000 * time.get_clock_info("perf_counter").resolution)


# --- stability warnings -----------------------------------------------------------------------


def group_cases(
    rows: Iterable[Mapping[str, Any]],
) -> dict[tuple[str, ...], list[Mapping[str, Any]]]:
    """Rows grouped by case (``case_key``), in order of first appearance."""
    cases: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        cases.setdefault(case_key(row), []).append(row)
    return cases


def stability_warnings(
    rows: Iterable[Mapping[str, Any]],
    *,
    cv_limit: float = CV_LIMIT,
    min_ok_repeats: int = MIN_OK_REPEATS,
    min_elapsed_s: float | None = None,
) -> list[str]:
    """One line per problem per case: CV above ``cv_limit``, fewer than ``min_ok_repeats`` ok
    repeats, or a timed region shorter than ``min_elapsed_s`` (default
    ``timer_min_elapsed_s()``). ``rows`` are result rows; cells may be str or numbers."""
    limit_s = timer_min_elapsed_s() if min_elapsed_s is None else min_elapsed_s
    return [
        f"{case_label(case_rows[0])}: {problem}"
        for case_rows in group_cases(rows).values()
        for problem in case_problems(case_rows, cv_limit, min_ok_repeats, limit_s)
    ]


def ok_rows(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in rows if str(r.get("status", "")).strip() == "ok"]


def metric_values(rows: Sequence[Mapping[str, Any]], column: str) -> list[float]:
    """The non-empty values of ``column`` in ``rows``, as floats."""
    return [v for v in (to_float(r.get(column)) for r in rows) if v is not None]


def rows_metric(rows: Sequence[Mapping[str, Any]]) -> tuple[str, bool]:
    """``primary_metric`` for the rows of one case (they share a pattern)."""
    pattern = str(rows[0].get("pattern", "")) if rows else ""
    present = {c for c in (THROUGHPUT_METRIC, LATENCY_METRIC) if metric_values(rows, c)}
    return primary_metric(pattern, present)


def case_problems(
    rows: Sequence[Mapping[str, Any]],
    cv_limit: float = CV_LIMIT,
    min_ok: int = MIN_OK_REPEATS,
    limit_s: float | None = None,
) -> list[str]:
    """Stability problems of one case's rows, one short sentence each (no case label)."""
    limit_s = timer_min_elapsed_s() if limit_s is None else limit_s
    good = ok_rows(rows)
    out: list[str] = []
    if len(good) < min_ok:
        out.append(
            f"only {len(good)} ok repeat(s) of {len(rows)} (want >= {min_ok}); "
            "run more repeats or fix the failures"
        )
    column, _ = rows_metric(rows)
    spread = cv(metric_values(good, column))
    if not math.isnan(spread) and spread > cv_limit:
        out.append(
            f"{column} varies {spread:.0%} between repeats (CV > {cv_limit:.0%}); "
            "quiet the machine, pin CPUs or take more repeats"
        )
    elapsed = metric_values(good, "elapsed_s")
    if elapsed and min(elapsed) < limit_s:
        out.append(
            f"timed region {min(elapsed) * 1e3:.3g} ms is below {limit_s * 1e3:.3g} ms, "
            "too short for the clock; raise the target time or message count"
        )
    return out


# --- one case's summary -----------------------------------------------------------------------


def summarize_case(
    rows: Sequence[Mapping[str, Any]],
    latency_samples_ns: Sequence[Sequence[float]] | None = None,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Headline figures of one case: its parameters, the primary metric's median over ok repeats
    with a bootstrap 95% CI and CV, pooled latency percentiles (from the ok repeats' raw
    samples, when given), repeat counts and stability problems."""
    good = ok_rows(rows)
    column, higher_is_better = rows_metric(rows)
    values = metric_values(good, column)
    lo, hi = bootstrap_ci_median(values, seed=seed) if values else (math.nan, math.nan)
    pooled = pooled_percentiles(latency_samples_ns or [], (50, 99))
    n_skipped = sum(str(r.get("status", "")).strip() == "skipped" for r in rows)
    return {
        **{col: rows[0].get(col) for col in PARAM_COLUMNS},
        "metric": column,
        "higher_is_better": higher_is_better,
        "median": median(values) if values else math.nan,
        "ci95_lo": lo,
        "ci95_hi": hi,
        "cv_pct": cv(values) * 100 if values else math.nan,
        "lat_p50_us": pooled.get(50, math.nan) / 1e3,
        "lat_p99_us": pooled.get(99, math.nan) / 1e3,
        "n_ok": len(good),
        "n_failed": len(rows) - len(good) - n_skipped,
        "n_skipped": n_skipped,
        "warnings": case_problems(rows),
    }
