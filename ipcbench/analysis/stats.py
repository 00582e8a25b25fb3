"""Statistics as small pure functions, tested against hand-worked numbers.

Definitions used everywhere in ipcbench (plots, summaries, comparisons):

* percentiles use linear interpolation between order statistics (Hyndman & Fan type 7,
  numpy's default ``method="linear"``); latency percentiles are computed from the pooled
  per-message samples of all repeats, never by averaging per-repeat percentiles;
* ``stdev`` is the sample standard deviation (n - 1); CV = stdev / mean;
* the interval of a median is the exact distribution-free order-statistic interval
  ``[x(k), x(n+1-k)]`` (``median_interval``): its real confidence level ``1 - 2 P(Bin(n, 1/2) < k)``
  is stated next to it, and where even ``[min, max]`` falls short of 95 % (n <= 5) it is called a
  *range* and given with its real level (n = 5: 93.75 %, n = 3: 75 %). A percentile bootstrap
  (``bootstrap_ci_median``, kept for callers) is [min, max] at n = 3 or 5 while claiming 95 %;
* the interval of a ratio of medians between two sets is the Hodges-Lehmann interval of the log
  ratio (``ratio_interval``): order statistics of the m*n pairwise log ratios, cut where the
  exact Mann-Whitney null distribution puts 2.5 % in each tail (normal approximation above
  ``EXACT_MAX_N`` values), again with its real level. Its coverage is exact when the two sets
  differ by a factor (a shift of log values), the model a time ratio assumes;
* a percentile q > 50 of n samples is reported only when at least ``MIN_TAIL_SAMPLES`` (10)
  samples are expected beyond it: n * (1 - q/100) >= 10, i.e. p90 needs 100 samples, p99 1000,
  p99.9 10000 (``percentile_supported``). Below that the estimate is one of the few largest
  samples, not a percentile. The median (and lower percentiles) need only one sample;
* many comparisons at once are corrected with Benjamini-Hochberg (``benjamini_hochberg``: q-values
  that control the false discovery rate), and a difference is called only when it is also at
  least ``MIN_EFFECT`` (5 %) large and its interval excludes 1 (``decide``);
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

from ipcbench.measure import catalogue
from ipcbench.results import schema
from ipcbench.results.schema import (  # noqa: F401 (re-exported: cells, key, label)
    MIN_TAIL_SAMPLES,
    PARAM_COLUMNS,
    case_key,
    case_label,
    human_size,
    is_na,
    min_samples_for_percentile,
    percentile_supported,
    to_float,
)

LATENCY_PATTERNS = catalogue.latency_patterns()
LATENCY_METRIC = "lat_p50_us"
THROUGHPUT_METRIC = "msgs_per_s"

CV_LIMIT = 0.10
MIN_OK_REPEATS = 5
MIN_ELAPSED_S = 1e-3
EXACT_MAX_N = 40  # exact Mann-Whitney p-values up to this many values in all
DEFAULT_RESAMPLES = 2000
CONFIDENCE = 0.95
MIN_EFFECT = 0.05  # smallest time ratio change (5 %) called faster or slower
ALPHA = 0.05  # false discovery rate for the q-values


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
    """Percentile ``q`` in [0, 100], linear interpolation (type 7, ``schema.percentile_sorted``)."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    return schema.percentile_sorted(sorted(values), q)


def pooled_percentiles(
    samples_per_repeat: Iterable[Sequence[float]],
    qs: Sequence[float],
    *,
    min_tail: int = MIN_TAIL_SAMPLES,
) -> dict[float, float]:
    """Percentiles of all repeats' samples pooled together (same definition as ``percentile``).

    Returns ``{q: value}`` for the percentiles the pooled sample count supports
    (``percentile_supported``; pass ``min_tail=0`` for every q); empty dict if there are no
    samples.
    """
    import numpy as np

    arrays = [np.asarray(s, dtype=np.float64) for s in samples_per_repeat]
    pooled = np.concatenate(arrays) if arrays else np.empty(0)
    kept = [q for q in qs if percentile_supported(pooled.size, q, min_tail)]
    if pooled.size == 0 or not kept:
        return {}
    values = np.percentile(pooled, kept, method="linear")
    return {q: float(v) for q, v in zip(kept, values, strict=True)}


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
    """Percentile-bootstrap interval of the median; reproducible for a given seed.

    Kept for callers only: at small n it overclaims (3 or 5 values: always [min, max], whose
    real level is 75 % / 93.75 %, not ``confidence``). ipcbench uses ``median_interval``."""
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

    Kept for callers; ``compare`` uses ``ratio_interval`` (exact level at small n).

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


