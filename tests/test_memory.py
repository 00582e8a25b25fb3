"""Peak memory columns: the /proc reader, real sweeps, and old files loading with them empty."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ipcbench.measure.memory import largest_peak_rss_mib, peak_rss_mib
from ipcbench.results import loader
from ipcbench.results.schema import ADDED_IN, COLUMNS
from ipcbench.results.store import read_rows

MEMORY_COLUMNS = ("driver_peak_rss_mib", "worker_peak_rss_mib")
linux_only = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")


# --- the reader -------------------------------------------------------------------------------


@linux_only
def test_peak_rss_of_this_process_grows_after_touching_64_mib() -> None:
    """In a fresh interpreter: this test process's own peak may already be far above what
    64 MiB more would reach."""
    code = (
        "import os\n"
        "from ipcbench.measure.memory import peak_rss_mib\n"
        "before = peak_rss_mib()\n"
        "assert before is not None and before > 0\n"
        "assert peak_rss_mib(os.getpid()) is not None\n"
        "block = bytearray(64 * 1024 * 1024)\n"
        "for offset in range(0, len(block), 4096):\n"
        "    block[offset] = 1  # zero pages: touch one byte per page to make them resident\n"
        "after = peak_rss_mib()\n"
        "assert after is not None and after >= before + 60, (before, after)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_unreadable_pids_give_none() -> None:
    gone = 2**22 + 7  # above the usual pid_max default: no such process
    assert peak_rss_mib(gone) is None
    assert largest_peak_rss_mib([]) is None
    assert largest_peak_rss_mib([gone]) is None


@linux_only
def test_largest_peak_skips_the_unreadable() -> None:
    assert largest_peak_rss_mib([2**22 + 7, os.getpid()]) == peak_rss_mib()


# --- real sweeps ------------------------------------------------------------------------------


def _ok_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert [r["error"] for r in rows if r["status"] != "ok"] == []
    return rows


@linux_only
def test_pipe_stream_peaks_show_the_copies(run_sweep: Any) -> None:
    rows = _ok_rows(
        run_sweep(
            transports="pipe,thread_queue",
            patterns="stream",
            sizes="64,1M,16M",
            start_methods="fork",
            repeats=1,
        )
    )
    pipe = {r["payload_bytes"]: r for r in rows if r["transport"] == "pipe"}
    assert set(pipe) == {64, 1024**2, 16 * 1024**2}
    for row in pipe.values():
        assert row["driver_peak_rss_mib"] > 0 and row["worker_peak_rss_mib"] > 0
    # a 16 MiB message is built, sent and received as whole copies in the consumer
    assert pipe[16 * 1024**2]["worker_peak_rss_mib"] > pipe[64]["worker_peak_rss_mib"] + 16
    threads = [r for r in rows if r["transport"] == "thread_queue"]
    assert threads
    for row in threads:
        assert row["driver_peak_rss_mib"] > 0
        assert row["worker_peak_rss_mib"] is None


# --- old files --------------------------------------------------------------------------------


def test_version_2_file_loads_with_memory_columns_empty(tmp_path: Path) -> None:
    v2_columns = [c for c in COLUMNS if c not in ADDED_IN[3]]
    assert set(MEMORY_COLUMNS) <= set(ADDED_IN[3])
    row = dict.fromkeys(v2_columns, "")
    row.update(
        schema_version="2",
        run_id="r",
        row_id="r-1",
        transport="pipe",
        pattern="stream",
        payload_bytes="64",
        repeat="0",
        status="ok",
        elapsed_s="0.5",
    )
    path = tmp_path / "20260101T000000Z.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=v2_columns)
        writer.writeheader()
        writer.writerow(row)
    frame = loader.load(path)
    for column in MEMORY_COLUMNS:
        assert column in frame.columns
        assert frame[column].isna().all()
        assert frame[column].dtype.kind == "f"


# --- the run's own time and memory ------------------------------------------------------------


def test_run_metadata_says_where_its_time_went_and_the_runner_peak(tmp_path: Path) -> None:
    """meta.time_use: the measured batches' sum (the rows' elapsed_s) of the run's wall time,
    and the runner's peak RSS; the run's end prints the share."""
    import json

    done = subprocess.run(
        [sys.executable, "-m", "ipcbench", "run", "-t", "memcpy,raw_pipe", "-p", "stream",
         "-s", "64", "--repeats", "2", "--warmups", "0", "--target-time", "0.05",
         "-o", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (meta_path,) = tmp_path.rglob("*.meta.json")
    use = json.loads(meta_path.read_text())["time_use"]
    rows = read_rows(next(tmp_path.rglob("*.csv")))
    timed_s = sum(float(r["elapsed_s"]) for r in rows)
    assert use["timed_s"] == pytest.approx(timed_s, abs=0.002)
    # the batches' length follows a calibration that a busy machine can skew: only > 0
    assert 0 < use["timed_s"] < use["wall_s"]
    # timed_share is rounded from the exact seconds, timed_s and wall_s to 1 ms each: their
    # quotient can differ from it by their rounding (0.33% of a 0.2 s timed_s, for one)
    share = use["timed_s"] / use["wall_s"]
    rounding = share * (0.0005 / use["timed_s"] + 0.0005 / use["wall_s"]) + 0.00005
    assert abs(use["timed_share"] - share) <= rounding
    assert f"{use['timed_share']:.0%} of it inside the timed batches" in done.stdout
    if os.path.exists("/proc/self/status"):
        assert 10 < use["runner_peak_rss_mib"] < 2000
