"""--repeats auto: the settled/unsettled verdicts on crafted rows, and real sweeps that add
rounds only for unsettled cases and stop at the cap or the budget."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST

from ipcbench import cli
from ipcbench.harness import adaptive
from ipcbench.harness.runner import Runner
from ipcbench.harness.settings import build_settings
from ipcbench.params import Case


def _rows(case: Case, values: list[float]) -> list[dict[str, Any]]:
    metric = "lat_p50_us" if case.pattern == "pingpong" else "msgs_per_s"
    return [{**case.params(), "status": "ok", "repeat": i, metric: v} for i, v in enumerate(values)]


PIPE = Case("pipe", "pingpong", 64)
QUEUE = Case("queue", "pingpong", 64)
TIGHT = [100.0, 100.5, 99.5, 100.2, 99.8, 100.1, 99.9]  # interval well within 5 %
WIDE = [70.0, 130.0, 90.0, 110.0, 100.0, 60.0, 140.0]


def test_a_precise_case_without_a_rival_is_settled() -> None:
    [verdict] = adaptive.judge([PIPE], _rows(PIPE, TIGHT), 0.05)
    assert verdict.settled and verdict.ok_repeats == 7 and verdict.half_width < 0.01


def test_a_wide_case_is_not_settled_for_precision() -> None:
    [verdict] = adaptive.judge([PIPE], _rows(PIPE, WIDE), 0.05)
    # 7 values: the 95 % interval of the median is [min, max] (98.4 %): +-40 %
    assert verdict.why_not == "precision" and verdict.half_width == pytest.approx(0.4)


def test_rivals_not_told_apart_stay_open_both() -> None:
    rows = _rows(PIPE, WIDE) + _rows(QUEUE, [v * 1.05 for v in WIDE])  # p large, ratio 0.6-1.7
    verdicts = adaptive.judge([PIPE, QUEUE], rows, 0.5)  # precise enough: the rival keeps both
    assert [v.why_not for v in verdicts] == ["rival", "rival"]
    alone = adaptive.judge([PIPE], _rows(PIPE, WIDE), 0.5)  # no rival: settled
    assert alone[0].settled


def test_rivals_told_apart_or_equal_are_settled() -> None:
    apart = _rows(PIPE, TIGHT) + _rows(QUEUE, [v * 2 for v in TIGHT])
    assert all(v.settled for v in adaptive.judge([PIPE, QUEUE], apart, 0.05))
    same = [100.0] * 7
    equal = _rows(PIPE, same) + _rows(QUEUE, same)  # ratio interval [1, 1]: equal
    assert all(v.settled for v in adaptive.judge([PIPE, QUEUE], equal, 0.05))


def test_a_case_without_ok_rows_is_not_settled() -> None:
    failed = [{**PIPE.params(), "status": "crash", "repeat": 0}]
    [verdict] = adaptive.judge([PIPE], failed, 0.05)
    assert verdict.why_not == "precision" and verdict.ok_repeats == 0


def test_the_summary_names_the_cap_and_the_budget() -> None:
    verdicts = [
        adaptive.Verdict(PIPE, 30, 0.08, "precision"),
        adaptive.Verdict(QUEUE, 9, 0.07, "precision and rival"),
        adaptive.Verdict(Case("raw_pipe", "pingpong", 64), 6, 0.01),
    ]
    lines = adaptive.summary_lines(verdicts, cap=30, precision=0.05)
    assert lines[0].startswith("adaptive repeats: 1 of 3 cases settled")
    assert "1 cases reached the cap of 30 repeats: pipe pingpong" in lines[1]
    assert "1 cases ran out of the time budget: queue pingpong" in lines[2]
    assert "not settled: precision and rival" in lines[2]


def test_rounds_are_added_only_for_unsettled_cases_up_to_the_cap(tmp_path: Path) -> None:
    settings = build_settings(
        {**FAST, "repeats": "auto", "max_repeats": 7, "precision": "0.01%",
         "transports": "memcpy", "patterns": "stream", "sizes": "64,4K", "seed": 5,
         "out": str(tmp_path)}
    )  # fmt: skip
    result = Runner(settings).run()
    per_case = Counter(r["payload_bytes"] for r in result.rows)
    assert per_case == {64: 7, 4096: 7}  # +-0.01 % is never reached: both to the cap
    assert sorted(r["repeat"] for r in result.rows if r["payload_bytes"] == 64) == list(range(7))
    meta = json.loads(result.paths.meta.read_text())
    assert meta["adaptive"]["settled"] == 0 and meta["config"]["repeats"] == 0
    assert any("2 cases reached the cap of 7 repeats" in w for w in meta["warnings"])


def test_settled_cases_stop_at_the_first_rounds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every interval within the precision, whatever the machine's noise (a busy CPU can put a
    # repeat at 3x the median): settled is the judge's call, tested on crafted rows above
    monkeypatch.setattr(adaptive, "relative_half_width", lambda values: 0.0)
    settings = build_settings(
        {**FAST, "repeats": "auto", "precision": "5%", "transports": "memcpy",
         "patterns": "stream", "sizes": "64", "out": str(tmp_path)}
    )  # fmt: skip
    rows = Runner(settings).run().rows
    assert len(rows) == adaptive.MIN_ROUNDS


def test_the_budget_stops_new_rounds(tmp_path: Path) -> None:
    settings = build_settings(
        {**FAST, "repeats": "auto", "precision": "0.01%", "budget": "0.001s",
         "transports": "memcpy", "patterns": "stream", "sizes": "64", "out": str(tmp_path)}
    )  # fmt: skip
    result = Runner(settings).run()
    assert len(result.rows) == adaptive.MIN_ROUNDS  # the first rounds always run
    meta = json.loads(result.paths.meta.read_text())
    assert any("ran out of the time budget" in w for w in meta["warnings"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--repeats", "some"], "--repeats: expected a whole number"),
        (["--repeats", "auto", "--precision", "150%"], "--precision must be between"),
        (["--repeats", "auto", "--budget", "soon"], "--budget: expected a duration"),
        (["--repeats", "auto", "--max-repeats", "1"], "--max-repeats must be at least 2"),
    ],
)
def test_bad_adaptive_flags_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code = cli.main(["run", "-t", "memcpy", "-o", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
