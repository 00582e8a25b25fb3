"""The Python API as the README shows it: ipcbench.run(...) -> DataFrame, ipcbench.load(path)."""

from __future__ import annotations

from pathlib import Path

import pytest

import ipcbench
from ipcbench.errors import IpcbenchError


def test_readme_example(tmp_path: Path) -> None:
    # --- README example (keep in sync) ---
    df = ipcbench.run(
        transports=["pipe"],
        patterns=["pingpong"],
        sizes=["64"],
        repeats=2,
        target_time=0.005,
        out=str(tmp_path),
        quiet=True,
    )
    print(df[["transport", "payload_bytes", "lat_p50_us", "msgs_per_s"]])
    again = ipcbench.load(str(tmp_path))  # a run's CSV, a machine folder or the results root
    # --- end of README example ---

    assert len(df) == 2 and list(df["repeat"]) == [0, 1]
    assert set(df["status"]) == {"ok"} and set(df["transport"]) == {"pipe"}
    assert (df["payload_bytes"] == 64).all() and (df["n_messages"] >= 2).all()
    assert (df["lat_min_us"] <= df["lat_p50_us"]).all() and (df["msgs_per_s"] > 0).all()
    assert sorted(again["row_id"]) == sorted(df["row_id"])
    assert (again["lat_p50_us"].to_numpy() > 0).all()
    csvs = list(tmp_path.glob("*/*.csv"))
    assert len(csvs) == 1 and csvs[0].with_name(csvs[0].stem + ".meta.json").exists()


def test_public_names() -> None:
    assert {"run", "load", "__version__"} <= set(ipcbench.__all__)


def test_packaging_license_is_an_spdx_expression_with_its_file() -> None:
    """PEP 639: ``license = "MIT"`` + ``license-files`` (the TOML table form is deprecated and
    stops building after 2027-02-18); the build backend must be new enough to read it."""
    import tomllib

    root = Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert project["project"]["license-files"] == ["LICENSE"]
    text = (root / "LICENSE").read_text()
    assert text.startswith("MIT License") and "ipcbench contributors" in text
    requires = project["build-system"]["requires"]
    assert "setuptools>=77" in requires  # first setuptools with SPDX license expressions


def test_an_unknown_option_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(IpcbenchError, match=r"unknown option 'size' .* valid: .*sizes"):
        ipcbench.run(size=["64"], out=str(tmp_path), quiet=True)
    assert list(tmp_path.iterdir()) == []
