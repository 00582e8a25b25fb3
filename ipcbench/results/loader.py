"""Read result files into pandas DataFrames for stats, comparisons, plots and reports.

``load(path)`` accepts a run's CSV, a machine folder (``results/<machine-id>/``) or the results
root (searched recursively) and returns one row per (case, repeat) of every run found, with
the run's metadata (``<stamp>.meta.json``) joined as columns and a ``source_csv`` column naming
the run. Numeric columns are numeric (nullable ``Int64`` for counts, ``float64`` for measures).

Older schema versions are upgraded step by step through ``UPGRADES`` (on raw string rows, before
typing); versions without an upgrade path are refused with a message naming the fix.

Every problem with the files raises ``IpcbenchError`` with a one-line message.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipcbench.errors import IpcbenchError
from ipcbench.results.schema import (
    COLUMNS,
    FLOAT_COLUMNS,
    INT_COLUMNS,
    INTERPRETER_COLUMNS,
    PARAM_COLUMNS,
    SAMPLES_COLUMNS,
    SCHEMA_VERSION,
)
from ipcbench.results.store import (
    SAMPLES_FIX,
    SAMPLES_SUFFIXES,
    CsvDamage,
    RunStore,
    add_columns_of,
    parse_rows,
    read_sample_records,
    upgrade_to_3,
)

if TYPE_CHECKING:
    import pandas as pd

PathLike = str | os.PathLike[str]
RawRow = dict[str, str]
# UPGRADES[v] turns rows of schema v into rows of schema v + 1 (and must set schema_version).
UPGRADES: dict[int, Callable[[list[RawRow]], list[RawRow]]] = {
    1: add_columns_of(2),
    2: upgrade_to_3,
    3: add_columns_of(4),
}

SOURCE_COLUMN = "source_csv"
# Display order of cases: each transport's sweep over payload sizes stays together.
CASE_ORDER: tuple[str, ...] = (
    "pattern",
    "transport",
    "op",
    "payload_kind",
    "start_method",
    "python",
    "placement",
    "producers",
    "consumers",
    "maxsize",
    "call",
    "call_timeout_s",
    "payload_bytes",
)
META_SKIPPED = frozenset({"config", "versions", "warnings"})
RUN_HINT = "pass a CSV written by 'ipcbench run', its machine folder or the results folder"


def load(path: PathLike) -> pd.DataFrame:
    """All runs under ``path`` (a run CSV, a machine folder or the results root) in one frame."""
    return load_all([path])


def load_all(paths: Iterable[PathLike]) -> pd.DataFrame:
    """Like ``load`` for several paths, concatenated in the order given."""
    import pandas as pd

    paths = list(paths)
    frames: list[pd.DataFrame] = []
    for path in paths:
        runs = find_runs(Path(path))
        frames.extend(read_run(run) for run in runs)
    frames = [f for f in frames if len(f)]
    if not frames:
        names = ", ".join(str(p) for p in paths)
        raise IpcbenchError(f"no result rows in {names}: the runs recorded no cases; {RUN_HINT}")
    return python_dimension(pd.concat(frames, ignore_index=True))


def python_dimension(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of runs launched without --pythons have no ``python`` parameter. When the frame
    holds more than one interpreter (runs launched under different Pythons, or such a run next
    to a --pythons run), those rows get their interpreter's tag ('3.12') from their
    ``python_version``, so cases of different interpreters are never merged. Changed in place."""
    if "python" not in frame or "python_version" not in frame:
        return frame
    unset = frame["python"].isna() | (frame["python"].astype("str").str.strip() == "")
    if not unset.any():
        return frame
    tags = frame.loc[unset].apply(_row_tag, axis=1)
    others = set(frame.loc[~unset, "python"].astype("str"))
    if len(set(tags.dropna())) + len(others) > 1:
        frame.loc[unset, "python"] = tags
    return frame


def _row_tag(row: pd.Series) -> str | None:
    """'3.12' (+ 't' free-threaded, 'd' debug) from a row's python_version and python_build."""
    version = row.get("python_version")
    if not isinstance(version, str) or version.count(".") < 1:
        return None
    build = row.get("python_build")
    build = build if isinstance(build, str) else ""
    suffix = ("t" if "free-threaded" in build else "") + ("d" if "debug" in build else "")
    return ".".join(version.split(".")[:2]) + suffix


def find_runs(path: Path) -> list[Path]:
    """The run CSVs named by ``path``: itself if a file, else every run CSV below the folder.

    Inside folders a ``*.csv`` counts as a run if it has a sibling ``.meta.json`` or its header
    starts with ``schema_version`` -- so exported summaries lying around are not mistaken for
    runs. A file named directly is always read (and refused if it is not a run).
    """
    if path.is_file():
        if path.name.endswith((*SAMPLES_SUFFIXES, ".meta.json")):
            raise IpcbenchError(f"{path} belongs to a run; pass the run's .csv instead")
        return [path]
    if not path.is_dir():
        raise IpcbenchError(f"{path} does not exist; {RUN_HINT}")
    runs = [p for p in sorted(path.rglob("*.csv")) if p.is_file() and _looks_like_run(p)]
    if not runs:
        raise IpcbenchError(f"no result files (*.csv) under {path}; {RUN_HINT}")
    return runs


