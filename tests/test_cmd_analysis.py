"""The summarize and compare commands: via main(args), and via ``python -m ipcbench``."""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ipcbench.cli import compare as compare_cmd
from ipcbench.cli import summarize as summarize_cmd
from ipcbench.errors import IpcbenchError
from ipcbench.results.store import ResultWriter, RunStore
from tests.fixtures_analysis import case_rows, params, write_machine, write_run

REPO = Path(__file__).resolve().parents[1]


def _parse(*argv: str | Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ipcbench")
    sub = parser.add_subparsers()
    summarize_cmd.register(sub)
    compare_cmd.register(sub)
    return parser.parse_args([str(a) for a in argv])


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[str, str]:
    args = _parse(*argv)
    assert args.func(args) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


# --- summarize ----------------------------------------------------------------------------------


def test_summarize_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, err = _run(capsys, "summarize", write_machine(tmp_path, "m1"))
    lines = out.splitlines()
    assert lines[0].startswith("all cases: payload_kind=bytes start_method=fork")
    header = lines[1].split()
    assert header[:3] == ["transport", "pattern", "payload"]
    assert "[us]" in lines[1] and "CV [%]" in lines[1]
    assert len(lines) == 3 + 12
    assert lines[3].split()[:4] == ["pipe", "pingpong", "64", "B"]
    # raw_pipe pingpong 64 B: median 10 * (1 + 64/65536) = 10.01 us
    raw_pipe = lines[3 + 4].split()
    assert raw_pipe[:7] == ["raw_pipe", "pingpong", "64", "B", "lat", "p50", "[us]"]
    assert raw_pipe[7] == "10.01"
    # 7 repeats: [min, max] = [0.97, 1.03] x 10.01 at 1 - 2/128 = 98.4 %
    assert raw_pipe[8:12] == ["9.709", "-", "10.31", "98.4%"]
    # 7 x 10 samples per case: too few for a p99 (1000), said once
    assert err == (
        "warning: 6 case(s) have fewer than 1000 pooled samples: p99 left empty (a percentile "
        "needs >= 10 samples beyond it); take more messages or repeats\n"
    )


def test_summarize_csv_output_and_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_machine(tmp_path, "m1")
    out_csv = tmp_path / "summary.csv"
    _run(capsys, "summarize", run, "-o", out_csv)
    table = pd.read_csv(out_csv)
    assert len(table) == 12
    row = table[
        (table["transport"] == "raw_pipe")
        & (table["pattern"] == "pingpong")
        & (table["payload_bytes"] == 64)
    ].iloc[0]
    assert row["median"] == pytest.approx(10 * (1 + 64 / 65536))
    # 70 pooled samples: the pooled median is there, the p99 (needs 1000) is left empty
    p50 = 10 * (1 + 64 / 65536)
    assert row["lat_p50_us"] == pytest.approx(p50, rel=0.1)
    assert math.isnan(row["lat_p99_us"])
    assert row["n_samples"] == 70
    assert row["ci_level"] == pytest.approx(1 - 2 / 128)
    assert not row["ci_is_range"]
    assert row["n_ok"] == 7 and row["n_failed"] == 0
    assert row["cv_pct"] == pytest.approx(2.16, abs=0.01)
    with pytest.raises(IpcbenchError, match="already exists; pass --force"):
        summarize_cmd.main(_parse("summarize", run, "-o", out_csv))
    _run(capsys, "summarize", run, "-o", out_csv, "--force")


def test_summarize_reports_failures_and_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    statuses = ("ok", "ok", "error", "crash", "ok", "timeout", "ok")
    run = write_run(
        tmp_path, "r", [case_rows(params(), 20.0, statuses=statuses)], with_samples=False
    )
    out, err = _run(capsys, "summarize", run)
    assert out.splitlines()[-1].split()[-3:] == ["4", "3", "1"]  # ok, failed, warnings
    assert f"warning: {run} has no samples file" in err
    assert "warning: pipe pingpong 64 B bytes fork unpinned: only 4 ok repeat(s) of 7" in err


def test_summarize_caps_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        case_rows(params(payload_bytes=size), 20.0, spread=(1.0, 2.0), first_row=2 * i)
        for i, size in enumerate(range(1, 31))
    ]
    _, err = _run(capsys, "summarize", write_run(tmp_path, "r", cases))
    lines = err.splitlines()
    assert len(lines) == 21  # 60 warnings: 2 per case (few repeats, CV)
    assert lines[-1] == "warning: ... 41 more; see the warnings column of the CSV (-o)"
    assert "p99 left empty" in lines[0]  # the note is not lost behind the cap


def test_samples_by_row_joins_split_blocks() -> None:
    samples = pd.DataFrame(
        {"row_id": ["r1", "r1", "r2", "r1"], "lat_ns": [1, 2, 3, 4], "source_csv": ["x.csv"] * 4}
    )
    by_row = summarize_cmd._samples_by_row(samples)
    assert list(by_row[("x.csv", "r1")]) == [1, 2, 4]
    assert list(by_row[("x.csv", "r2")]) == [3]


@pytest.mark.parametrize("bad", ["missing.csv", "empty.csv", "foreign.csv", "folder"])
def test_summarize_bad_input(tmp_path: Path, bad: str) -> None:
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "foreign.csv").write_text("x,y\n1,2\n")
    (tmp_path / "folder").mkdir()
    with pytest.raises(IpcbenchError):
        summarize_cmd.main(_parse("summarize", tmp_path / bad))


