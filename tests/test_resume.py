"""``ipcbench run --resume RESULT.csv``: only the missing cases run, appended under the same
run id and metadata; other settings, damaged files and other machines are refused (one line,
exit 2, the file untouched); a line or samples block cut off by a crash is repaired."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST

from ipcbench import cli
from ipcbench.errors import IpcbenchError
from ipcbench.harness.resume import load_resume
from ipcbench.harness.runner import Runner
from ipcbench.harness.settings import build_settings
from ipcbench.results.schema import PARAM_COLUMNS, SCHEMA_VERSION
from ipcbench.results.store import RunStore, read_rows, read_sample_arrays, read_samples
from tests.fixtures_analysis import to_old_text_samples

SWEEP = {**FAST, "transports": "memcpy,pickle", "sizes": "8,64", "seed": 7}
N_CASES = 8  # 2 transports x 2 patterns x 2 sizes


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> RunStore:
    out = tmp_path_factory.mktemp("finished")
    result = Runner(build_settings({**SWEEP, "out": str(out)})).run()
    assert len(read_rows(result.paths.csv)) == N_CASES * 2
    return result.paths


def copy_run(paths: RunStore, folder: Path) -> RunStore:
    folder.mkdir(parents=True, exist_ok=True)
    for path in (paths.csv, paths.meta, paths.samples):
        shutil.copy(path, folder / path.name)
    return RunStore.for_csv(folder / paths.csv.name)


def interrupted(paths: RunStore, folder: Path, keep_cases: int) -> RunStore:
    """A copy of the run as if stopped after ``keep_cases`` cases (2 rows each)."""
    run = copy_run(paths, folder)
    lines = run.csv.read_bytes().splitlines(keepends=True)
    run.csv.write_bytes(b"".join(lines[: 1 + 2 * keep_cases]))
    return run


def main(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(list(args))
    return code, capsys.readouterr().err


def case_repeats(rows: list[dict[str, str]]) -> Counter[tuple[str, ...]]:
    return Counter((*(r[c] for c in PARAM_COLUMNS), r["repeat"]) for r in rows)


def test_resume_runs_only_the_missing_cases_under_the_same_run(
    finished_run: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = interrupted(finished_run, tmp_path / "run", keep_cases=3)
    before = run.csv.read_bytes()
    meta_before = json.loads(run.meta.read_text())
    code, err = main("run", "--resume", str(run.csv), "-q", capsys=capsys)
    assert code == 0, err
    after = run.csv.read_bytes()
    assert after.startswith(before)  # appended, never rewritten
    rows = read_rows(run.csv)
    repeats = case_repeats(rows)
    assert len(repeats) == N_CASES * 2 and set(repeats.values()) == {1}
    assert {r["run_id"] for r in rows} == {meta_before["run_id"]}
    assert len({r["row_id"] for r in rows}) == len(rows)
    meta = json.loads(run.meta.read_text())
    for key in ("run_id", "seed", "config", "machine_id", "cpu_model", "n_cases"):
        assert meta[key] == meta_before[key], key
    assert meta["finished"] is True and len(meta["resumed"]) == 1
    assert len(list(read_samples(run.samples))) > len(list(read_samples(finished_run.samples)))


def test_nothing_to_resume_is_fine(
    finished_run: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy_run(finished_run, tmp_path / "run")
    before = run.csv.read_bytes()
    code, err = main("run", "--resume", str(run.csv), "-q", capsys=capsys)
    assert code == 0, err
    assert run.csv.read_bytes() == before


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["-s", "8,4K"], "--sizes: the run used 8,64, now 8,4096"),
        (["--repeats", "3"], "--repeats: the run used 2, now 3"),
        (["-t", "memcpy"], "--transports"),
        (["--seed", "8"], "--seed: the run used 7, now 8"),
        (["--quick"], "--quick"),
    ],
)
def test_other_settings_are_refused_naming_the_difference(
    finished_run: RunStore,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    named: str,
) -> None:
    run = interrupted(finished_run, tmp_path / "run", keep_cases=1)
    before = run.csv.read_bytes()
    code, err = main("run", "--resume", str(run.csv), *flags, capsys=capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert named in err and "leave the flags out" in err
    assert run.csv.read_bytes() == before


def test_same_settings_and_output_options_are_accepted(
    finished_run: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = interrupted(finished_run, tmp_path / "run", keep_cases=6)
    config = tmp_path / "sweep.toml"
    config.write_text('[run]\ntransports = ["pickle", "memcpy"]\nsizes = ["64", "8"]\n')
    code, err = main(
        "run", "--resume", str(run.csv), "--config", str(config), "--repeats", "2",
        "-o", str(tmp_path / "elsewhere"), "-q", capsys=capsys,
    )  # fmt: skip
    assert code == 0, err
    assert len(case_repeats(read_rows(run.csv))) == N_CASES * 2
    assert not (tmp_path / "elsewhere").exists()  # rows go to RESULT.csv


def test_the_api_refuses_other_settings_too(finished_run: RunStore, tmp_path: Path) -> None:
    run = interrupted(finished_run, tmp_path / "run", keep_cases=1)
    state = load_resume(run.csv)
    other = build_settings({**SWEEP, "target_time": 0.01, "out": str(tmp_path)})
    with pytest.raises(IpcbenchError, match=r"--target-time: the run used 0\.005, now 0\.01"):
        Runner(other, resume=state)


def test_a_line_cut_off_by_a_crash_is_removed_then_resumed(
    finished_run: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Decision: a last line without its line end cannot be trusted (any value may be cut);
    it is cut off, reported, and the case runs again if no complete row of it remains."""
    run = interrupted(finished_run, tmp_path / "run", keep_cases=4)
    data = run.csv.read_bytes()
    whole = data.splitlines(keepends=True)
    partial = b"".join(whole[:-2]) + whole[-2][:17]  # the 4th case's first row, cut
    run.csv.write_bytes(partial)
    code, err = main("run", "--resume", str(run.csv), capsys=capsys)
    assert code == 0, err
    assert "removed an incomplete last line (17 bytes" in err
    rows = read_rows(run.csv)
    assert run.csv.read_bytes().startswith(partial[: partial.rfind(b"\n") + 1])
    repeats = case_repeats(rows)
    assert len(repeats) == N_CASES * 2 and set(repeats.values()) == {1}  # 4th case: again