def _looks_like_run(path: Path) -> bool:
    if RunStore.for_csv(path).meta.exists():
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(len("schema_version,")) == b"schema_version,"
    except OSError:
        return False


def read_run(csv_path: Path) -> pd.DataFrame:
    """One run's rows, upgraded to the current schema, typed, with metadata columns joined."""
    header, rows = _read_raw(csv_path)
    rows = _upgrade(csv_path, rows)
    if rows:
        header = list(rows[0])
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise IpcbenchError(
            f"{csv_path} is not an ipcbench result file (missing columns: "
            f"{', '.join(missing[:5])}); {RUN_HINT}"
        )
    frame = _typed_frame(csv_path, header, rows)
    meta = read_meta(csv_path)
    for name, value in meta_columns(meta, frame.columns).items():
        frame[name] = value
    for column in INTERPRETER_COLUMNS:  # schema < 4: the run's interpreter, from its metadata
        if frame[column].isna().all() and isinstance(meta.get(column), (str, bool)):
            frame[column] = str(meta[column])
    frame[SOURCE_COLUMN] = str(csv_path)
    return frame


def _read_raw(path: Path) -> tuple[list[str], list[RawRow]]:
    """Header and rows as strings; refuses empty, binary, foreign and truncated files."""
    try:
        return parse_rows(_read_text(path))
    except CsvDamage as damage:
        if damage.kind == "header":
            raise IpcbenchError(
                f"{path} is not an ipcbench result file (no schema_version column); {RUN_HINT}"
            ) from None
        if damage.kind == "fields":
            raise IpcbenchError(
                f"{path} line {damage.line} has {damage.n_fields} fields, expected "
                f"{damage.expected}: the file is damaged; delete that line or re-run"
            ) from None
        raise IpcbenchError(
            f"{path} line {damage.line} is not valid CSV ({damage.detail}); re-run"
        ) from None


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IpcbenchError(f"cannot read {path}: {exc.strerror}; check the path") from None
    if not data.strip():
        raise IpcbenchError(f"{path} is empty; {RUN_HINT}")
    try:
        if b"\0" in data:
            raise UnicodeError
        text = data.decode("utf-8")
    except UnicodeError:
        raise IpcbenchError(f"{path} is binary, not a CSV; {RUN_HINT}") from None
    if not text.endswith("\n"):
        raise IpcbenchError(
            f"{path} ends with an incomplete row (the run was interrupted?); "
            "delete the last line or re-run"
        )
    return text


def _upgrade(path: Path, rows: list[RawRow]) -> list[RawRow]:
    """Bring rows to SCHEMA_VERSION through the UPGRADES chain, or refuse naming the fix."""
    if not rows:
        return rows
    version = _schema_version(path, rows)
    if version > SCHEMA_VERSION:
        raise IpcbenchError(
            f"{path} has schema_version {version}, newer than this ipcbench reads "
            f"({SCHEMA_VERSION}); upgrade ipcbench"
        )
    while version < SCHEMA_VERSION:
        step = UPGRADES.get(version)
        if step is None:
            raise IpcbenchError(
                f"{path} has schema_version {version}, which this ipcbench cannot upgrade "
                f"(it reads {SCHEMA_VERSION}); re-run the benchmark or use an older ipcbench"
            )
        rows = step(rows)
        version += 1
    return rows


def _schema_version(path: Path, rows: Sequence[RawRow]) -> int:
    versions = {r["schema_version"].strip() for r in rows}
    if len(versions) != 1:
        raise IpcbenchError(
            f"{path} mixes schema versions {', '.join(sorted(versions))}; "
            "keep one run per file (re-run or split it)"
        )
    text = versions.pop()
    if not text.isdigit():
        raise IpcbenchError(
            f"{path} has schema_version {text!r}, not an ipcbench result file; {RUN_HINT}"
        )
    return int(text)