def test_summarize_output_folder_missing(tmp_path: Path) -> None:
    run = write_machine(tmp_path, "m1")
    with pytest.raises(IpcbenchError, match="does not exist"):
        summarize_cmd.main(_parse("summarize", run, "-o", tmp_path / "no" / "x.csv"))


def test_summarize_p99_with_enough_samples_and_range_with_five_repeats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = case_rows(params(), 20.0, spread=(1.0, 1.1, 0.9, 1.2, 0.8))
    # 5 repeats x 200 samples: 1..1000 us pooled -> p99 at 999 * 0.99 = 989.01 -> 990.01 us
    samples = {
        r["row_id"]: [1000 * (200 * i + k) for k in range(1, 201)] for i, r in enumerate(rows)
    }
    paths = RunStore.for_csv(tmp_path / "r.csv")
    with ResultWriter(paths) as writer:
        writer.write_case(rows, samples)
    out_csv = tmp_path / "s.csv"
    out, err = _run(capsys, "summarize", paths.csv, "-o", out_csv)
    row = pd.read_csv(out_csv).iloc[0]
    assert row["lat_p99_us"] == pytest.approx(990.01)
    # 5 repeats: no interval reaches 95 %: the range [16, 24] at 93.75 %, called a range
    assert (row["ci_lo"], row["ci_hi"]) == pytest.approx((16.0, 24.0))
    assert row["ci_level"] == pytest.approx(0.9375) and row["ci_is_range"]
    assert "16 - 24" in out and "93.8% range" in out
    assert "p99 left empty" not in err


# --- compare ------------------------------------------------------------------------------------


def test_compare_machine_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_machine(tmp_path, "fast")
    write_machine(tmp_path, "slow", factor=2.0, python_version="3.12.0")
    out_csv = tmp_path / "cmp.csv"
    out, err = _run(capsys, "compare", tmp_path / "fast", tmp_path / "slow", "-o", out_csv)
    assert out.startswith("A = fast.")
    assert out.count(" 2.00* ") == 12
    assert "per transport:" in out
    assert err == (
        "warning: python_version differs: fast has 3.11.7, slow has 3.12.0; "
        "results may not be comparable\n"
    )
    table = pd.read_csv(out_csv)
    assert table["time_ratio"].to_numpy() == pytest.approx([2.0] * 12)
    assert table["significant"].all()


def test_compare_normalized_csv_args(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_machine(tmp_path, "a")
    b = write_machine(tmp_path, "b", factor=2.0)
    out_csv = tmp_path / "cmp.csv"
    out, _ = _run(capsys, "compare", a, b, "--normalize", "raw_pipe", "-o", out_csv)
    assert "Shape comparison" in out
    assert "b/20261128T120000" in out
    table = pd.read_csv(out_csv)
    assert len(table) == 8
    assert table["time_ratio"].to_numpy() == pytest.approx([1.0] * 8)
    assert not table["significant"].any()


def test_compare_bad_inputs(tmp_path: Path) -> None:
    a = write_machine(tmp_path, "a")
    with pytest.raises(IpcbenchError, match="choose a transport"):
        compare_cmd.main(_parse("compare", a, a, "--normalize", "nope"))
    with pytest.raises(IpcbenchError, match="is empty"):
        (tmp_path / "empty.csv").write_text("")
        compare_cmd.main(_parse("compare", a, tmp_path / "empty.csv"))
    with pytest.raises(SystemExit):  # argparse: B is required
        _parse("compare", a)


def test_set_labels_are_distinct(tmp_path: Path) -> None:
    a = write_machine(tmp_path, "m1")
    assert compare_cmd.set_labels([tmp_path / "m1", a, tmp_path / "m1"]) == [
        "m1",
        "m1/20261128T120000",
        "m1#3",
    ]


# --- through the real CLI -------------------------------------------------------------------------


def _cli_available() -> bool:
    try:
        from ipcbench import cli
    except ImportError:
        return False
    return callable(getattr(cli, "main", None))


@pytest.mark.skipif(not _cli_available(), reason="ipcbench.cli.main not written yet")
@pytest.mark.parametrize("command", ["summarize", "compare"])
def test_cli_bad_csv_exit_2_one_line(tmp_path: Path, command: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("not,a,result\n1,2,3\n")
    argv = [command, str(bad)] + ([str(bad)] if command == "compare" else [])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "ipcbench", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "not an ipcbench result file" in proc.stderr
    assert proc.stdout == ""


def test_compare_min_effect_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_machine(tmp_path, "a")
    b = write_machine(tmp_path, "b", factor=1.04)
    out, _ = _run(capsys, "compare", a, b)
    assert "ratio at least 5% from 1" in out
    table = out.split("\n\n")[1]
    assert table.count(" tie") == 12 and "*" not in table
    out, _ = _run(capsys, "compare", a, b, "--min-effect", "2%")
    table = out.split("\n\n")[1]
    assert table.count(" slower ") == 12 and table.count(" 1.04* ") == 12
    assert "ratio at least 2% from 1" in out
    with pytest.raises(SystemExit):
        _parse("compare", a, b, "--min-effect", "lots")
