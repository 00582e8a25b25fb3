"""ipcbench.compare on crafted result sets whose answers are known."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ipcbench import compare as cmp
from ipcbench import loader
from ipcbench.errors import IpcbenchError
from tests.fixtures_analysis import write_machine

N_CASES = 12


def _load(tmp_path: Path, machine_id: str, **kwargs: object) -> pd.DataFrame:
    return loader.load(write_machine(tmp_path, machine_id, **kwargs))  # type: ignore[arg-type]


def test_two_times_slower_machine(tmp_path: Path) -> None:
    a, b = _load(tmp_path, "fast"), _load(tmp_path, "slow", factor=2.0)
    result = cmp.compare([a, b])
    cases = result.cases
    assert len(cases) == N_CASES
    # latency doubled and throughput halved both read as "2x the time"
    assert cases["time_ratio"].to_numpy() == pytest.approx([2.0] * N_CASES)
    assert cases["significant"].all()
    assert (cases["p_value"] < 0.001).all()
    assert (cases["ci95_lo"] > 1.8).all() and (cases["ci95_hi"] < 2.2).all()
    assert set(cases["metric"]) == {"lat_p50_us", "msgs_per_s"}
    assert set(cases["a_set"]) == {"fast"} and set(cases["b_set"]) == {"slow"}
    stream = cases[cases["pattern"] == "stream"].iloc[0]
    assert stream["a_median"] == pytest.approx(2 * stream["b_median"])
    summary = result.by_transport
    assert list(summary["transport"]) == ["pipe", "queue", "raw_pipe"]
    assert summary["geomean_time_ratio"].to_numpy() == pytest.approx([2.0] * 3)
    assert list(summary["n_slower"]) == [4, 4, 4]
    assert list(summary["n_faster"]) == [0, 0, 0]
    assert result.warnings == []


def test_faster_machine_reads_below_one(tmp_path: Path) -> None:
    a, b = _load(tmp_path, "a"), _load(tmp_path, "b", factor=0.5)
    cases = cmp.compare([a, b]).cases
    assert cases["time_ratio"].to_numpy() == pytest.approx([0.5] * N_CASES)
    assert cmp.transport_summary(cases)["n_faster"].sum() == N_CASES


def test_identical_data_not_significant(tmp_path: Path) -> None:
    a, b = _load(tmp_path, "a"), _load(tmp_path, "b")
    cases = cmp.compare([a, b]).cases
    assert cases["time_ratio"].to_numpy() == pytest.approx([1.0] * N_CASES)
    assert not cases["significant"].any()
    assert (cases["p_value"] == 1.0).all()
    assert ((cases["ci95_lo"] <= 1.0) & (cases["ci95_hi"] >= 1.0)).all()


def test_shape_normalized_uniform_slowdown_is_one(tmp_path: Path) -> None:
    a, b = _load(tmp_path, "a"), _load(tmp_path, "b", factor=2.0)
    cases = cmp.compare([a, b], normalize="raw_pipe").cases
    assert len(cases) == N_CASES - 4  # raw_pipe's own cases are left out
    assert set(cases["transport"]) == {"pipe", "queue"}
    assert cases["time_ratio"].to_numpy() == pytest.approx([1.0] * len(cases))
    assert not cases["significant"].any()


def test_shape_normalized_finds_a_changed_shape(tmp_path: Path) -> None:
    # b: everything 2x slower, queue 3x slower -> relative to its own raw_pipe, queue is 1.5x
    a = _load(tmp_path, "a")
    b = _load(tmp_path, "b", factor=2.0, transport_factors={"queue": 1.5})
    cases = cmp.compare([a, b], normalize="raw_pipe").cases.set_index("transport")
    assert cases.loc["queue", "time_ratio"].to_numpy() == pytest.approx([1.5] * 4)
    assert cases.loc["queue", "significant"].all()
    assert cases.loc["pipe", "time_ratio"].to_numpy() == pytest.approx([1.0] * 4)


def test_normalize_unknown_baseline_lists_choices(tmp_path: Path) -> None:
    a, b = _load(tmp_path, "a"), _load(tmp_path, "b")
    with pytest.raises(
        IpcbenchError, match="choose a transport measured in every set: pipe, queue, raw_pipe"
    ):
        cmp.compare([a, b], normalize="nope")


def test_schema_mismatch_refused(tmp_path: Path) -> None:
    a, b = _load(tmp_path, "a"), _load(tmp_path, "b")
    b["schema_version"] = 0
    with pytest.raises(IpcbenchError, match="set b has schema_version 0") as info:
        cmp.compare([a, b])
    assert "\n" not in str(info.value)


def test_needs_two_sets_and_distinct_labels(tmp_path: Path) -> None:
    a = _load(tmp_path, "a")
    with pytest.raises(IpcbenchError, match="at least two"):
        cmp.compare([a])
    with pytest.raises(IpcbenchError, match="distinct label"):
        cmp.compare([a, a], ["x", "x"])
    assert cmp.default_labels([a, a]) == ["a", "a#2"]


def test_metadata_differences_warn_but_cpu_frequency_does_not(tmp_path: Path) -> None:
    a = _load(tmp_path, "a")
    b = _load(
        tmp_path,
        "b",
        factor=2.0,
        python_version="3.12.1",
        cpu_freq_mhz=1200.0,
        loadavg=[3, 3, 3],
        start_methods_used=["spawn"],
    )
    warnings = cmp.compare([a, b]).warnings
    assert len(warnings) == 2
    assert any("python_version differs: a has 3.11.7, b has 3.12.1" in w for w in warnings)
    assert any("start_methods_used differs" in w for w in warnings)
    assert not any("cpu_freq" in w or "loadavg" in w for w in warnings)


def test_placement_difference_and_unmatched_cases_warn(tmp_path: Path) -> None:
    a, b = _load(tmp_path, "a"), _load(tmp_path, "b")
    b.loc[b["transport"] == "queue", "placement"] = "split"
    result = cmp.compare([a, b])
    assert len(result.cases) == N_CASES - 4
    assert (
        "placement differs: a has unpinned, b has split, unpinned; results may not be "
        "comparable" in result.warnings
    )
    assert "4 case(s) of a have no match in b; left out" in result.warnings
    assert "4 case(s) of b have no match in a; left out" in result.warnings


def test_set_mixing_python_versions_warns(tmp_path: Path) -> None:
    write_machine(tmp_path, "a", "20261128T120000")
    write_machine(tmp_path, "a", "20261129T120000", python_version="3.13.0")
    a = loader.load(tmp_path / "a")
    b = _load(tmp_path, "b")
    warnings = cmp.compare([a, b]).warnings
    assert "a mixes runs with python_version 3.11.7, 3.13.0" in warnings


def test_three_sets_and_failed_repeats(tmp_path: Path) -> None:
    a, b, c = _load(tmp_path, "a"), _load(tmp_path, "b", factor=2), _load(tmp_path, "c", factor=4)
    c.loc[c.index[:3], "status"] = "error"  # first case of c keeps 4 ok repeats
    cases = cmp.compare([a, b, c]).cases
    assert len(cases) == 2 * N_CASES
    by_set = cases.groupby("b_set")["time_ratio"].median()
    assert by_set["b"] == pytest.approx(2.0)
    assert by_set["c"] == pytest.approx(4.0)
    assert sorted(cases.loc[cases["b_set"] == "c", "b_n"].unique()) == [4, 7]


def test_seeded_and_reproducible(tmp_path: Path) -> None:
    a, b = _load(tmp_path, "a"), _load(tmp_path, "b", factor=1.3)
    first = cmp.compare([a, b], seed=5).cases
    pd.testing.assert_frame_equal(first, cmp.compare([a, b], seed=5).cases)
    assert first["payload_bytes"].dtype == "Int64"
