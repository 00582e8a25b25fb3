"""ipcbench.results.loader: real files written by ResultWriter, and every kind of bad input."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from ipcbench.errors import IpcbenchError
from ipcbench.results import loader
from ipcbench.results.schema import COLUMNS, SCHEMA_VERSION
from ipcbench.results.store import RunStore
from tests.fixtures_analysis import (
    case_rows,
    default_meta,
    machine_rows,
    params,
    to_old_text_samples,
    write_machine,
    write_run,
)

N_CASES = 12  # 2 patterns x 3 transports x 2 sizes
N_REPEATS = 7


def test_load_one_csv_types_and_meta(tmp_path: Path) -> None:
    csv_path = write_machine(tmp_path, "m1")
    frame = loader.load(csv_path)
    assert len(frame) == N_CASES * N_REPEATS
    assert frame["payload_bytes"].dtype == "Int64"
    assert frame["maxsize"].isna().all()
    assert frame["msgs_per_s"].dtype == "float64"
    assert frame["transport"].dtype == "str"
    assert frame.loc[0, "row_id"] == "m1-20261128T120000-0"
    # meta joined: plain names, clashing ones prefixed, lists joined, dicts left out
    assert set(frame["cpu_model"]) == {"CPU of m1"}
    assert set(frame["python_version"]) == {"3.11.7"}
    assert set(frame["meta_logical_cpus"]) == {2}
    assert set(frame["meta_machine_id"]) == {"m1"}
    assert set(frame["start_methods_used"]) == {"fork,spawn"}
    assert frame["governor"].isna().all()
    assert "versions" not in frame and "config" not in frame
    assert set(frame["source_csv"]) == {str(csv_path)}


def test_load_machine_folder_pools_runs(tmp_path: Path) -> None:
    write_machine(tmp_path, "m1", "20261128T120000")
    write_machine(tmp_path, "m1", "20261129T120000")
    frame = loader.load(tmp_path / "m1")
    assert len(frame) == 2 * N_CASES * N_REPEATS
    assert frame["run_id"].nunique() == 2


def test_load_root_recurses_and_skips_foreign_csv(tmp_path: Path) -> None:
    write_machine(tmp_path, "m1")
    write_machine(tmp_path, "m2", factor=2)
    (tmp_path / "summary.csv").write_text("transport,median\npipe,1\n")
    frame = loader.load(tmp_path)
    assert sorted(frame["machine_id"].unique()) == ["m1", "m2"]
    assert len(frame) == 2 * N_CASES * N_REPEATS


def test_load_all_keeps_order(tmp_path: Path) -> None:
    b = write_machine(tmp_path, "b")
    a = write_machine(tmp_path, "a")
    frame = loader.load_all([b, a])
    assert list(frame["machine_id"].unique()) == ["b", "a"]


def test_run_without_meta_still_loads(tmp_path: Path) -> None:
    csv_path = write_run(tmp_path, "r", [case_rows(params(), 20.0)], meta=None)
    frame = loader.load(csv_path)
    assert len(frame) == N_REPEATS
    assert "cpu_model" not in frame


def test_load_samples(tmp_path: Path) -> None:
    csv_path = write_machine(tmp_path, "m1")
    samples = loader.load_samples(csv_path)
    assert list(samples.columns) == ["row_id", "lat_ns", "source_csv"]
    assert samples["lat_ns"].dtype == "int64"
    # 6 latency cases x 7 repeats x 10 samples; stream rows have none
    assert len(samples) == 6 * N_REPEATS * 10
    frame = loader.load(csv_path)
    latency_ids = set(frame.loc[frame["pattern"] == "pingpong", "row_id"])
    assert set(samples["row_id"]) == latency_ids


def test_load_samples_missing(tmp_path: Path) -> None:
    csv_path = write_run(tmp_path, "r", [case_rows(params(), 20.0)], with_samples=False)
    assert loader.load_samples(csv_path, missing_ok=True).empty
    with pytest.raises(IpcbenchError, match="does not exist"):
        loader.load_samples(csv_path)


def _with_version(text: str, version: str) -> str:
    """The CSV text with every data row's schema_version replaced."""
    changed = re.sub(rf"(?m)^{SCHEMA_VERSION},", f"{version},", text)
    assert changed != text
    return changed


