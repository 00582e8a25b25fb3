"""Result files: a run's CSV, samples and metadata (the row schema itself is ``schema.py``).

A run writes three files side by side in ``results/<machine-id>/``:

* ``<stamp>.csv``        one row per (case, repeat), appended and flushed after every case
* ``<stamp>.meta.json``  machine and software metadata (see ``metadata.py``)
* ``<stamp>.samples.bin.gz``  raw per-message latencies (one gzip member appended and fsynced
  per case, so a crash loses at most the case being written). Decompressed: the line
  ``ipcbench-samples 1\\n`` once, then per row a header line ``<row_id> <count>\\n`` followed by
  ``count`` signed 64-bit little-endian integers (ns). Runs written before this format have
  ``<stamp>.samples.csv.gz`` (text, long format ``row_id,lat_ns``); it is still read.

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
import sys
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from ipcbench.errors import IpcbenchError
from ipcbench.results.schema import (
    ADDED_IN,
    COLUMNS,
    SAMPLES_COLUMNS,
    SCHEMA_VERSION,
)

SAMPLES_SUFFIX = ".samples.bin.gz"  # written since the binary format
OLD_SAMPLES_SUFFIX = ".samples.csv.gz"  # text; runs written before it (read, never appended to)
SAMPLES_SUFFIXES = (SAMPLES_SUFFIX, OLD_SAMPLES_SUFFIX)
SAMPLES_MAGIC = b"ipcbench-samples 1\n"  # the first line of a binary samples file
SAMPLES_FIX = "re-run, or delete it to go without pooled percentiles"
MAX_RECORD_HEADER = 256  # bytes of a record's header line '<row_id> <count>\n' at most
READ_CHUNK = 1 << 24  # bytes of sample values read at a time (a damaged count allocates no more)
BIG_ENDIAN = sys.byteorder == "big"

# One row's raw samples, int64 ns: an array('q') or its bytes (native byte order, as the driver
# sends them); any other iterable of ints is packed into an array('q') first.
RowSamples: TypeAlias = "bytes | bytearray | memoryview | array[int] | Iterable[int]"


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
    name, writing (``writer``: append + fsync; ``write_meta``: atomic) and reading.

    ``samples`` is the binary samples file this ipcbench writes; ``old_samples`` the text one
    of runs written before it, still read (``samples_to_read``) but never appended to."""

    csv: Path
    meta: Path
    samples: Path
    old_samples: Path

    @classmethod
    def for_csv(cls, csv_path: Path) -> RunStore:
        stem = csv_path.name[: -len(".csv")] if csv_path.name.endswith(".csv") else csv_path.name
        return cls(
            csv=csv_path,
            meta=csv_path.with_name(stem + ".meta.json"),
            samples=csv_path.with_name(stem + SAMPLES_SUFFIX),
            old_samples=csv_path.with_name(stem + OLD_SAMPLES_SUFFIX),
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
        paths = (self.csv, self.meta, self.samples, self.old_samples)
        return any(path.exists() for path in paths)

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

    def samples_to_read(self) -> Path | None:
        """The run's samples file: the binary one, else an older run's text one, else None."""
        for path in (self.samples, self.old_samples):
            if path.exists():
                return path
        return None

    def read_samples(self) -> Iterator[tuple[str, int]]:
        """(row_id, lat_ns) pairs of the run's samples file (nothing if it has none)."""
        path = self.samples_to_read()
        return read_samples(path) if path is not None else iter(())


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
        self, rows: Sequence[Mapping[str, Any]], samples: Mapping[str, RowSamples]
    ) -> None:
        """Write all rows of one case and fsync the CSV; then, unless ``samples`` is empty,
        append their raw samples (per row id, see ``RowSamples``; a row may have none) to the
        samples file as one gzip member and fsync it."""
        for row in rows:
            self._writer.writerow({col: _format(row.get(col)) for col in COLUMNS})
        self._flush()
        if samples:
            path = self.paths.samples
            member = samples_member(samples, magic=not path.exists() or not path.stat().st_size)
            with open(path, "ab") as fh:
                fh.write(member)
                fh.flush()
                os.fsync(fh.fileno())

    def _flush(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def samples_member(samples: Mapping[str, RowSamples], *, magic: bool = False) -> bytes:
    """One gzip member (zlib level 1) of the binary samples format: the magic line first if
    ``magic`` (a new file), then per row id ``<row_id> <count>\\n`` and its values as int64
    little-endian. The values are packed as they are, never formatted or made Python ints:
    this runs in the runner between two cases, outside the measured batches, and 700 000
    samples (a lifecycle qsize batch) took 30 ms here against 147 ms formatting + 46 ms
    gzipping as text, in a file 0.70x the size (bench/samples_write.py, a 2-CPU VM)."""
    deflate = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: a gzip header and trailer
    parts = [deflate.compress(SAMPLES_MAGIC)] if magic else []
    for row_id, values in samples.items():
        raw = _int64_le(values)
        parts.append(deflate.compress(b"%s %d\n" % (_record_id(row_id), raw.nbytes // 8)))
        parts.append(deflate.compress(raw))
    parts.append(deflate.flush())
    return b"".join(parts)


def _record_id(row_id: str) -> bytes:
    if not (row_id.isascii() and row_id.isprintable() and row_id.split() == [row_id]):
        raise ValueError(f"row id {row_id!r} is not a printable ASCII word")
    return row_id.encode("ascii")


def _int64_le(values: RowSamples) -> memoryview:
    """``values`` as the bytes of little-endian int64s (bytes-like: native int64s as is)."""
    if isinstance(values, (bytes, bytearray, memoryview)):
        raw = memoryview(values).cast("B")
        if raw.nbytes % 8:
            raise ValueError(f"{raw.nbytes} bytes of samples are not whole int64 values")
        if not BIG_ENDIAN:
            return raw
        values = array("q", raw.tobytes())
    elif not (isinstance(values, array) and values.typecode == "q"):
        values = array("q", values)
    if BIG_ENDIAN:
        values = array("q", values)  # a copy: the caller's array stays as it was
        values.byteswap()
    return memoryview(values).cast("B")


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


def read_samples(path: str | os.PathLike[str]) -> Iterator[tuple[str, int]]:
    """Yield (row_id, lat_ns) pairs from a samples file, binary or (older runs) text, one
    Python int per sample: for tests and small tools; ``read_sample_arrays`` is the fast way."""
    path = Path(path)
    if path.name.endswith(OLD_SAMPLES_SUFFIX):
        yield from _read_text_samples(path)
        return
    for row_id, values in read_sample_arrays(path):
        for value in values:
            yield row_id, value


def read_sample_arrays(path: str | os.PathLike[str]) -> Iterator[tuple[str, array[int]]]:
    """Yield (row_id, array('q') of lat_ns) per record of a binary samples file."""
    for row_id, raw in read_sample_records(path):
        values = array("q", raw)
        if BIG_ENDIAN:
            values.byteswap()
        yield row_id, values


def read_sample_records(path: str | os.PathLike[str]) -> Iterator[tuple[str, bytes]]:
    """Yield (row_id, values) per record of a binary samples file, ``values`` being its lat_ns
    as little-endian int64 bytes (``numpy.frombuffer(values, "<i8")``). A missing, damaged,
    truncated or foreign file raises ``IpcbenchError`` (one line naming the fix)."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as gz:
            first = gz.readline(len(SAMPLES_MAGIC))
            if first != SAMPLES_MAGIC:
                raise _foreign_samples(path, first)
            while line := gz.readline(MAX_RECORD_HEADER):
                row_id, count = _record_header(path, line)
                values = _read_exactly(gz, count * 8)
                if values is None:
                    raise _damaged_samples(path, f"the record of {row_id} is cut short")
                yield row_id, values
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise _damaged_samples(path, str(exc)) from None
    except OSError as exc:
        raise _unreadable_samples(path, exc) from None


def _record_header(path: Path, line: bytes) -> tuple[str, int]:
    """(row_id, count) from a record's header line ``<row_id> <count>\\n``."""
    fields = line[:-1].split(b" ") if line.endswith(b"\n") else []
    if len(fields) != 2 or not fields[0] or not fields[1].isdigit() or not line.isascii():
        raise _damaged_samples(path, f"bad record header {line[:40]!r}")
    return fields[0].decode("ascii"), int(fields[1])


def _read_exactly(fh: Any, n: int) -> bytes | None:
    """``n`` bytes from ``fh``, read in chunks of at most READ_CHUNK; None if it ends first."""
    parts = []
    while n > 0:
        part = fh.read(min(n, READ_CHUNK))
        if not part:
            return None
        parts.append(part)
        n -= len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _foreign_samples(path: Path, first: bytes) -> IpcbenchError:
    name, _, version = SAMPLES_MAGIC.partition(b" ")
    found = first.removeprefix(name + b" ").strip() if first.startswith(name + b" ") else b""
    if found.isdigit():  # another version of the format
        return IpcbenchError(
            f"{path} is in samples format {found.decode()}, this ipcbench reads "
            f"{version.strip().decode()}; use an ipcbench that reads it"
        )
    return IpcbenchError(
        f"{path} is not an ipcbench samples file (its first line is not "
        f"{SAMPLES_MAGIC.strip().decode()!r}); {SAMPLES_FIX}"
    )


def _damaged_samples(path: Path, detail: str) -> IpcbenchError:
    detail = " ".join(detail.split())
    return IpcbenchError(f"{path} is damaged or truncated ({detail}); {SAMPLES_FIX}")


def _unreadable_samples(path: Path, exc: OSError) -> IpcbenchError:
    return IpcbenchError(
        f"cannot read {path}: {exc.strerror or exc}; check the path and its permissions"
    )


def _read_text_samples(path: Path) -> Iterator[tuple[str, int]]:
    """(row_id, lat_ns) pairs of an older run's text samples file (``row_id,lat_ns`` lines)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as gz:
            if gz.readline().strip() != ",".join(SAMPLES_COLUMNS):
                raise IpcbenchError(f"{path} is not an ipcbench samples file; {SAMPLES_FIX}")
            for number, line in enumerate(gz, start=2):
                row_id, _, lat = line.rstrip("\n").partition(",")
                if not row_id or not lat.lstrip("-").isdigit():
                    raise _damaged_samples(path, f"line {number} is {line[:40]!r}")
                yield row_id, int(lat)
    except (gzip.BadGzipFile, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise _damaged_samples(path, str(exc)) from None
    except OSError as exc:
        raise _unreadable_samples(path, exc) from None