# --- exact distribution-free intervals ------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """An interval with its real confidence level (a probability in [0, 1]).

    ``is_range`` is True when no interval of the method reaches the requested confidence with
    this many values: ``lo``..``hi`` is then the widest one available (for a median: the data's
    min..max), to be shown as a *range* with ``level``, not as a confidence interval.
    """

    lo: float
    hi: float
    level: float
    is_range: bool


NAN_INTERVAL = Interval(math.nan, math.nan, math.nan, True)


def median_interval_level(n: int, k: int) -> float:
    """Coverage of ``[x(k), x(n+1-k)]`` for the median of n values from any continuous
    distribution: ``1 - 2 * P(Binomial(n, 1/2) <= k - 1)``. (With ties it is at least this.)"""
    if not 1 <= k <= (n + 1) // 2:
        raise ValueError(f"order statistic k={k} out of range for n={n}")
    tail = sum(math.comb(n, i) for i in range(k)) / 2**n
    return max(0.0, 1 - 2 * tail)


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Exact order-statistic interval of the median: ``[x(k), x(n+1-k)]`` with the largest k
    (the narrowest symmetric pair) whose level reaches ``confidence``; when even k = 1 falls
    short (n <= 5 at 95 %), the data's range [min, max] with its real level and ``is_range``.

    n = 5: [x(1), x(5)] at 93.75 % (a range); n = 6: [x(1), x(6)] at 96.9 %; n = 9:
    [x(2), x(8)] at 96.1 %; n = 10: [x(2), x(9)] at 97.9 %.
    """
    ordered = sorted(float(v) for v in values)
    n = len(ordered)
    if n == 0:
        raise ValueError("interval of an empty sequence")
    k = 1
    while k + 1 <= (n + 1) // 2 and median_interval_level(n, k + 1) >= confidence:
        k += 1
    level = median_interval_level(n, k)
    return Interval(ordered[k - 1], ordered[n - k], level, level < confidence)


def _u_null_counts(m: int, n: int) -> list[int]:
    """How many of the C(m+n, m) orderings of m x's and n y's (no ties) give U = 0 .. m*n.

    Recursion on the largest value (Mann & Whitney 1947): if it is an x it beats all n y's,
    so ``f(m, n)[u] = f(m-1, n)[u-n] + f(m, n-1)[u]``.
    """
    f: list[list[list[int]]] = [[[1] for _ in range(n + 1)] for _ in range(m + 1)]
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            row = [0] * (i * j + 1)
            for u, c in enumerate(f[i][j - 1]):
                row[u] += c
            for u, c in enumerate(f[i - 1][j]):
                row[u + j] += c
            f[i][j] = row
    return f[m][n]


def _ratio_cut(m: int, n: int, confidence: float) -> tuple[int, float]:
    """Largest k with level ``1 - 2 P(U <= k - 1)`` >= confidence (k >= 1) and that level."""
    total_pairs = m * n
    if m + n <= EXACT_MAX_N:
        counts = _u_null_counts(m, n)
        total = sum(counts)
        cdf, acc = [], 0
        for c in counts:
            acc += c
            cdf.append(acc / total)

        def level(k: int) -> float:
            return max(0.0, 1 - 2 * cdf[k - 1])
    else:
        sd = math.sqrt(m * n * (m + n + 1) / 12)

        def level(k: int) -> float:  # P(U <= k - 1) with continuity correction
            z = (k - 0.5 - total_pairs / 2) / sd
            return max(0.0, 1 - math.erfc(-z / math.sqrt(2)))

    k = 1
    while k + 1 <= (total_pairs + 1) // 2 and level(k + 1) >= confidence:
        k += 1
    return k, level(k)


def ratio_interval(
    numerator: Sequence[float], denominator: Sequence[float], confidence: float = CONFIDENCE
) -> Interval:
    """Interval of the ratio ``numerator / denominator`` between two sets of positive values
    (Hodges-Lehmann on log values): the m*n pairwise ratios ``num_j / den_i``, sorted, cut at
    the k-th smallest and k-th largest, where k comes from the exact null distribution of the
    Mann-Whitney U (normal approximation above ``EXACT_MAX_N`` values). The level is exact when
    one set is the other times a factor (plus noise of the same shape); ``is_range`` when even
    [smallest, largest] ratio falls short of ``confidence`` (3 + 3 values: 90 %).
    """
    if not numerator or not denominator:
        raise ValueError("ratio interval needs two non-empty samples")
    if any(v <= 0 for v in (*numerator, *denominator)):
        return NAN_INTERVAL
    ratios = sorted(b / a for b in numerator for a in denominator)
    k, level = _ratio_cut(len(denominator), len(numerator), confidence)
    return Interval(ratios[k - 1], ratios[len(ratios) - k], level, level < confidence)


