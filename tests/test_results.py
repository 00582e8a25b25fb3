from __future__ import annotations

from array import array
from pathlib import Path

import pytest

from ipcbench.errors import IpcbenchError
from ipcbench.results.store import COLUMNS, ResultWriter, RunPaths, read_rows, read_samples


def _row(i: int) -> dict:
    return {
        "schema_version": 2,
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
    paths = RunPaths.for_csv(tmp_path / "x.csv")
    with ResultWriter(paths) as writer:
        writer.write_case([_row(1)], {"r-1": array("q", [100, 200])})
        writer.write_case([_row(2)], {"r-2": array("q", [300])})
    rows = read_rows(paths.csv)
    assert [r["row_id"] for r in rows] == ["r-1", "r-2"]
    assert rows[0]["lat_p50_us"] == "12.5" and rows[0]["maxsize"] == ""
    assert list(rows[0]) == list(COLUMNS)
    assert list(read_samples(paths.samples)) == [("r-1", 100), ("r-1", 200), ("r-2", 300)]


def test_paths_beside_csv(tmp_path: Path) -> None:
    paths = RunPaths.for_csv(tmp_path / "20260101T000000Z.csv")
    assert paths.meta.name == "20260101T000000Z.meta.json"
    assert paths.samples.name == "20260101T000000Z.samples.csv.gz"


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    paths = RunPaths.for_csv(tmp_path / "x.csv")
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
