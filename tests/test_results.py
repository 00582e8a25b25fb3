from __future__ import annotations

import gzip
import struct
import zlib
from array import array
from pathlib import Path

import pytest

from ipcbench.errors import IpcbenchError
from ipcbench.results.schema import COLUMNS, SCHEMA_VERSION
from ipcbench.results.store import (
    BIG_ENDIAN,
    SAMPLES_MAGIC,
    ResultWriter,
    RunStore,
    read_rows,
    read_sample_arrays,
    read_samples,
)


def _row(i: int) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": "r",
        "row_id": f"r-{i}",
        "transport": "pipe",
        "pattern": "pingpong",
        "payload_bytes": 64,
        "status": "ok",
        "lat_p50_us": 12.5,
        "maxsize": None,
        "error": "",
    }


def test_round_trip(tmp_path: Path) -> None:
    paths = RunStore.for_csv(tmp_path / "x.csv")
    with ResultWriter(paths) as writer:
        writer.write_case([_row(1)], {"r-1": array("q", [100, 200])})
        writer.write_case([_row(2)], {"r-2": array("q", [300])})
        writer.write_case([_row(3), _row(4)], {"r-3": array("q"), "r-4": array("q", [0, 5])})
    rows = read_rows(paths.csv)
    assert [r["row_id"] for r in rows] == ["r-1", "r-2", "r-3", "r-4"]
    assert rows[0]["lat_p50_us"] == "12.5" and rows[0]["maxsize"] == ""
    assert list(rows[0]) == list(COLUMNS)
    assert list(read_samples(paths.samples)) == [
        ("r-1", 100),
        ("r-1", 200),
        ("r-2", 300),
        ("r-4", 0),
        ("r-4", 5),
    ]


def test_paths_beside_csv(tmp_path: Path) -> None:
    paths = RunStore.for_csv(tmp_path / "20260101T000000Z.csv")
    assert paths.meta.name == "20260101T000000Z.meta.json"
    assert paths.samples.name == "20260101T000000Z.samples.bin.gz"
    assert paths.old_samples.name == "20260101T000000Z.samples.csv.gz"


def _members(data: bytes) -> list[bytes]:
    """The decompressed gzip members of ``data``, one by one."""
    members = []
    while data:
        member = zlib.decompressobj(wbits=31)
        members.append(member.decompress(data))
        assert member.eof
        data = member.unused_data
    return members


def test_samples_file_is_the_binary_format(tmp_path: Path) -> None:
    """One gzip member per case; the magic line once; per row '<row_id> <count>\\n' and the
    values as int64 little-endian; bytes (native int64s, as the driver sends them) and
    arrays alike, a row without samples as a record of 0 values."""
    paths = RunStore.for_csv(tmp_path / "x.csv")
    big = 2**62 + 3
    with ResultWriter(paths) as writer:
        writer.write_case([_row(1)], {"r-1": array("q", [100, -7, big]).tobytes()})
        writer.write_case([_row(2), _row(3)], {"r-2": array("q"), "r-3": array("q", [5])})
    assert paths.samples.name.endswith(".samples.bin.gz") and not paths.old_samples.exists()
    first, second = _members(paths.samples.read_bytes())
    assert first == SAMPLES_MAGIC + b"r-1 3\n" + struct.pack("<3q", 100, -7, big)
    assert second == b"r-2 0\n" + b"r-3 1\n" + struct.pack("<q", 5)
    assert SAMPLES_MAGIC == b"ipcbench-samples 1\n"
    assert [(r, list(v)) for r, v in read_sample_arrays(paths.samples)] == [
        ("r-1", [100, -7, big]),
        ("r-2", []),
        ("r-3", [5]),
    ]
    assert all(
        isinstance(v, array) and v.typecode == "q" for _, v in read_sample_arrays(paths.samples)
    )
    assert list(paths.read_samples()) == [("r-1", 100), ("r-1", -7), ("r-1", big), ("r-3", 5)]


def test_bytes_and_arrays_write_the_same_file(tmp_path: Path) -> None:
    values = array("q", range(-5, 1000, 7))
    files = []
    for name, given in (("a", values), ("b", values.tobytes()), ("c", list(values))):
        paths = RunStore.for_csv(tmp_path / f"{name}.csv")
        with ResultWriter(paths) as writer:
            writer.write_case([_row(1)], {"r-1": given})
        files.append(gzip.decompress(paths.samples.read_bytes()))
    assert files[0] == files[1] == files[2]
    assert files[0] == SAMPLES_MAGIC + b"r-1 %d\n" % len(values) + struct.pack(
        f"<{len(values)}q", *values
    )