def paired_quotients(values: Sequence[float], baseline: Sequence[float]) -> list[float]:
    """``values[i] / baseline[i]`` for i < min(len): each repeat divided by the baseline repeat
    of the same index (same run, same round), so the quotients carry both sides' noise and stay
    independent of each other. Dividing by one baseline median instead would hide the
    baseline's noise. Pairs with a zero baseline are left out."""
    return [v / b for v, b in zip(values, baseline, strict=False) if b != 0]


# --- many comparisons ---------------------------------------------------------------------------


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order.

    With m p-values sorted ascending, ``q(i) = min over j >= i of m * p(j) / j``, capped at 1;
    calling every q < alpha a discovery keeps the expected share of false discoveries <= alpha.
    NaN p-values stay NaN and do not count in m.
    """
    present = [(p, i) for i, p in enumerate(p_values) if not math.isnan(p)]
    out = [math.nan] * len(p_values)
    m = len(present)
    running = 1.0
    for rank, (p, i) in reversed(list(enumerate(sorted(present), start=1))):
        running = min(running, m * p / rank)
        out[i] = min(1.0, running)
    return out


def decide(
    q_value: float,
    ratio: float,
    ratio_ci: tuple[float, float],
    min_effect: float = MIN_EFFECT,
    alpha: float = ALPHA,
) -> str:
    """``"slower"``, ``"faster"`` or ``"tie"`` for a time ratio (> 1: slower).

    A difference is called only if all hold: the (FDR-adjusted) ``q_value`` < ``alpha``, the
    interval ``ratio_ci`` excludes 1, and the ratio is at least ``1 + min_effect`` (slower) or
    at most ``1 / (1 + min_effect)`` (faster). Anything missing (NaN) is a tie.
    """
    lo, hi = ratio_ci
    if any(math.isnan(x) for x in (q_value, ratio, lo, hi)) or q_value >= alpha:
        return "tie"
    if ratio >= 1 + min_effect and lo > 1:
        return "slower"
    if ratio <= 1 / (1 + min_effect) and hi < 1:
        return "faster"
    return "tie"


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


# --- cells (case identity and labels: ipcbench.results.schema) -------------------------------


def format_bytes(n_bytes: Any) -> str:
    """64 -> '64 B', 4096 -> '4 KiB' (``params.human_size``); '-' when missing."""
    number = to_float(n_bytes)
    return "-" if number is None else human_size(int(number))


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
    with its exact order-statistic interval (``median_interval``: ``ci_lo``, ``ci_hi``, the real
    ``ci_level`` and ``ci_is_range``) and CV, pooled latency percentiles (from the ok repeats'
    raw samples, when given; NaN where too few samples support them, see
    ``percentile_supported``), repeat counts and stability problems. ``seed`` is unused (the
    interval is exact) and kept for callers."""
    del seed
    good = ok_rows(rows)
    column, higher_is_better = rows_metric(rows)
    values = metric_values(good, column)
    interval = median_interval(values) if values else NAN_INTERVAL
    samples = latency_samples_ns or []
    pooled = pooled_percentiles(samples, (50, 99))
    n_skipped = sum(str(r.get("status", "")).strip() == "skipped" for r in rows)
    return {
        **{col: rows[0].get(col) for col in PARAM_COLUMNS},
        "metric": column,
        "higher_is_better": higher_is_better,
        "median": median(values) if values else math.nan,
        "ci_lo": interval.lo,
        "ci_hi": interval.hi,
        "ci_level": interval.level,
        "ci_is_range": interval.is_range,
        "cv_pct": cv(values) * 100 if values else math.nan,
        "lat_p50_us": pooled.get(50, math.nan) / 1e3,
        "lat_p99_us": pooled.get(99, math.nan) / 1e3,
        "n_samples": sum(len(s) for s in samples),
        "n_ok": len(good),
        "n_failed": len(rows) - len(good) - n_skipped,
        "n_skipped": n_skipped,
        "warnings": case_problems(rows),
    }