def test_upgrade_hook_is_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    csv_path = write_run(tmp_path, "r", [case_rows(params(), 20.0)])
    old = 0  # no upgrade step from 0 exists
    csv_path.write_text(_with_version(csv_path.read_text(), str(old)))
    with pytest.raises(IpcbenchError, match=f"schema_version {old}, which this ipcbench cannot"):
        loader.load(csv_path)

    def upgrade(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        return [{**row, "schema_version": str(old + 1), "transport": "upgraded"} for row in rows]

    monkeypatch.setitem(loader.UPGRADES, old, upgrade)
    frame = loader.load(csv_path)
    assert set(frame["schema_version"]) == {SCHEMA_VERSION}
    assert set(frame["transport"]) == {"upgraded"}


# --- bad input: one IpcbenchError line naming the fix ---------------------------------------------


def _good_csv(tmp_path: Path) -> Path:
    return write_run(tmp_path / "m1", "r", [case_rows(params(), 20.0)], default_meta("m1", "r"))


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, expected message fragment)"""
    bad: dict[str, tuple[Path, str]] = {}
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    bad["empty"] = (empty, "is empty")
    header_only = tmp_path / "header" / "h.csv"
    header_only.parent.mkdir()
    header_only.write_text(",".join(COLUMNS) + "\n")
    bad["header only"] = (header_only, "no result rows")
    foreign = tmp_path / "foreign.csv"
    foreign.write_text("a,b\n1,2\n")
    bad["foreign"] = (foreign, "not an ipcbench result file")
    binary = tmp_path / "garbage.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    bad["binary"] = (binary, "is binary")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"\xff\xfe\xfa caf\xe9\n")
    bad["not utf-8"] = (latin, "is binary")
    good = _good_csv(tmp_path / "g")
    truncated = tmp_path / "truncated.csv"
    truncated.write_bytes(good.read_bytes()[:-7])
    bad["truncated"] = (truncated, "incomplete row")
    short_row = tmp_path / "short.csv"
    short_row.write_text(good.read_text().rstrip("\r\n").rsplit(",", 3)[0] + "\r\n")
    bad["short row"] = (short_row, "fields, expected")
    newer = tmp_path / "newer.csv"
    newer.write_text(_with_version(good.read_text(), "99"))
    bad["newer schema"] = (newer, "upgrade ipcbench")
    weird = tmp_path / "weird.csv"
    weird.write_text(_with_version(good.read_text(), "v1"))
    bad["bad schema"] = (weird, "not an ipcbench result file")
    text = tmp_path / "text.csv"
    text.write_text(good.read_text().replace(",0.5,", ",half,", 1))
    bad["non-numeric"] = (text, "column elapsed_s has 'half'")
    missing_col = tmp_path / "missing.csv"
    missing_col.write_text(good.read_text().replace("lat_p50_us", "latency"))
    bad["missing column"] = (missing_col, "missing columns: lat_p50_us")
    no_results = tmp_path / "nothing"
    no_results.mkdir()
    (no_results / "notes.txt").write_text("hi")
    bad["folder without results"] = (no_results, "no result files")
    bad["missing path"] = (tmp_path / "nope", "does not exist")
    bad["samples file"] = (RunStore.for_csv(good).samples, "pass the run's .csv")
    old_run = RunStore.for_csv(_good_csv(tmp_path / "o"))
    bad["old samples file"] = (to_old_text_samples(old_run), "pass the run's .csv")
    return bad


BAD_NAMES = [
    "empty",
    "header only",
    "foreign",
    "binary",
    "not utf-8",
    "truncated",
    "short row",
    "newer schema",
    "bad schema",
    "non-numeric",
    "missing column",
    "folder without results",
    "missing path",
    "samples file",
    "old samples file",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_input_raises_one_line(tmp_path: Path, name: str) -> None:
    path, fragment = _bad_inputs(tmp_path)[name]
    with pytest.raises(IpcbenchError) as info:
        loader.load(path)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_bad_meta_json(tmp_path: Path) -> None:
    csv_path = _good_csv(tmp_path)
    RunStore.for_csv(csv_path).meta.write_text("{not json")
    with pytest.raises(IpcbenchError, match=r"meta\.json is not valid JSON"):
        loader.load(csv_path)
    RunStore.for_csv(csv_path).meta.write_text(json.dumps([1, 2]))
    with pytest.raises(IpcbenchError, match="not a JSON object"):
        loader.load(csv_path)


def _samples_error(csv_path: Path) -> str:
    with pytest.raises(IpcbenchError) as info:
        loader.load_samples(csv_path)
    message = str(info.value)
    assert "\n" not in message and message.endswith(
        "re-run, or delete it to go without pooled percentiles"
    )
    return message


def test_damaged_samples(tmp_path: Path) -> None:
    csv_path = write_run(tmp_path, "r", machine_rows("m1")[:1])
    samples = RunStore.for_csv(csv_path).samples
    good = samples.read_bytes()
    samples.write_bytes(good[:-10])
    assert "damaged or truncated" in _samples_error(csv_path)
    samples.write_bytes(good[:-8] + bytes(4) + good[-4:])  # another CRC
    assert "damaged or truncated (CRC check failed" in _samples_error(csv_path)
    samples.write_bytes(b"garbage")
    assert "damaged or truncated" in _samples_error(csv_path)
    with gzip.open(samples, "wb") as fh:
        fh.write(gzip.decompress(good)[:-3])  # the last record loses its end
    assert "is cut short" in _samples_error(csv_path)
    with gzip.open(samples, "wt") as fh:
        fh.write("a,b\n1,2\n")
    assert "is not an ipcbench samples file" in _samples_error(csv_path)


def test_damaged_samples_of_an_older_run(tmp_path: Path) -> None:
    csv_path = write_run(tmp_path, "r", machine_rows("m1")[:1])
    old = to_old_text_samples(RunStore.for_csv(csv_path))
    old.write_bytes(old.read_bytes()[:-10])
    assert "damaged or truncated" in _samples_error(csv_path)
    with gzip.open(old, "wt") as fh:
        fh.write("a,b\n1,2\n")
    assert "not a complete ipcbench samples file" in _samples_error(csv_path)


def test_an_older_runs_text_samples_load_as_before(tmp_path: Path) -> None:
    """Runs written before the binary format have <stamp>.samples.csv.gz: the same frame,
    and the same summary, as from the binary file."""
    from ipcbench.cli.summarize import run_samples, summarize_frame

    csv_path = write_machine(tmp_path, "m1")
    paths = RunStore.for_csv(csv_path)
    frame = loader.load(csv_path)
    binary = loader.load_samples(csv_path)
    summary = summarize_frame(frame, run_samples(frame)[0])
    assert len(binary) == 6 * N_REPEATS * 10 and paths.samples.exists()
    to_old_text_samples(paths)
    assert not paths.samples.exists() and paths.old_samples.exists()
    text = loader.load_samples(csv_path)
    pd.testing.assert_frame_equal(text, binary)
    assert list(text.dtypes.astype(str)) == ["str", "int64", "str"]
    pd.testing.assert_frame_equal(loader.load(csv_path), frame)
    pd.testing.assert_frame_equal(summarize_frame(frame, run_samples(frame)[0]), summary)


def test_load_samples_of_an_empty_samples_file(tmp_path: Path) -> None:
    csv_path = write_run(tmp_path, "r", machine_rows("m1")[:1])
    RunStore.for_csv(csv_path).samples.write_bytes(gzip.compress(b"ipcbench-samples 1\n"))
    samples = loader.load_samples(csv_path)
    assert samples.empty and list(samples.columns) == ["row_id", "lat_ns", "source_csv"]
    pd.testing.assert_series_equal(samples.dtypes, loader._empty_samples().dtypes)


def test_typed_params_restores_integers() -> None:
    frame = pd.DataFrame({"payload_bytes": [64.0, None], "transport": ["a", "b"]})
    assert loader.typed_params(frame)["payload_bytes"].dtype == "Int64"


def test_empty_percentile_cells_load_as_missing(tmp_path: Path) -> None:
    # latency.latency_columns leaves a percentile None when too few samples support it; the
    # writer writes an empty cell and the loader reads it as NaN, the other columns intact
    from ipcbench.measure.latency import latency_columns

    rows = case_rows(params(), 20.0, spread=(1.0, 1.0))
    for row in rows:
        row.update(latency_columns(list(range(1000, 1294))))  # 294 samples
    frame = loader.load(write_run(tmp_path / "m", "r", [rows], with_samples=False))
    assert frame["lat_p999_us"].isna().all() and frame["lat_p99_us"].isna().all()
    assert frame["lat_p90_us"].notna().all() and frame["lat_p999_us"].dtype == "float64"
