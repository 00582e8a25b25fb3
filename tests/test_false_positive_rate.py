"""bench/false_positive_rate.py on crafted result sets whose answers are known."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ipcbench.results import loader
from tests.fixtures_analysis import case_rows, default_meta, params, write_machine, write_run

N_CASES = 12
SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "false_positive_rate.py"


@pytest.fixture(scope="module")
def fpr() -> ModuleType:
    spec = importlib.util.spec_from_file_location("false_positive_rate", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_slowed_down_doubles_latency_and_halves_throughput(fpr: ModuleType, tmp_path: Path) -> None:
    frame = loader.load(write_machine(tmp_path, "a"))
    slow = fpr.slowed_down(frame)
    assert (slow["lat_p50_us"] / frame["lat_p50_us"]).dropna().eq(2.0).all()
    assert (slow["lat_p999_us"] / frame["lat_p999_us"]).dropna().eq(2.0).all()
    assert (frame["msgs_per_s"] / slow["msgs_per_s"]).dropna().eq(2.0).all()
    assert frame["lat_p50_us"].notna().any()


def test_identical_sets_flag_nothing_and_a_2x_slowdown_everything(
    fpr: ModuleType, tmp_path: Path
) -> None:
    a = loader.load(write_machine(tmp_path, "a"))
    b = loader.load(write_machine(tmp_path, "b"))
    same, slow = fpr.measure(a, b)
    assert (same.flagged, same.comparable) == (0, N_CASES)
    assert (slow.flagged, slow.comparable) == (N_CASES, N_CASES)
    assert slow.fraction == 1.0


def test_small_real_change_is_not_flagged_under_the_minimum_effect(
    fpr: ModuleType, tmp_path: Path
) -> None:
    a = loader.load(write_machine(tmp_path, "a"))
    b = loader.load(write_machine(tmp_path, "b", factor=1.04))
    assert fpr.measure(a, b)[0].flagged == 0
    assert fpr.measure(a, b, min_effect=0.02)[0].flagged == N_CASES


def test_noisy_back_to_back_sets(fpr: ModuleType, tmp_path: Path) -> None:
    # 20 cases, same machine, 5 repeats with +-20 % spread in a different order: no real
    # difference, so nothing may be flagged; a factor of two is still found in every case
    spread_a = (1.0, 1.2, 0.8, 1.1, 0.9)
    spread_b = (0.85, 1.15, 1.05, 0.95, 1.2)
    sets = []
    for name, spread in (("a", spread_a), ("b", spread_b)):
        cases = [
            case_rows(
                params("pipe", "pingpong", 2**i),
                20.0,
                machine_id=name,
                run_id=name,
                first_row=5 * i,
                spread=spread,
            )
            for i in range(20)
        ]
        sets.append(loader.load(write_run(tmp_path / name, "r", cases, default_meta(name, name))))
    same, slow = fpr.measure(*sets)
    assert (same.flagged, same.comparable) == (0, 20)
    assert slow.flagged == 20


def test_main_prints_both_shares(
    fpr: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = write_machine(tmp_path, "a"), write_machine(tmp_path, "b")
    assert fpr.main([str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "A vs B flagged: 0 of 12 comparable cases (0.0%); target <= 5%: ok" in out
    assert "A vs B made 2x slower, flagged slower: 12 of 12 comparable cases (100.0%)" in out
