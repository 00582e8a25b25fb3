"""ipcbench.analysis.stats against numbers worked out by hand (see the comments for the working)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipcbench.analysis import stats
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
    result = stats.pooled_percentiles([[1, 2, 3, 4, 5], [100] * 5], (50, 90), min_tail=0)
    assert result[50] == pytest.approx(52.5)
    assert result[90] == pytest.approx(100.0)
    assert stats.pooled_percentiles([], (50,)) == {}
    # with the default rule 10 samples support the median only (p90 needs 100)
    assert stats.pooled_percentiles([[1, 2, 3, 4, 5], [100] * 5], (50, 90)) == {50: 52.5}


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30), st.floats(0, 100))
def test_pooled_and_plain_percentile_agree(values: list[float], q: float) -> None:
    pooled = stats.pooled_percentiles([values[:3], values[3:]], (q,), min_tail=0)[q]
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


@settings(max_examples=50, deadline=None)  # no per-example deadline: a busy machine is slow
@given(st.lists(st.floats(0.001, 1e6), min_size=1, max_size=15), st.integers(0, 2**32))
def test_bootstrap_ci_within_data_range(values: list[float], seed: int) -> None:
    lo, hi = stats.bootstrap_ci_median(values, seed=seed, n_resamples=200)
    assert min(values) <= lo <= hi <= max(values)


# --- percentiles need enough samples ------------------------------------------------------------


def test_min_samples_for_percentile_by_hand() -> None:
    # 10 samples expected beyond q: n >= 10 / (1 - q/100)
    assert stats.min_samples_for_percentile(90) == 100
    assert stats.min_samples_for_percentile(95) == 200
    assert stats.min_samples_for_percentile(99) == 1000
    assert stats.min_samples_for_percentile(99.9) == 10_000  # not 10001 (99.9 is inexact)
    assert stats.min_samples_for_percentile(50) == 1
    assert stats.min_samples_for_percentile(99, min_tail=1) == 100
    with pytest.raises(ValueError):
        stats.min_samples_for_percentile(100)
    with pytest.raises(ValueError):
        stats.min_samples_for_percentile(101)


def test_percentile_supported_by_hand() -> None:
    # the case: 294 samples are far from the 10000 a p99.9 needs (and the 1000 of p99)
    assert not stats.percentile_supported(294, 99.9)
    assert not stats.percentile_supported(294, 99)
    assert stats.percentile_supported(294, 90)
    assert not stats.percentile_supported(9_999, 99.9)
    assert stats.percentile_supported(10_000, 99.9)
    assert stats.percentile_supported(1, 50)
    assert not stats.percentile_supported(0, 50)
    assert not stats.percentile_supported(10**9, 100)


# --- exact median interval --------------------------------------------------------------------


def test_median_interval_level_by_hand() -> None:
    # 1 - 2 * P(Bin(n, 1/2) <= k - 1)
    assert stats.median_interval_level(5, 1) == pytest.approx(1 - 2 / 32)  # 0.9375
    assert stats.median_interval_level(3, 1) == pytest.approx(0.75)
    assert stats.median_interval_level(9, 2) == pytest.approx(1 - 2 * (1 + 9) / 512)  # 0.9609
    assert stats.median_interval_level(10, 3) == pytest.approx(1 - 2 * (1 + 10 + 45) / 1024)
    with pytest.raises(ValueError):
        stats.median_interval_level(5, 4)


def test_median_interval_picks_narrowest_pair_reaching_95() -> None:
    data = [7.0, 1.0, 9.0, 3.0, 5.0, 2.0, 8.0, 4.0, 6.0, 10.0]  # sorted 1..10
    # n = 10: k = 3 has 89.1 % < 95 %, k = 2 has 1 - 2*11/1024 = 97.85 % -> [x(2), x(9)]
    assert stats.median_interval(data) == stats.Interval(2.0, 9.0, 1 - 22 / 1024, False)
    # n = 9: [x(2), x(8)] at 96.09 %
    assert stats.median_interval(data[:9]) == stats.Interval(2.0, 8.0, 1 - 20 / 512, False)
    # n = 6: [min, max] already reaches 95 % (96.875 %): a real interval, not a range
    six = stats.median_interval([3.0, 1.0, 2.0, 6.0, 5.0, 4.0])
    assert six == stats.Interval(1.0, 6.0, 1 - 2 / 64, False)


def test_median_interval_too_few_values_is_a_range_with_its_level() -> None:
    assert stats.median_interval([3.0, 1.0, 2.0, 5.0, 4.0]) == stats.Interval(1, 5, 0.9375, True)
    assert stats.median_interval([2.0, 1.0, 3.0]) == stats.Interval(1.0, 3.0, 0.75, True)
    assert stats.median_interval([4.0]) == stats.Interval(4.0, 4.0, 0.0, True)
    assert stats.median_interval([5.0] * 8) == stats.Interval(5.0, 5.0, 1 - 2 / 256, False)
    with pytest.raises(ValueError):
        stats.median_interval([])


def test_median_interval_coverage_by_simulation() -> None:
    # lognormal data (skewed like timings): the interval covers the true median at least as often
    # as its stated level, and >= 93 % wherever 95 % is aimed at
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(12)
    for n in (3, 5, 7, 10):
        draws = rng.lognormal(mean=0.0, sigma=0.5, size=(4000, n))  # true median exp(0) = 1
        intervals = [stats.median_interval(row) for row in draws.tolist()]
        covered = np.mean([iv.lo <= 1.0 <= iv.hi for iv in intervals])
        level = intervals[0].level
        assert abs(covered - level) < 0.02, (n, covered, level)
        if n >= 5:
            assert covered >= 0.93, (n, covered)
    # the percentile bootstrap claims 95 % at n = 3 but is [min, max]: 75 % coverage
    assert stats.bootstrap_ci_median([2.0, 1.0, 3.0]) == (1.0, 3.0)


# --- ratio interval (Hodges-Lehmann on log ratios) ---------------------------------------------


def test_u_null_counts_by_hand() -> None:
    # 3 + 3: the 20 orderings per U are the coefficients of the Gaussian binomial [6 over 3]
    assert stats._u_null_counts(3, 3) == [1, 1, 2, 3, 3, 3, 3, 2, 1, 1]
    assert stats._u_null_counts(2, 1) == [1, 1, 1]
    assert sum(stats._u_null_counts(5, 5)) == 252


def test_ratio_interval_by_hand() -> None:
    # ratios num/den of [2, 4] / [1, 2]: 2, 1, 4, 2 -> sorted 1, 2, 2, 4; 2 + 2 values:
    # P(U <= 0) = 1/6, so even [min, max] has only 1 - 2/6 = 66.7 %: a range
    assert stats.ratio_interval([2.0, 4.0], [1.0, 2.0]) == stats.Interval(
        1.0, 4.0, pytest.approx(2 / 3), True
    )
    # 5 + 5: P(U <= 2) = 4/252, P(U <= 3) = 7/252 -> k = 3, level 1 - 8/252 = 96.83 %
    num = [10.0, 11.0, 12.0, 13.0, 14.0]
    den = [1.0, 2.0, 3.0, 4.0, 5.0]
    interval = stats.ratio_interval(num, den)
    ratios = sorted(b / a for b in num for a in den)
    assert interval == stats.Interval(ratios[2], ratios[22], pytest.approx(1 - 8 / 252), False)
    # 3 + 3: at best [min, max] at 1 - 2/20 = 90 %
    three = stats.ratio_interval([2.0, 2.0, 2.0], [1.0, 1.0, 1.0])
    assert three == stats.Interval(2.0, 2.0, pytest.approx(0.9), True)
    assert math.isnan(stats.ratio_interval([1.0], [0.0]).lo)


def test_ratio_interval_normal_approximation_above_exact_limit() -> None:
    # 30 + 30 values: k from the normal approximation, level close to (and above) 95 %
    k, level = stats._ratio_cut(30, 30, 0.95)
    assert 0.95 <= level < 0.96
    # sd = sqrt(900 * 61 / 12) = 67.64; k - 0.5 = 450 - 1.96 * 67.64 -> k ~ 318
    assert abs(k - 318) <= 1


def test_ratio_interval_coverage_by_simulation() -> None:
    # B = A x 1.3 with lognormal noise: the interval covers 1.3 >= 93 % of the time
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(5)
    for n in (5, 7):
        a = rng.lognormal(0.0, 0.3, size=(2000, n))
        b = 1.3 * rng.lognormal(0.0, 0.3, size=(2000, n))
        hits = [
            (iv := stats.ratio_interval(bb, aa)).lo <= 1.3 <= iv.hi
            for aa, bb in zip(a.tolist(), b.tolist(), strict=True)
        ]
        assert np.mean(hits) >= 0.93, (n, np.mean(hits))


def test_paired_quotients() -> None:
    assert stats.paired_quotients([10.0, 20.0, 30.0], [2.0, 4.0]) == [5.0, 5.0]
    assert stats.paired_quotients([10.0, 20.0], [0.0, 4.0]) == [5.0]


# --- many comparisons ---------------------------------------------------------------------------


def test_benjamini_hochberg_by_hand() -> None:
    # sorted p: .005 .01 .03 .04, m = 4: m*p/rank = .02 .02 .04 .04 (monotone already)
    assert stats.benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == pytest.approx(
        [0.02, 0.04, 0.04, 0.02]
    )
    # step-up: .01*3/1 = .03, .04*3/2 = .06, .045*3/3 = .045 -> running min from the top:
    # .045, min(.06, .045) = .045, min(.03, .045) = .03
    assert stats.benjamini_hochberg([0.04, 0.01, 0.045]) == pytest.approx([0.045, 0.03, 0.045])
    # capped at 1; NaN stays NaN and does not count in m (m = 2 here)
    result = stats.benjamini_hochberg([0.8, math.nan, 0.9])
    assert result[0] == pytest.approx(0.9) and result[2] == pytest.approx(0.9)
    assert math.isnan(result[1])
    assert stats.benjamini_hochberg([0.6, 0.7]) == pytest.approx([0.7, 0.7])
    assert stats.benjamini_hochberg([]) == []


def test_benjamini_hochberg_keeps_five_repeat_differences() -> None:
    # 5 repeats each: the smallest exact p is 2/252 = 0.0079; 20 real differences stay below
    # 0.05 after BH (Holm would multiply the first by 20 -> 0.16 and call none)
    q = stats.benjamini_hochberg([2 / 252] * 20)
    assert max(q) == pytest.approx(2 / 252)


def test_decide_by_hand() -> None:
    assert stats.decide(0.01, 2.0, (1.8, 2.2)) == "slower"
    assert stats.decide(0.01, 0.5, (0.45, 0.55)) == "faster"
    assert stats.decide(0.06, 2.0, (1.8, 2.2)) == "tie"  # q too large
    assert stats.decide(0.01, 1.04, (1.01, 1.07)) == "tie"  # under the 5 % minimum effect
    assert stats.decide(0.01, 1.04, (1.01, 1.07), min_effect=0.03) == "slower"
    assert stats.decide(0.01, 0.96, (0.93, 0.99), min_effect=0.03) == "faster"
    # 1 / 1.05 = 0.952: 0.953 is under a 5 % change, 0.95 is not
    assert stats.decide(0.01, 0.953, (0.9, 0.99)) == "tie"
    assert stats.decide(0.01, 0.95, (0.9, 0.99)) == "faster"
    assert stats.decide(0.01, 1.2, (0.9, 1.5)) == "tie"  # interval holds 1
    assert stats.decide(math.nan, 2.0, (1.8, 2.2)) == "tie"
    assert stats.decide(0.01, 2.0, (math.nan, math.nan)) == "tie"


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
    assert math.isnan(summary["lat_p99_us"])  # 60 samples: p99 needs 1000
    assert summary["n_samples"] == 60
    # 6 repeats: [x(1), x(6)] = [0.97, 1.02] x 20 at 1 - 2/64 = 96.875 %
    assert (summary["ci_lo"], summary["ci_hi"]) == pytest.approx((19.4, 20.4))
    assert summary["ci_level"] == pytest.approx(0.96875)
    assert not summary["ci_is_range"]


def test_summarize_case_p99_from_enough_samples() -> None:
    rows = case_rows(params(), 20.0, spread=(1.0,) * 5)
    # 5 x 200 = 1000 samples 1..1000 us: p99 at position 999 * 0.99 = 989.01 -> 990.01 us
    samples = [[1000.0 * (200 * r + k) for k in range(1, 201)] for r in range(5)]
    summary = stats.summarize_case(rows, samples)
    assert summary["lat_p99_us"] == pytest.approx(990.01)
    # 5 repeats: only the range [min, max] at 1 - 2/32 = 93.75 %
    assert summary["ci_level"] == pytest.approx(0.9375)
    assert summary["ci_is_range"]


def test_summarize_case_all_failed_keeps_the_latency_metric() -> None:
    rows = case_rows(params(), 20.0, statuses=("error",) * 7)
    summary = stats.summarize_case(rows)
    assert summary["metric"] == "lat_p50_us"
    assert math.isnan(summary["median"])
    assert summary["n_ok"] == 0 and summary["n_failed"] == 7
    assert summary["warnings"][0].startswith("only 0 ok repeat(s) of 7")
