"""Inputs of the views: result files -> one ``MachineResults`` per machine (read through
``ipcbench.results.loader``; the views never open result files themselves).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass
class MachineResults:
    """All loaded rows of one machine, its merged run metadata and its run CSVs."""

    machine_id: str
    df: pd.DataFrame
    meta: dict[str, Any]
    csv_paths: list[Path]

    def samples(self) -> tuple[pd.DataFrame | None, str | None]:
        """Pooled raw latency samples of all runs (None if there are none), and a note when a
        samples file could not be read (figures then fall back to percentile columns)."""
        from ipcbench.errors import IpcbenchError
        from ipcbench.results import loader

        frames = []
        for path in self.csv_paths:
            try:
                frames.append(loader.load_samples(path, missing_ok=True))
            except IpcbenchError as exc:
                return None, f"raw samples not used: {exc}"
        frames = [f for f in frames if len(f)]
        return (pd.concat(frames, ignore_index=True) if frames else None), None


def load_machines(paths: Sequence[str | Path]) -> list[MachineResults]:
    """Load result CSVs or folders and split them by machine (in order of first appearance).

    Raises IpcbenchError (one line naming the fix) for missing, empty, foreign or damaged input.
    """
    from ipcbench.results import loader

    df = loader.load_all(paths)
    machines = []
    for machine_id in dict.fromkeys(df["machine_id"].astype("string").fillna("unknown")):
        part = df[df["machine_id"].astype("string").fillna("unknown") == machine_id]
        part = part.reset_index(drop=True)
        csvs = [Path(p) for p in dict.fromkeys(part[loader.SOURCE_COLUMN])]
        metas = [loader.read_meta(p) for p in csvs]
        machines.append(MachineResults(str(machine_id), part, merge_meta(metas), csvs))
    return machines


def merge_meta(metas: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The latest run's facts; warnings, start methods and timestamps of all runs."""
    ordered = sorted(metas, key=lambda m: str(m.get("timestamp_utc", "")))
    merged: dict[str, Any] = {}
    for meta in ordered:
        merged.update(meta)
    merged["warnings"] = [w for m in ordered for w in (m.get("warnings") or [])]
    methods = [x for m in ordered for x in (m.get("start_methods_used") or [])]
    merged["start_methods_used"] = list(dict.fromkeys(methods))
    merged["runs"] = [str(m.get("timestamp_utc", "?")) for m in ordered]
    return merged
