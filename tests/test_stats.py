"""ipcbench.stats against numbers worked out by hand (see the comments for the working)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipcbench import stats
from tests.fixtures_analysis import case_rows, params

# --- descriptive -------------------------------------------------------------------------------


def test_median_mean_odd_and_even() -> None:
    assert stats.median([3, 1, 2]) == 2
    assert stats.median([4, 1, 3, 2]) == 2.5
    assert stats.mean([1, 2, 3, 10]) == 4


def test_stdev_and_cv_by_hand() -> None:
    # mean 5; squared deviations 9+1+1+1+0+0+4+16 = 32; 32/7 = 4.571428...; sqrt = 2.138090
    values = [2, 4, 4, 4, 5, 5, 7, 9]
    assert stats.stdev(values) == pytest.approx(2.138090, abs=1e-6)
    assert stats.cv(values) == pytest.approx(2.138090 / 5, abs=1e-6)


def test_stdev_and_cv_undefined() -> None:
    assert math.isnan(stats.stdev([1.0]))
    assert math.isnan(stats.cv([]))
    assert math.isnan(stats.cv([0.0, 0.0]))


def test_percentile_linear_interpolation_by_hand() -> None:
    # positions (n-1)*q: q=25 -> 0.75 -> 1 + 0.75*(2-1); q=90 -> 2.7 -> 3 + 0.7*(4-3)
    assert stats.percentile([4, 1, 3, 2], 25) == pytest.approx(1.75)
    assert stats.percentile([4, 1, 3, 2], 90) == pytest.approx(3.7)
    assert stats.percentile([4, 1, 3, 2], 0) == 1
    assert stats.percentile([4, 1, 3, 2], 100) == 4
    with pytest.raises(ValueError):
        stats.percentile([], 50)


def test_pooled_percentiles_pool_samples_instead_of_averaging() -> None:
    # pooled: [1,2,3,4,5,100 x5]; p50 position 4.5 -> 5 + 0.5*95 = 52.5
    # (the average of the per-repeat medians would be (3 + 100) / 2 = 51.5)
    result = stats.pooled_percentiles([[1, 2, 3, 4, 5], [100] * 5], (50, 90))
    assert result[50] == pytest.approx(52.5)
    assert result[90] == pytest.approx(100.0)
    assert stats.pooled_percentiles([], (50,)) == {}


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30), st.floats(0, 100))
def test_pooled_and_plain_percentile_agree(values: list[float], q: float) -> None:
    pooled = stats.pooled_percentiles([values[:3], values[3:]], (q,))[q]
    assert pooled == pytest.approx(stats.percentile(values, q), rel=1e-9, abs=1e-6)
    assert min(values) <= stats.percentile(values, q) <= max(values)


# --- bootstrap -------------------------------------------------------------------------------


def test_bootstrap_ci_of_two_values_by_hand() -> None:
    # resampled medians of [1, 2]: 1 (p 1/4), 1.5 (1/2), 2 (1/4) -> 2.5th pct 1, 97.5th pct 2
    assert stats.bootstrap_ci_median([1.0, 2.0], seed=3) == (1.0, 2.0)


def test_bootstrap_ci_is_reproducible_and_brackets_the_median() -> None:
    values = [10.0, 11.0, 9.5, 10.2, 30.0, 10.1, 9.9]
    first = stats.bootstrap_ci_median(values, seed=7)
    assert first == stats.bootstrap_ci_median(values, seed=7)
    lo, hi = first
    assert 9.5 <= lo <= stats.median(values) <= hi <= 30.0
    assert hi < 30.0  # the outlier does not drag the median's interval


def test_bootstrap_ci_constant_and_errors() -> None:
    assert stats.bootstrap_ci_median([5.0] * 4) == (5.0, 5.0)
    with pytest.raises(ValueError):
        stats.bootstrap_ci_median([])


def test_bootstrap_ratio_of_medians() -> None:
    assert stats.bootstrap_ci_ratio([[20.0] * 5], [[10.0] * 5]) == (2.0, 2.0)
    # ratio of ratios: (20 / 4) / (10 / 2) = 1
    assert stats.bootstrap_ci_ratio([[20.0] * 3, [2.0] * 3], [[10.0] * 3, [4.0] * 3]) == (1.0, 1.0)
    lo, hi = stats.bootstrap_ci_ratio([[19.0, 20.0, 21.0]], [[9.0, 10.0, 11.0]], seed=1)
    assert 19 / 11 <= lo <= 2.0 <= hi <= 21 / 9


@settings(max_examples=50)
@given(st.lists(st.floats(0.001, 1e6), min_size=1, max_size=15), st.integers(0, 2**32))
def test_bootstrap_ci_within_data_range(values: list[float], seed: int) -> None:
    lo, hi = stats.bootstrap_ci_median(values, seed=seed, n_resamples=200)
    assert min(values) <= lo <= hi <= max(values)


# --- Mann-Whitney U ----------------------------------------------------------------------------


def test_mann_whitney_exact_complete_separation() -> None:
    # U = 0; of the C(6,3) = 20 splits only {1,2,3} and {4,5,6} are that extreme -> p = 2/20
    result = stats.mann_whitney_u([1, 2, 3], [4, 5, 6])
    assert result.exact
    assert result.u == 0
    assert result.p_value == pytest.approx(0.1)


def test_mann_whitney_exact_with_ties() -> None:
    # mid-ranks of [1,2 | 2,3]: 1, 2.5, 2.5, 4; U_a = 3.5 - 3 = 0.5, |U - 2| = 1.5;
    # the 6 splits give U = .5, .5, 2, 2, 3.5, 3.5 -> 4 of 6 as extreme
    result = stats.mann_whitney_u([1, 2], [2, 3])
    assert result.u == 0.5
    assert result.p_value == pytest.approx(4 / 6)


def test_mann_whitney_identical_samples_not_significant() -> None:
    assert stats.mann_whitney_u([5, 5, 5], [5, 5, 5]).p_value == 1.0
    assert stats.mann_whitney_u([1, 2, 3, 4], [1, 2, 3, 4]).p_value == 1.0


def test_mann_whitney_seven_repeats_each_is_significant() -> None:
    # 2 extreme splits of C(14, 7) = 3432
    result = stats.mann_whitney_u(list(range(7)), list(range(10, 17)))
    assert result.p_value == pytest.approx(2 / 3432)


def test_mann_whitney_normal_approximation_with_ties_by_hand() -> None:
    # a = 1..10, b = 6..15: values 6..10 tie in pairs (ranks 6.5, 8.5, ..., 14.5)
    # R_a = 15 + 52.5 = 67.5 -> U = 67.5 - 55 = 12.5; mean 50
    # var = 10*10/12 * (21 - 5*(2^3-2)/(20*19)) = 8.3333 * 20.921053 = 174.3421
    # z = (37.5 - 0.5) / sqrt(174.3421) = 2.80221 -> p = 2 * (1 - Phi(z)) = 0.005076
    result = stats.mann_whitney_u(list(range(1, 11)), list(range(6, 16)), exact=False)
    assert not result.exact
    assert result.u == 12.5
    assert result.p_value == pytest.approx(0.005076, abs=2e-5)
    # exact on the same data (checked once by enumerating all 184756 splits): 0.0031393
    assert stats.mann_whitney_u(list(range(1, 11)), list(range(6, 16))).p_value == pytest.approx(
        0.0031393, abs=1e-7
    )


def test_mann_whitney_large_samples_use_the_normal_approximation() -> None:
    # 0..29 vs 10..39: a beats b in 1+2+...+19 = 190 pairs, 20 ties count 0.5 -> U = 200;
    # var = 900/12 * (61 - 20*6/(60*59)) = 4572.46; z = (450 - 200 - 0.5) / 67.62 = 3.690
    # -> p = 2 * (1 - Phi(3.690)) = 0.0002245
    result = stats.mann_whitney_u(list(range(30)), list(range(10, 40)))
    assert not result.exact
    assert result.u == 200
    assert result.p_value == pytest.approx(0.0002245, abs=2e-6)
    assert stats.mann_whitney_u(list(range(30)), list(range(30))).p_value == 1.0


def test_mann_whitney_exact_matches_enumeration() -> None:
    # brute force over all C(9, 4) = 126 splits, ties included
    from itertools import combinations

    a, b = [1.0, 2.0, 2.0, 5.0], [2.0, 3.0, 5.0, 7.0, 8.0]
    ranks, _ = stats._midranks([*a, *b])
    u_obs = sum(ranks[:4]) - 10
    splits = [sum(c) - 10 for c in combinations(ranks, 4)]
    expected = sum(abs(u - 10) >= abs(u_obs - 10) - 1e-9 for u in splits) / len(splits)
    assert stats.mann_whitney_u(a, b).p_value == pytest.approx(expected)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 20), min_size=1, max_size=7),
    st.lists(st.integers(0, 20), min_size=1, max_size=7),
)
def test_mann_whitney_symmetric_and_bounded(a: list[int], b: list[int]) -> None:
    ab, ba = stats.mann_whitney_u(a, b), stats.mann_whitney_u(b, a)
    assert 0 < ab.p_value <= 1
    assert ab.p_value == pytest.approx(ba.p_value)
    assert ab.u + ba.u == pytest.approx(len(a) * len(b))


# --- primary metric and stability warnings -------------------------------------------------------


def test_primary_metric() -> None:
    assert stats.primary_metric("pingpong") == ("lat_p50_us", False)
    assert stats.primary_metric("proxy_ops") == ("lat_p50_us", False)
    assert stats.primary_metric("stream") == ("msgs_per_s", True)
    assert stats.primary_metric("fan") == ("msgs_per_s", True)
    assert stats.primary_metric("fan", {"lat_p50_us"}) == ("lat_p50_us", False)


def _as_strings(rows: list[dict[str, object]]) -> list[dict[str, str]]:
    return [{k: "" if v is None else str(v) for k, v in row.items()} for row in rows]


def test_stable_case_has_no_warnings() -> None:
    rows = case_rows(params(), 20.0)
    assert stats.stability_warnings(rows) == []
    assert stats.stability_warnings(_as_strings(rows)) == []


def test_noisy_case_flags_cv() -> None:
    # 100,100,100,100,150: mean 110, stdev sqrt(2000/4) = 22.36 -> CV 20 %
    rows = case_rows(params(), 100.0, spread=(1.0, 1.0, 1.0, 1.0, 1.5))
    for given_rows in (rows, _as_strings(rows)):
        (warning,) = stats.stability_warnings(given_rows)
        assert warning.startswith("pipe pingpong 64 B bytes fork unpinned: ")
        assert "varies 20%" in warning
        assert "\n" not in warning


def test_few_ok_repeats_flagged() -> None:
    rows = case_rows(
        params(), 20.0, spread=(1.0,) * 5, statuses=("ok", "error", "ok", "timeout", "ok")
    )
    (warning,) = stats.stability_warnings(_as_strings(rows))
    assert "only 3 ok repeat(s) of 5" in warning


def test_short_timed_region_flagged() -> None:
    rows = case_rows(params(), 20.0, elapsed_s=0.0002)
    (warning,) = stats.stability_warnings(rows)
    assert "timed region 0.2 ms" in warning
    assert stats.stability_warnings(rows, min_elapsed_s=0.0001) == []
    assert stats.timer_min_elapsed_s() >= 1e-3


def test_warnings_group_cases_with_mixed_cell_types() -> None:
    # the same case written as numbers and as strings is one case with 6 ok repeats
    rows = case_rows(params(), 20.0, spread=(1.0,) * 3)
    mixed = rows + _as_strings(case_rows(params(), 20.0, spread=(1.0,) * 3))
    assert stats.stability_warnings(mixed) == []
    other = case_rows(params(payload_bytes=4096), 20.0, spread=(1.0,) * 3)
    assert len(stats.stability_warnings(mixed + other)) == 1


def test_throughput_case_uses_msgs_per_s() -> None:
    rows = case_rows(params(pattern="stream"), 1000.0, spread=(1.0, 1.0, 1.0, 1.0, 2.0))
    (warning,) = stats.stability_warnings(rows)
    assert "msgs_per_s varies" in warning


def test_is_na_and_to_float() -> None:
    pd = pytest.importorskip("pandas")
    for value in (None, "", "  ", math.nan, pd.NA):
        assert stats.is_na(value)
        assert stats.to_float(value) is None
    assert not stats.is_na(0)
    assert stats.to_float("1.5") == 1.5


def test_summarize_case_pools_samples() -> None:
    rows = case_rows(params(), 20.0, statuses=("ok",) * 6 + ("crash",))
    samples = [[1000.0 * k for k in range(1, 11)] for _ in range(6)]
    summary = stats.summarize_case(rows, samples)
    assert summary["metric"] == "lat_p50_us"
    assert summary["median"] == pytest.approx(20.0 * 0.995)  # median of SPREAD[:6] x 20
    assert summary["n_ok"] == 6
    assert summary["n_failed"] == 1
    assert summary["lat_p50_us"] == pytest.approx(5.5)  # samples 1..10 us
    assert summary["lat_p99_us"] == pytest.approx(10.0)  # 60 samples: pos 58.41 -> 10
    assert summary["ci95_lo"] <= summary["median"] <= summary["ci95_hi"]


def test_summarize_case_all_failed_keeps_the_latency_metric() -> None:
    rows = case_rows(params(), 20.0, statuses=("error",) * 7)
    summary = stats.summarize_case(rows)
    assert summary["metric"] == "lat_p50_us"
    assert math.isnan(summary["median"])
    assert summary["n_ok"] == 0 and summary["n_failed"] == 7
    assert summary["warnings"][0].startswith("only 0 ok repeat(s) of 7")
