"""ipcbench.measure.latency: per-repeat columns, and the rule that leaves unsupported
percentiles empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipcbench.analysis import stats
from ipcbench.measure import latency
from ipcbench.results.store import ResultWriter, RunStore, read_rows
from tests.fixtures_analysis import case_rows, params


def test_percentiles_by_hand() -> None:
    # 1000 samples 1..1000 ns: p50 at position 499.5 -> 500.5 ns; p99 at 989.01 -> 990.01 ns
    cols = latency.latency_columns(list(range(1, 1001)))
    assert cols["lat_min_us"] == pytest.approx(0.001)
    assert cols["lat_mean_us"] == pytest.approx(0.5005)
    assert cols["lat_p50_us"] == pytest.approx(0.5005)
    assert cols["lat_p99_us"] == pytest.approx(0.99001)
    assert cols["lat_max_us"] == pytest.approx(1.0)
    # p99.9 would need 10 samples beyond it: 10000 samples
    assert cols["lat_p999_us"] is None


def test_too_few_samples_leave_percentiles_empty() -> None:
    # 294 samples (the case): p99.9 and p99 would be the largest few samples
    cols = latency.latency_columns(list(range(294)))
    assert cols["lat_p999_us"] is None and cols["lat_p99_us"] is None
    assert cols["lat_p90_us"] is not None  # 294 * 0.1 = 29.4 beyond it
    small = latency.latency_columns([5, 3])
    assert small["lat_p50_us"] == pytest.approx(0.004)  # the median needs one sample
    assert small["lat_p90_us"] is None
    assert latency.latency_columns(list(range(10_000)))["lat_p999_us"] is not None


def test_rule_matches_stats() -> None:
    for n in (1, 99, 100, 199, 200, 999, 1000, 9999, 10_000):
        for q in (50, 75, 90, 95, 99, 99.9, 99.99, 100):
            assert latency.percentile_supported(n, q) == stats.percentile_supported(n, q), (n, q)


def test_csv_writer_writes_an_empty_cell(tmp_path: Path) -> None:
    rows = case_rows(params(), 20.0, spread=(1.0,))
    rows[0].update(latency.latency_columns(list(range(1, 295))))
    paths = RunStore.for_csv(tmp_path / "run.csv")
    with ResultWriter(paths) as writer:
        writer.write_case(rows, {})
    (row,) = read_rows(paths.csv)
    assert row["lat_p999_us"] == "" and row["lat_p99_us"] == ""
    assert float(row["lat_p90_us"]) > 0


def test_run_summary_survives_an_empty_p99() -> None:
    # rate repeats with too few samples for a p99 carry None there: the saturation line says so
    from ipcbench.analysis.summary import format_saturation, saturation_points

    rows = [
        {
            "transport": "pipe",
            "pattern": "rate",
            "payload_bytes": 64,
            "status": "ok",
            "offered_load": "1000",
            "offered_per_s": 1000.0,
            "msgs_per_s": 1000.0,
            "lat_p50_us": 20.0 + repeat,
            "lat_p99_us": None,
            "start_method": "fork",
            "placement": "unpinned",
            "payload_kind": "bytes",
            "repeat": repeat,
            "maxsize": "",
            "op": "",
        }
        for repeat in range(3)
    ]
    (found,) = saturation_points(rows)
    assert found.kept_up is not None and found.kept_up.lat_p50_us == 21.0
    assert "p99 - (too few samples)" in format_saturation(found)