def member_ends(data: bytes) -> list[int]:
    """Where each gzip member of ``data`` ends."""
    ends, at = [], 0
    while at < len(data):
        member = zlib.decompressobj(wbits=31)
        member.decompress(data[at:])
        assert member.eof
        at = len(data) - len(member.unused_data)
        ends.append(at)
    return ends


def test_a_samples_block_cut_off_by_a_crash_is_removed(
    finished_run: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The incomplete last gzip member (the case being written) is cut off exactly: the
    members before it stay byte for byte, their records readable, the new cases' appended."""
    run = interrupted(finished_run, tmp_path / "run", keep_cases=2)
    data = run.samples.read_bytes()
    assert run.samples.name.endswith(".samples.bin.gz")
    ends = member_ends(data)
    assert len(ends) >= 3
    complete = tmp_path / "complete.samples.bin.gz"
    complete.write_bytes(data[: ends[-2]])
    kept = list(read_sample_arrays(complete))
    run.samples.write_bytes(data[:-9])  # the last gzip member loses its end
    code, err = main("run", "--resume", str(run.csv), capsys=capsys)
    assert code == 0, err
    assert "removed an incomplete last block" in err
    after = run.samples.read_bytes()
    assert after.startswith(data[: ends[-2]]) and not after.startswith(data[: ends[-1] - 9])
    records = list(read_sample_arrays(run.samples))  # readable to the end again
    assert records[: len(kept)] == kept and len(records) > len(kept)
    row_ids = {r["row_id"] for r in read_rows(run.csv)}
    assert {row_id for row_id, _ in records[len(kept) :]} <= row_ids  # the resumed cases'


def test_a_run_with_text_samples_is_not_resumed(
    finished_run: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Decision: a run of an older ipcbench keeps its samples in the text .samples.csv.gz;
    this ipcbench does not append to it (nor split a run's samples over two files): refused,
    one line, nothing touched."""
    run = interrupted(finished_run, tmp_path / "run", keep_cases=2)
    old = to_old_text_samples(run)
    before = {path: path.read_bytes() for path in (run.csv, run.meta, old)}
    code, err = main("run", "--resume", str(run.csv), capsys=capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "samples.csv.gz, the text format of older ipcbench versions" in err
    assert err.strip().endswith("start a new run")
    assert {path: path.read_bytes() for path in before} == before
    assert not run.samples.exists()


def _replace_header(text: str) -> str:
    return text.replace("schema_version,", "version,", 1)


def _other_schema(text: str) -> str:
    lines = text.splitlines(keepends=True)
    return lines[0] + "".join("1" + line[1:] for line in lines[1:])


def _other_run(text: str) -> str:
    lines = text.splitlines(keepends=True)
    run_id = lines[1].split(",")[1]
    return "".join(lines[:2]) + lines[2].replace(run_id, "0123456789ab") + "".join(lines[3:])


def _damaged_middle(text: str) -> str:
    lines = text.splitlines(keepends=True)
    return "".join(lines[:2]) + "2,x,y\r\n" + "".join(lines[2:])


CSV_DAMAGE: dict[str, tuple[Any, str]] = {
    "empty": (lambda t: "", "the file is empty"),
    "binary": (lambda t: "\0\x01garbage" * 40, "binary"),
    "header only, cut": (lambda t: t[:40], "no complete header line"),
    "foreign CSV": (lambda t: "a,b\n1,2\n", "no schema_version column"),
    "other columns": (_replace_header, "no schema_version column"),
    "older schema": (
        _other_schema,
        f"schema_version 1, this ipcbench appends version {SCHEMA_VERSION}",
    ),
    "rows of another run": (_other_run, "rows of run 0123456789ab"),
    "damaged row": (_damaged_middle, "line 3 has 3 fields"),
}


@pytest.mark.parametrize("damage", list(CSV_DAMAGE))
def test_damaged_result_files_are_refused_untouched(
    finished_run: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    run = interrupted(finished_run, tmp_path / "run", keep_cases=2)
    change, message = CSV_DAMAGE[damage]
    text = run.csv.read_text()
    run.csv.write_text(change(text), newline="")
    before = run.csv.read_bytes()
    code, err = main("run", "--resume", str(run.csv), capsys=capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert message in err and "Traceback" not in err
    assert run.csv.read_bytes() == before


META_DAMAGE: dict[str, tuple[Any, str]] = {
    "missing": (None, "meta.json is missing"),
    "not JSON": ("{", "is not valid JSON"),
    "not an object": ("[1]", "is not a JSON object"),
    "no run id": (lambda m: {**m, "run_id": 5}, "has no valid 'run_id'"),
    "no config": (lambda m: {k: v for k, v in m.items() if k != "config"}, "'config'"),
    "older schema": (lambda m: {**m, "schema_version": 1}, "schema_version 1"),
    "unknown setting": (lambda m: {**m, "config": {**m["config"], "turbo": 1}}, "'turbo'"),
    "invalid setting": (
        lambda m: {**m, "config": {**m["config"], "transports": ["pigeon"]}},
        "stored settings are not valid here (unknown transport 'pigeon'",
    ),
}


@pytest.mark.parametrize("damage", list(META_DAMAGE))
def test_damaged_metadata_is_refused(
    finished_run: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    run = interrupted(finished_run, tmp_path / "run", keep_cases=2)
    change, message = META_DAMAGE[damage]
    if change is None:
        run.meta.unlink()
    elif isinstance(change, str):
        run.meta.write_text(change)
    else:
        run.meta.write_text(json.dumps(change(json.loads(run.meta.read_text()))))
    before = run.csv.read_bytes()
    code, err = main("run", "--resume", str(run.csv), capsys=capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert message in err
    assert run.csv.read_bytes() == before


def test_another_machine_is_refused(
    finished_run: RunStore,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ipcbench.results import metadata

    run = interrupted(finished_run, tmp_path / "run", keep_cases=2)
    monkeypatch.setattr(metadata, "machine_id", lambda: "other-cpu-2cpu-00000000")
    code, err = main("run", "--resume", str(run.csv), capsys=capsys)
    assert code == 2 and "this is other-cpu-2cpu-00000000" in err


@pytest.mark.parametrize(
    "path", ["missing.csv", "x.samples.bin.gz", "x.samples.csv.gz", "x.meta.json"]
)
def test_resume_needs_an_existing_run_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    if path != "missing.csv":
        (tmp_path / path).write_bytes(b"\x1f\x8b a run's other file")
    code, err = main("run", "--resume", str(tmp_path / path), capsys=capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert path == "missing.csv" or "--resume needs a run's .csv file" in err


# --- end to end: Ctrl-C / SIGTERM to the command, then --resume -------------------------------


def test_interrupted_sweep_resumes_to_completion(tmp_path: Path) -> None:
    """SIGTERM mid-sweep (a spawn Manager case among them): exit < 5 s, non-zero, the CSV
    valid; --resume then completes it: every case once, one run id, nothing left running."""
    from test_cli import _processes_with

    marker = os.urandom(6).hex()
    env = {**os.environ, "IPCBENCH_TEST_MARKER": marker}
    # 8 case runs: the SIGTERM comes with most of them still to run
    args = [
        "-t", "manager_queue,pipe", "-p", "stream", "-s", "64,1K", "--start-methods", "spawn",
        "--repeats", "2", "--warmups", "0", "--target-time", "0.15", "-o", str(tmp_path), "-q",
    ]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "ipcbench", "run", *args],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    csv_path = _wait_for_rows(tmp_path, proc)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    _, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 5 and proc.returncode != 0
    assert "Traceback" not in stderr and "resource_tracker" not in stderr
    done = read_rows(csv_path)
    with open(csv_path, newline="") as fh:
        assert len(list(csv.reader(fh))) == len(done) + 1
    assert _processes_with(marker) == []
    resumed = subprocess.run(
        [sys.executable, "-m", "ipcbench", "run", "--resume", str(csv_path), "-q"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr and "resource_tracker" not in resumed.stderr
    rows = read_rows(csv_path)
    assert rows[: len(done)] == done
    repeats = case_repeats(rows)
    assert len({k[:-1] for k in repeats}) == 4 and set(repeats.values()) == {1}
    assert len({r["run_id"] for r in rows}) == 1
    assert _processes_with(marker) == []


def test_two_quick_ctrl_c_still_clean_up(tmp_path: Path) -> None:
    from test_cli import _processes_with

    marker = os.urandom(6).hex()
    env = {**os.environ, "IPCBENCH_TEST_MARKER": marker}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ipcbench", "run", "-t", "manager_dict", "-p", "proxy_ops",
         "--start-methods", "forkserver", "-s", "64", "--target-time", "0.3", "-o",
         str(tmp_path), "-q"],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    _wait_for_rows(tmp_path, proc)
    for _ in range(2):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
    sent = time.monotonic()
    _, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 5 and proc.returncode == 130
    assert "Traceback" not in stderr and "resource_tracker" not in stderr
    assert _processes_with(marker) == []


def _wait_for_rows(folder: Path, proc: subprocess.Popen[str]) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        found = [p for p in folder.rglob("*.csv")]
        if found and len(found[0].read_bytes().splitlines()) > 1:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no finished case (exit code {proc.poll()})")