def _typed_frame(path: Path, header: Sequence[str], rows: Sequence[RawRow]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(
        [[cell if cell != "" else None for cell in row.values()] for row in rows],
        columns=list(header),
        dtype="str",
    )
    for column in INT_COLUMNS:
        frame[column] = _numeric(path, frame[column], integer=True)
    for column in FLOAT_COLUMNS:
        frame[column] = _numeric(path, frame[column], integer=False)
    return frame


def _numeric(path: Path, column: pd.Series, *, integer: bool) -> pd.Series:
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() & column.notna()
    if integer and not bad.any():
        bad = values.notna() & (values % 1 != 0)
    if bad.any():
        first = bad.to_numpy().nonzero()[0][0]
        kind = "an integer" if integer else "a number"
        raise IpcbenchError(
            f"{path}: column {column.name} has {column.iloc[first]!r} on data row {first + 1}, "
            f"not {kind}; the file is damaged: fix that cell or re-run"
        )
    return values.astype("Int64") if integer else values.astype("float64")


def typed_params(frame: pd.DataFrame) -> pd.DataFrame:
    """Integer parameter columns as nullable integers (DataFrames built from records hold
    them as floats); returns ``frame``, changed in place."""
    for column in PARAM_COLUMNS:
        if column in INT_COLUMNS and column in frame:
            frame[column] = frame[column].astype("Int64")
    return frame


def sort_cases(frame: pd.DataFrame, first: Sequence[str] = ()) -> pd.DataFrame:
    """Rows sorted by ``first`` then ``CASE_ORDER`` (stable, missing values first)."""
    keys = [*first, *(c for c in CASE_ORDER if c in frame)]
    return frame.sort_values(keys, kind="stable", na_position="first", ignore_index=True)


def read_meta(csv_path: PathLike) -> dict[str, Any]:
    """The run's metadata JSON as a dict; empty if the run has no meta file."""
    meta_path = RunStore.for_csv(Path(csv_path)).meta
    if not meta_path.exists():
        return {}
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IpcbenchError(
            f"{meta_path} is not valid JSON ({exc}); restore it or delete it to load without "
            "metadata"
        ) from None
    if not isinstance(meta, dict):
        raise IpcbenchError(f"{meta_path} is not a JSON object; restore it or delete it")
    return meta


def meta_columns(meta: dict[str, Any], existing: Iterable[str]) -> dict[str, Any]:
    """Scalar metadata (and lists of scalars, joined by ',') as columns; names that clash with
    result columns get a ``meta_`` prefix. Dicts and ``config``/``versions``/``warnings`` are
    left in the JSON file."""
    taken = {*existing, SOURCE_COLUMN}
    columns: dict[str, Any] = {}
    for key, value in meta.items():
        if key in META_SKIPPED or isinstance(value, dict):
            continue
        if isinstance(value, list):
            if not all(isinstance(v, (str, int, float, bool)) for v in value):
                continue
            value = ",".join(str(v) for v in value)
        columns[f"meta_{key}" if key in taken else key] = value
    return columns


def load_samples(csv_path: PathLike, *, missing_ok: bool = False) -> pd.DataFrame:
    """Raw per-message latencies of one run: columns ``row_id`` (str), ``lat_ns`` (int64) and
    ``source_csv``. Read from its binary samples file, or an older run's text one. Without a
    samples file: an empty frame if ``missing_ok`` else an error."""
    csv_file = Path(csv_path)
    store = RunStore.for_csv(csv_file)
    samples = store.samples_to_read()
    if samples is None:
        if missing_ok:
            return _empty_samples()
        raise IpcbenchError(
            f"{store.samples} does not exist; only latency patterns write samples: pass such a run"
        )
    if samples == store.old_samples:
        frame = _load_text_samples(samples)
    else:
        frame = _load_binary_samples(samples)
    frame[SOURCE_COLUMN] = str(csv_file)
    return frame


def _load_binary_samples(path: Path) -> pd.DataFrame:
    """``row_id`` and ``lat_ns`` of a binary samples file, one numpy array of its values."""
    import numpy as np
    import pandas as pd

    row_ids: list[str] = []
    counts: list[int] = []
    values = []
    for row_id, raw in read_sample_records(path):
        row_ids.append(row_id)
        counts.append(len(raw) // 8)
        values.append(np.frombuffer(raw, dtype="<i8"))
    lat_ns = np.concatenate(values).astype("int64", copy=False) if values else np.empty(0, "int64")
    ids = np.repeat(np.array(row_ids, dtype=object), counts)
    return pd.DataFrame(
        {"row_id": pd.Series(ids, dtype="str"), "lat_ns": pd.Series(lat_ns, dtype="int64")}
    )


def _load_text_samples(path: Path) -> pd.DataFrame:
    """``row_id`` and ``lat_ns`` of an older run's text samples file (``row_id,lat_ns``)."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, compression="gzip", dtype={"row_id": "str"})
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise IpcbenchError(f"{path} is damaged or truncated ({exc}); {SAMPLES_FIX}") from None
    if tuple(frame.columns) != SAMPLES_COLUMNS or frame.isna().any().any():
        raise IpcbenchError(f"{path} is not a complete ipcbench samples file; {SAMPLES_FIX}")
    frame["lat_ns"] = _numeric(path, frame["lat_ns"], integer=True).astype("int64")
    return frame


def _empty_samples() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(
        {
            "row_id": pd.Series([], dtype="str"),
            "lat_ns": pd.Series([], dtype="int64"),
            SOURCE_COLUMN: pd.Series([], dtype="str"),
        }
    )
