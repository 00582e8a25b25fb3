"""Result files: a run's CSV, samples and metadata (the row schema itself is ``schema.py``).

A run writes three files side by side in ``results/<machine-id>/``:

* ``<stamp>.csv``        one row per (case, repeat), appended and flushed after every case
* ``<stamp>.meta.json``  machine and software metadata (see ``metadata.py``)
* ``<stamp>.samples.csv.gz``  raw per-message latencies, long format ``row_id,lat_ns``
  (one gzip member appended per case, so a crash loses nothing already written)

The row schema and its version history: ``ipcbench.results.schema``.

This module uses only the standard library so the runner never imports pandas.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ipcbench.errors import IpcbenchError
from ipcbench.results.schema import (
    ADDED_IN,
    COLUMNS,
    SAMPLES_COLUMNS,
    SCHEMA_VERSION,
)


def add_columns_of(version: int) -> Any:
    """An upgrade step from ``version - 1``: add that version's new columns, empty."""

    def upgrade(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        added = dict.fromkeys(ADDED_IN[version], "")
        return [{**row, **added, "schema_version": str(version)} for row in rows]

    return upgrade


def upgrade_to_3(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Schema 2 -> 3: ``call`` and ``call_timeout_s`` added empty; the ``nowait`` pattern's
    ``op`` (nowait, blocking) was its calling style and becomes ``call`` (nowait, block)."""
    calls = {"nowait": "nowait", "blocking": "block"}
    upgraded = add_columns_of(3)(rows)
    for row in upgraded:
        if row.get("pattern") == "nowait" and row.get("op") in calls:
            row["call"], row["op"] = calls[row["op"]], ""
    return upgraded


@dataclass(frozen=True)
class RunStore:
    """The files of one run (CSV, meta.json, samples): their paths, claiming a new run's
    name, writing (``writer``: append + fsync; ``write_meta``: atomic) and reading."""

    csv: Path
    meta: Path
    samples: Path

    @classmethod
    def for_csv(cls, csv_path: Path) -> RunStore:
        stem = csv_path.name[: -len(".csv")] if csv_path.name.endswith(".csv") else csv_path.name
        return cls(
            csv=csv_path,
            meta=csv_path.with_name(stem + ".meta.json"),
            samples=csv_path.with_name(stem + ".samples.csv.gz"),
        )

    @classmethod
    def first_free(cls, folder: Path, stamp: str) -> RunStore:
        """The first free ``<stamp>[-N].csv`` name (nothing is created; see ``claim_new``)."""
        store = cls.for_csv(folder / f"{stamp}.csv")
        suffix = 1
        while store.taken():  # never overwrite: two runs in one second get -1, -2, ...
            store = cls.for_csv(folder / f"{stamp}-{suffix}.csv")
            suffix += 1
        return store

    @classmethod
    def claim_new(cls, folder: Path, stamp: Callable[[], str], attempts: int = 1000) -> RunStore:
        """Claim a new run's CSV name by creating the file exclusively (O_EXCL).

        Two runs started at once in the same folder may both find ``<stamp>.csv`` free; only
        one can create it, the other takes the next name, so they never share (or mix rows in)
        a file. The CSV is created empty; ``writer`` writes its header."""
        for _ in range(attempts):
            store = cls.first_free(folder, stamp())
            try:
                fd = os.open(store.csv, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue  # another run took this name between the check and the create
            except OSError as exc:
                raise IpcbenchError(
                    f"cannot write results to {folder}: {exc.strerror or exc}; "
                    "pass a writable --out DIR"
                ) from None
            os.close(fd)
            return store
        raise IpcbenchError(f"cannot find a free run file name in {folder}")

    def taken(self) -> bool:
        return any(path.exists() for path in (self.csv, self.meta, self.samples))

    def remove_if_unstarted(self) -> None:
        """Remove a new run's files if its CSV is still empty (claimed, nothing written)."""
        with contextlib.suppress(OSError):
            if self.csv.stat().st_size == 0:
                self.csv.unlink()
                self.meta.unlink(missing_ok=True)

    def writer(self, *, resume: bool = False, claimed: bool = False) -> ResultWriter:
        return ResultWriter(self, resume=resume, claimed=claimed)

    def write_meta(self, meta: Mapping[str, Any]) -> None:
        """Write meta.json atomically (a temp file, then a rename)."""
        tmp = self.meta.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.meta)

    def read_rows(self) -> list[dict[str, str]]:
        return read_rows(self.csv)

    def read_samples(self) -> Iterator[tuple[str, int]]:
        return read_samples(self.samples)


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


class ResultWriter:
    """Appends rows to a run's CSV and samples file, flushing after every case."""

    def __init__(self, paths: RunStore, *, resume: bool = False, claimed: bool = False) -> None:
        """``resume``: append to an existing run's CSV. ``claimed``: the CSV was created empty
        by this run (exclusively, so no other run writes it) and gets its header now."""
        self.paths = paths
        exists = paths.csv.exists()
        if claimed and exists and paths.csv.stat().st_size == 0:
            exists = False
        if exists and not resume:
            raise IpcbenchError(f"{paths.csv} already exists; refusing to overwrite it")
        if exists and not _ends_with_newline(paths.csv):  # appending would glue rows together
            raise IpcbenchError(
                f"{paths.csv} ends with an incomplete line; resume it with "
                "'ipcbench run --resume', which cuts that line off first"
            )
        self._fh = open(paths.csv, "a", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = csv.DictWriter(self._fh, fieldnames=COLUMNS, extrasaction="raise")
        if not exists or self._fh.tell() == 0:
            self._writer.writeheader()
            self._flush()

    def write_case(
        self, rows: Sequence[Mapping[str, Any]], samples: Mapping[str, Iterable[int]]
    ) -> None:
        """Write all rows of one case and their raw samples, then fsync both files."""
        for row in rows:
            self._writer.writerow({col: _format(row.get(col)) for col in COLUMNS})
        self._flush()
        if samples:
            new_file = not self.paths.samples.exists()
            # one join per row (not a line at a time) and level 1: 20 000 samples took 6.9
            # ms to write instead of 10.5 (files ~6% larger), in the runner between cases
            with gzip.open(self.paths.samples, "at", encoding="utf-8", compresslevel=1) as gz:
                if new_file:
                    gz.write(",".join(SAMPLES_COLUMNS) + "\n")
                gz.write("".join(_sample_lines(row_id, ns) for row_id, ns in samples.items()))

    def _flush(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sample_lines(row_id: str, values_ns: Iterable[int]) -> str:
    """``row_id,value`` lines, one per sample (empty for no samples)."""
    prefix = f"{row_id},"
    lines = ("\n" + prefix).join(map(str, values_ns))
    return f"{prefix}{lines}\n" if lines else ""


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        if fh.seek(0, os.SEEK_END) == 0:
            return True
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


class CsvDamage(Exception):
    """A result CSV that cannot be parsed; each reader words its own message from it.

    ``kind``: ``"header"`` (the header line is not CSV or has no schema_version column),
    ``"fields"`` (a row has another number of fields than the header), ``"invalid"`` (a row is
    not valid CSV). ``line`` is the 1-based line number, ``detail`` the csv module's reason."""

    def __init__(
        self, kind: str, line: int, detail: str = "", n_fields: int = 0, expected: int = 0
    ) -> None:
        super().__init__(kind, line, detail)
        self.kind, self.line, self.detail = kind, line, detail
        self.n_fields, self.expected = n_fields, expected  # "fields": found, header's


def parse_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """The one result CSV parser: header and rows as strings (stdlib only).

    Strict: a header with a schema_version column, then rows with exactly as many fields as
    the header; anything else raises ``CsvDamage`` (callers say what to do about it)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise CsvDamage("header", reader.line_num, str(exc)) from None
    if "schema_version" not in header:
        raise CsvDamage("header", reader.line_num)
    rows: list[dict[str, str]] = []
    try:
        for fields in reader:
            if len(fields) != len(header):
                raise CsvDamage(
                    "fields", reader.line_num, n_fields=len(fields), expected=len(header)
                )
            rows.append(dict(zip(header, fields, strict=True)))
    except csv.Error as exc:
        raise CsvDamage("invalid", reader.line_num, str(exc)) from None
    return header, rows


def read_rows(path: Path) -> list[dict[str, str]]:
    """Read a result CSV as strings (no pandas, ``parse_rows``); refuses files that are not
    ipcbench results of this schema version."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            text = fh.read()
        header, rows = parse_rows(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise IpcbenchError(f"cannot read results file {path}: {exc}") from None
    except CsvDamage as damage:
        if damage.kind == "header" and not damage.detail:
            _check_header(path, next(csv.reader(io.StringIO(text)), []))
        raise IpcbenchError(
            f"cannot read results file {path}: line {damage.line} is damaged "
            f"({damage.detail or f'{damage.n_fields} fields, expected {damage.expected}'})"
        ) from None
    _check_header(path, header)
    for row in rows:
        if row.get("schema_version") != str(SCHEMA_VERSION):
            raise IpcbenchError(
                f"{path}: schema_version {row.get('schema_version')!r} is not supported "
                f"(this ipcbench reads {SCHEMA_VERSION}); re-run the benchmark or upgrade ipcbench"
            )
    return rows


def _check_header(path: Path, header: Sequence[str]) -> None:
    if not header:
        raise IpcbenchError(f"{path} is empty; pass a CSV written by 'ipcbench run'")
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise IpcbenchError(
            f"{path} is not an ipcbench result file (missing columns: {', '.join(missing[:5])}); "
            "pass a CSV written by 'ipcbench run'"
        )


def read_samples(path: Path) -> Iterator[tuple[str, int]]:
    """Yield (row_id, lat_ns) pairs from a samples file."""
    with gzip.open(path, "rt", encoding="utf-8") as gz:
        header = gz.readline().strip()
        if header != ",".join(SAMPLES_COLUMNS):
            raise IpcbenchError(f"{path} is not an ipcbench samples file")
        for line in gz:
            row_id, _, lat = line.rstrip("\n").partition(",")
            yield row_id, int(lat)
