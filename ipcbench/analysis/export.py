"""Export result files to other tools' formats. One format so far: pyperf JSON.

``export_pyperf(paths, output)`` turns ipcbench result CSVs into a pyperf benchmark suite, so
``python -m pyperf stats out.json`` and ``python -m pyperf compare_to a.json b.json`` work on
any two ipcbench runs:

* one pyperf benchmark per case (ok rows only), named by its parameters (``Case.label``, e.g.
  ``pipe pingpong 64 B bytes fork unpinned``) -- the same names ``ipcbench pyperf`` gives its
  benchmarks, so a pyperf-suite run and an exported sweep can be compared too;
* one pyperf run per ipcbench run (``run_id``), its values the repeats in order, each
  ``elapsed_s / n_messages``: seconds per message (per round trip for pingpong);
* the case's parameters, the machine and the Python version as pyperf metadata. pyperf refuses
  to put runs with different CPU or Python metadata in one benchmark, and so does this export:
  export one machine (folder) at a time and compare the files.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipcbench.errors import IpcbenchError
from ipcbench.params import Case
from ipcbench.results.schema import typed_params

if TYPE_CHECKING:
    import pandas as pd

FORMATS: tuple[str, ...] = ("pyperf",)
# pyperf run metadata <- ipcbench column (from the CSV or its .meta.json)
RUN_METADATA = {
    "cpu_count": "logical_cpus",
    "cpu_model_name": "cpu_model",
    "python_version": "python_version",
    "python_implementation": "python_implementation",
    "date": "timestamp_utc",
    "ipcbench_run_id": "run_id",
    "ipcbench_machine_id": "machine_id",
}


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and pandas NA (NA != NA is NA: bool() raises)
    except TypeError:
        return True


def _text(value: Any) -> str:
    return "" if _missing(value) else str(value).strip()


def case_of(row: Mapping[str, Any]) -> Case:
    """The Case a result row measured (parameter columns only)."""
    params = typed_params(row)
    for column in ("producers", "consumers"):
        if params[column] is None:
            params[column] = 1
    if params["payload_bytes"] is None:
        raise IpcbenchError(f"row {_text(row.get('row_id'))!r} has no payload_bytes; re-run")
    return Case(**params)


def case_metadata(case: Case) -> dict[str, Any]:
    """The case's parameters as pyperf metadata (pyperf refuses empty values: left out)."""
    return {k: v for k, v in case.params().items() if v is not None and v != ""}


def _seconds_per_message(row: Mapping[str, Any]) -> float:
    try:
        elapsed, n = float(row["elapsed_s"]), float(row["n_messages"])
    except (TypeError, ValueError, KeyError):
        elapsed, n = math.nan, math.nan
    if not (elapsed > 0 and n >= 1 and math.isfinite(elapsed)):
        raise IpcbenchError(
            f"row {_text(row.get('row_id'))!r} has status ok but no usable elapsed_s/n_messages "
            f"({row.get('elapsed_s')!r}, {row.get('n_messages')!r}): the file is damaged; re-run"
        )
    return elapsed / n


def _run_metadata(name: str, case: Case, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "unit": "second", **case_metadata(case)}
    counts = {int(float(r["n_messages"])) for r in rows}
    if len(counts) == 1:
        metadata["loops"] = counts.pop()
    first = rows[0]
    for key, column in RUN_METADATA.items():
        value = _text(first.get(column))
        if value:
            metadata[key] = int(float(value)) if key == "cpu_count" else value
    if "python_implementation" in metadata:
        metadata["python_implementation"] = metadata["python_implementation"].lower()
    return metadata


def _group(records: Iterable[Mapping[str, Any]]) -> dict[Case, dict[str, list[Mapping[str, Any]]]]:
    """ok rows by case, then by run (in order of appearance)."""
    cases: dict[Case, dict[str, list[Mapping[str, Any]]]] = {}
    for row in records:
        if _text(row.get("status")) != "ok":
            continue
        run = _text(row.get("run_id")) or _text(row.get("source_csv"))
        cases.setdefault(case_of(row), {}).setdefault(run, []).append(row)
    return cases


def _check_one_machine(records: Sequence[Mapping[str, Any]]) -> None:
    machines = sorted({_text(r.get("machine_id")) for r in records} - {""})
    if len(machines) > 1:
        raise IpcbenchError(
            f"the results come from {len(machines)} machines ({', '.join(machines[:3])}); "
            "pyperf keeps one machine per file: export each machine folder separately, "
            "then compare the files"
        )


def pyperf_suite(records: Sequence[Mapping[str, Any]]) -> Any:
    """A pyperf.BenchmarkSuite from result rows (dicts with the CSV's columns)."""
    import pyperf

    _check_one_machine(records)
    grouped = _group(records)
    if not grouped:
        raise IpcbenchError("no rows with status ok in the results: nothing to export")
    benchmarks = []
    for case in sorted(grouped, key=_case_key):
        name = case.label()
        runs = []
        for rows in grouped[case].values():
            rows = sorted(rows, key=lambda r: int(float(_text(r.get("repeat")) or 0)))
            values = [_seconds_per_message(r) for r in rows]
            metadata = _run_metadata(name, case, rows)
            runs.append(pyperf.Run(values, metadata=metadata, collect_metadata=False))
        try:
            benchmarks.append(pyperf.Benchmark(runs))
        except ValueError as exc:  # e.g. two Python versions in one benchmark
            raise IpcbenchError(
                f"cannot combine the runs of {name!r} into one pyperf benchmark ({exc}); "
                "export those runs separately"
            ) from None
    return pyperf.BenchmarkSuite(benchmarks)


def _case_key(case: Case) -> tuple[Any, ...]:
    return tuple(-1 if v is None else v for v in case.params().values())


def check_output(output: Path, force: bool) -> None:
    """Refuse (before any work) to overwrite without --force, or to write into no folder."""
    if output.exists() and not force:
        raise IpcbenchError(
            f"{output} already exists; pass --force to overwrite it or pick another -o"
        )
    if output.exists() and output.is_dir():
        raise IpcbenchError(f"{output} is a folder; pass a file name such as out.json")
    if not output.parent.is_dir():
        raise IpcbenchError(f"folder {output.parent} does not exist; create it or pick another -o")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [dict(r) for r in frame.to_dict("records")]


def export_pyperf(paths: Sequence[str | Path], output: str | Path, *, force: bool = False) -> int:
    """Write pyperf JSON for the result files under ``paths``; returns the benchmark count."""
    from ipcbench.results.loader import load_all

    out = Path(output)
    check_output(out, force)
    suite = pyperf_suite(_records(load_all(paths)))
    try:
        suite.dump(str(out), replace=True)
    except OSError as exc:
        raise IpcbenchError(f"cannot write {out}: {exc.strerror or exc}") from None
    return len(suite.get_benchmarks())
