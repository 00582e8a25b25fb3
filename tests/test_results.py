from __future__ import annotations

from array import array
from pathlib import Path

import pytest

from ipcbench.errors import IpcbenchError
from ipcbench.results.schema import COLUMNS, SCHEMA_VERSION
from ipcbench.results.store import ResultWriter, RunStore, read_rows, read_samples


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
    assert paths.samples.name == "20260101T000000Z.samples.csv.gz"


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