def test_magic_line_starts_an_empty_or_missing_samples_file_only(tmp_path: Path) -> None:
    paths = RunStore.for_csv(tmp_path / "x.csv")
    paths.samples.write_bytes(b"")  # e.g. created, then the run was killed
    with ResultWriter(paths) as writer:
        writer.write_case([_row(1)], {"r-1": array("q", [1])})
        writer.write_case([_row(2)], {"r-2": array("q", [2])})
    assert gzip.decompress(paths.samples.read_bytes()).count(SAMPLES_MAGIC) == 1
    assert list(read_samples(paths.samples)) == [("r-1", 1), ("r-2", 2)]


@pytest.mark.skipif(BIG_ENDIAN, reason="simulates a big-endian host on a little-endian one")
def test_a_big_endian_host_swaps_to_little_endian_and_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulated: the host's int64s are taken as big-endian, so the file holds them swapped
    (what a big-endian host's own values become); reading swaps them back; the caller's
    array is left as it was."""
    from ipcbench.results import store

    monkeypatch.setattr(store, "BIG_ENDIAN", True)
    paths = RunStore.for_csv(tmp_path / "x.csv")
    values = array("q", [1, -2, 2**40])
    with ResultWriter(paths) as writer:
        writer.write_case([_row(1)], {"r-1": values, "r-2": values.tobytes()})
    assert values.tolist() == [1, -2, 2**40]
    swapped = struct.pack(">3q", 1, -2, 2**40)
    data = gzip.decompress(paths.samples.read_bytes())
    assert data == SAMPLES_MAGIC + b"r-1 3\n" + swapped + b"r-2 3\n" + swapped
    assert [(r, v.tolist()) for r, v in read_sample_arrays(paths.samples)] == [
        ("r-1", [1, -2, 2**40]),
        ("r-2", [1, -2, 2**40]),
    ]


@pytest.mark.parametrize("row_id", ["r 1", "r-1\n", "", "r-\u00e9"])
def test_a_row_id_that_cannot_head_a_record_is_refused(tmp_path: Path, row_id: str) -> None:
    with ResultWriter(RunStore.for_csv(tmp_path / "x.csv")) as writer, pytest.raises(ValueError):
        writer.write_case([], {row_id: array("q", [1])})


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1)


def _good_samples() -> bytes:
    return _gz(SAMPLES_MAGIC + b"r-1 2\n" + struct.pack("<2q", 1, 2)) + _gz(
        b"r-2 1\n" + struct.pack("<q", 3)
    )


BAD_SAMPLES = {
    "truncated member": (_good_samples()[:-9], "damaged or truncated"),
    "not gzip": (b"garbage, not gzip", "damaged or truncated"),
    "bad crc": (_good_samples()[:-8] + b"\0\0\0\0" + _good_samples()[-4:], "damaged"),
    "old text format": (_gz(b"row_id,lat_ns\nr-1,5\n"), "not an ipcbench samples file"),
    "no magic": (_gz(b"r-1 1\n" + struct.pack("<q", 1)), "not an ipcbench samples file"),
    "newer format": (_gz(b"ipcbench-samples 2\n"), "samples format 2, this ipcbench reads 1"),
    "bad count": (_gz(SAMPLES_MAGIC + b"r-1 two\n"), "bad record header"),
    "no count": (_gz(SAMPLES_MAGIC + b"r-1\n"), "bad record header"),
    "header too long": (_gz(SAMPLES_MAGIC + b"r" * 300 + b" 1\n"), "bad record header"),
    "short record": (_gz(SAMPLES_MAGIC + b"r-1 3\n" + bytes(16)), "record of r-1 is cut short"),
    "huge count": (_gz(SAMPLES_MAGIC + b"r-1 99999999999999999\n"), "cut short"),
}


@pytest.mark.parametrize("name", sorted(BAD_SAMPLES))
def test_a_damaged_or_foreign_samples_file_is_one_line(tmp_path: Path, name: str) -> None:
    content, fragment = BAD_SAMPLES[name]
    path = tmp_path / "x.samples.bin.gz"
    path.write_bytes(content)
    with pytest.raises(IpcbenchError) as info:
        list(read_samples(path))
    message = str(info.value)
    assert fragment in message and "\n" not in message
    assert message.startswith(str(path))
    fix = "use an ipcbench that reads it" if name == "newer format" else "re-run, or delete it"
    assert message.endswith(fix + (" to go without pooled percentiles" if "re-run" in fix else ""))


def test_samples_of_older_runs_are_still_read(tmp_path: Path) -> None:
    """Runs written before the binary format have a text <stamp>.samples.csv.gz."""
    paths = RunStore.for_csv(tmp_path / "x.csv")
    assert paths.samples_to_read() is None and list(paths.read_samples()) == []
    with gzip.open(paths.old_samples, "wt", encoding="utf-8") as gz:
        gz.write("row_id,lat_ns\nr-1,100\nr-1,200\nr-2,-3\n")
    assert paths.taken()
    assert paths.samples_to_read() == paths.old_samples
    assert list(paths.read_samples()) == [("r-1", 100), ("r-1", 200), ("r-2", -3)]
    with ResultWriter(paths, resume=False) as writer:
        writer.write_case([_row(1)], {"r-9": array("q", [9])})
    assert paths.samples_to_read() == paths.samples  # the binary file, once there
    assert list(paths.read_samples()) == [("r-9", 9)]


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    paths = RunStore.for_csv(tmp_path / "x.csv")
    paths.csv.write_text("precious\n")
    with pytest.raises(IpcbenchError, match="refusing to overwrite"):
        ResultWriter(paths)
    assert paths.csv.read_text() == "precious\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"a,b\n1,2\n", "not an ipcbench result file"),
        (b"\xff\xfe\x00garbage", "cannot read"),
        (
            ",".join(COLUMNS).encode() + b"\n" + b"9" + b"," * (len(COLUMNS) - 1) + b"\n",
            "schema_version '9' is not supported",
        ),
    ],
)
def test_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(IpcbenchError, match=message):
        read_rows(path)


def test_schema_case_key_and_label_are_one_for_csv_and_typed_rows() -> None:
    from ipcbench.params import Case
    from ipcbench.results import schema

    case = Case("queue", "fan", 4096, maxsize=0, producers=4, consumers=2, offered_load="50%")
    typed = case.params()
    text = {k: "" if v is None else str(v) for k, v in typed.items()}
    floats = {**typed, "payload_bytes": 4096.0, "maxsize": 0.0, "op": float("nan")}
    assert schema.case_key(typed) == schema.case_key(text) == schema.case_key(floats)
    assert schema.case_label(text) == schema.case_label(typed) == case.label()
    assert case.label() == "queue fan 4 KiB bytes fork unpinned maxsize=0 4x2 load=50%"


def test_one_percentile_for_driver_and_stats() -> None:
    from ipcbench.analysis import stats
    from ipcbench.measure import latency
    from ipcbench.results import schema

    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert latency.percentile_sorted is schema.percentile_sorted
    assert stats.percentile(values, 90) == schema.percentile_sorted(sorted(values), 90) == 4.6
    assert latency.percentile_supported is stats.percentile_supported
    assert not schema.percentile_supported(0, 50) and schema.percentile_supported(1000, 99)


def test_one_parser_for_every_reader() -> None:
    from ipcbench.results.store import CsvDamage, parse_rows

    header = ",".join(COLUMNS)
    good = header + "\n" + ",".join([str(SCHEMA_VERSION)] + [""] * (len(COLUMNS) - 1)) + "\n"
    names, rows = parse_rows(good)
    assert tuple(names) == COLUMNS and rows[0]["schema_version"] == str(SCHEMA_VERSION)
    with pytest.raises(CsvDamage) as torn:
        parse_rows(good + "2,run")
    assert (torn.value.kind, torn.value.line) == ("fields", 3)
    assert (torn.value.n_fields, torn.value.expected) == (2, len(COLUMNS))
    with pytest.raises(CsvDamage) as foreign:
        parse_rows("a,b\n1,2\n")
    assert foreign.value.kind == "header"


def test_run_store_claims_a_new_name_and_owns_its_files(tmp_path: Path) -> None:
    from ipcbench.results.store import RunStore

    first = RunStore.claim_new(tmp_path, lambda: "20260101T000000Z")
    second = RunStore.claim_new(tmp_path, lambda: "20260101T000000Z")
    assert (first.csv.name, second.csv.name) == ("20260101T000000Z.csv", "20260101T000000Z-1.csv")
    first.write_meta({"run_id": "r"})
    assert first.meta.read_text(encoding="utf-8").startswith("{")
    with first.writer(claimed=True) as writer:
        writer.write_case(
            [{"schema_version": SCHEMA_VERSION, "run_id": "r", "row_id": "r-1"}], {"r-1": [5]}
        )
    assert [r["row_id"] for r in first.read_rows()] == ["r-1"]
    assert list(first.read_samples()) == [("r-1", 5)]
    second.remove_if_unstarted()
    assert not second.taken() and first.taken()


def test_the_samples_write_bench_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """bench/samples_write.py, briefly: both ways timed, both files checked to hold the same
    samples (it exits otherwise), sizes printed."""
    import importlib.util
    import sys

    script = Path(__file__).resolve().parents[1] / "bench" / "samples_write.py"
    spec = importlib.util.spec_from_file_location("samples_write", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for kind in ("qsize", "lognormal"):
        argv = ["samples_write.py", "--rows", "3000", "--row-ids", "3", "--repeats", "2"]
        monkeypatch.setattr(sys, "argv", [*argv, "--kind", kind, "--dir", str(tmp_path)])
        module.main()
        out = capsys.readouterr().out
        assert f"3000 {kind} samples over 3 row id(s), 2 repeats" in out
        assert "text: format" in out and "binary, write_case" in out and "file size: text" in out
    assert not list(tmp_path.iterdir())  # its files are removed
