"""Resuming an interrupted sweep: ``ipcbench run --resume RESULT.csv``.

The run keeps its identity: run id, case-order seed, settings and machine facts come from
``<stamp>.meta.json``. A case is identified by its parameter columns (``PARAM_COLUMNS``), and
a case run by those and its ``repeat`` (each repeat runs in its own processes, in rounds). A
case run with a row in the CSV is done, whatever its status, and a case with a row that is not
ok is not run again. Only the other case runs go, in the original seeded schedule, with the
message count the case was calibrated to, and their rows are appended to the same CSV (and
samples file): rows already written are never rewritten.

Refused before anything is touched (``IpcbenchError``, one line naming the fix): a missing,
empty, binary or foreign CSV; another schema version; rows of another run; a damaged row; a
missing or invalid meta file; another machine; a run of an older ipcbench whose samples are
in the text file ``<stamp>.samples.csv.gz`` (only the binary ``.samples.bin.gz`` is appended
to); and settings that differ from the stored ones in anything but the output options
(``--out``, which is ignored -- rows go to RESULT.csv -- and ``--quiet``). Flags may be left
out: the stored settings are used; flags that are given must agree with them. List settings
are compared as sets (``-s 4K,64`` = ``-s 64,4K``).

Repaired, only after all of the above passed, just before appending: a last CSV line without
its line end (the runner was killed while writing it) is cut off -- its values cannot be
trusted -- and so is an incomplete last gzip member of the samples file (the latencies of the
case being written then). Each repair is reported as a note.
"""

from __future__ import annotations

import contextlib
import json
import os
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ipcbench.errors import IpcbenchError
from ipcbench.params import Case
from ipcbench.results.schema import COLUMNS, SCHEMA_VERSION, CaseKey, case_key
from ipcbench.results.store import SAMPLES_SUFFIXES, CsvDamage, RunStore, parse_rows

META_KEYS: dict[str, type] = {"run_id": str, "seed": int, "config": dict, "machine_id": str}


@dataclass
class ResumeState:
    """An interrupted run, checked and ready to be continued."""

    paths: RunStore
    meta: dict[str, Any]
    rows: list[dict[str, str]]
    done: set[CaseKey]  # (*case parameters, repeat) of every row
    last_row_number: int
    csv_size: int  # bytes when checked
    csv_keep: int  # bytes of complete lines (< csv_size: a partial last line to cut)
    samples_keep: int | None = None  # bytes of complete gzip members, if some must be cut
    notes: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return str(self.meta["run_id"])

    @property
    def seed(self) -> int:
        return int(self.meta["seed"])

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.meta["config"])

    def run_meta(self) -> dict[str, Any]:
        """The stored metadata to carry on, with this resumption noted."""
        from ipcbench.results import metadata

        meta = dict(self.meta)
        meta["resumed"] = [*meta.get("resumed", []), metadata.utc_stamp()]
        return meta

    def remaining(self, order: Iterable[tuple[Case, int]]) -> list[tuple[Case, int]]:
        """The case runs (case, repeat), in the given order, that have no row in the CSV yet."""
        return [(c, r) for c, r in order if (*case_key(c.params()), str(r)) not in self.done]

    def ended(self, cases: Iterable[Case]) -> set[Case]:
        """Cases with a row that is not ok: they are not run again."""
        failed = {case_key(r) for r in self.rows if r.get("status") != "ok"}
        return {c for c in cases if case_key(c.params()) in failed}

    def n_messages(self, cases: Iterable[Case]) -> dict[Case, int]:
        """The message count each case was calibrated to in its runs so far."""
        counts: dict[CaseKey, int] = {}
        for row in self.rows:
            if row.get("status") == "ok" and (row.get("n_messages") or "").isdigit():
                counts.setdefault(case_key(row), int(row["n_messages"]))
        return {c: counts[k] for c in cases if (k := case_key(c.params())) in counts}

    def offered_rates(self, cases: Iterable[Case]) -> dict[Case, float]:
        """The msgs/s each rate case offered in its runs so far (``Rate`` reuses it where the
        load is relative)."""
        rates: dict[CaseKey, float] = {}
        for row in self.rows:
            if row.get("status") == "ok" and row.get("offered_per_s"):
                with contextlib.suppress(ValueError):
                    rates.setdefault(case_key(row), float(row["offered_per_s"]))
        return {c: rates[k] for c in cases if (k := case_key(c.params())) in rates}

    def check_settings(self, settings: Any) -> None:
        """Refuse another machine or settings that differ from the run's (output aside)."""
        from ipcbench.results import metadata

        here = metadata.machine_id()
        if self.meta["machine_id"] != here:
            raise IpcbenchError(
                f"cannot resume {self.paths.csv}: it was recorded on machine "
                f"{self.meta['machine_id']}, this is {here}; resume it there or start a new run"
            )
        difference = config_difference(self.config, settings.config())
        if difference:
            raise IpcbenchError(
                f"cannot resume {self.paths.csv} with other settings: {difference}; "
                f"leave the flags out to use the run's own (stored in {self.paths.meta.name})"
            )

    def repair(self) -> list[str]:
        """Cut a partial last CSV line and an incomplete samples member; returns notes."""
        notes = list(self.notes)
        csv_path = self.paths.csv
        if csv_path.stat().st_size != self.csv_size:
            raise IpcbenchError(
                f"{csv_path} changed while resuming (is another ipcbench writing it?); retry"
            )
        if self.csv_keep < self.csv_size:
            os.truncate(csv_path, self.csv_keep)
            notes.append(
                f"removed an incomplete last line ({self.csv_size - self.csv_keep} bytes, cut "
                f"off when the run was interrupted) from {csv_path}"
            )
        if self.samples_keep is not None:
            samples = self.paths.samples
            if self.samples_keep == 0:
                samples.unlink()
            else:
                os.truncate(samples, self.samples_keep)
            notes.append(
                f"removed an incomplete last block from {samples}: the latencies of the case "
                "being written when the run was interrupted are lost"
            )
        self.csv_size = self.csv_keep
        self.samples_keep = None
        self.notes = []
        return notes


def load_resume(csv_path: str | os.PathLike[str]) -> ResumeState:
    """Check an interrupted run's files (read only) and return what is needed to go on."""
    path = Path(csv_path)
    if not path.name.endswith(".csv") or path.name.endswith(SAMPLES_SUFFIXES):
        raise IpcbenchError(f"--resume needs a run's .csv file, not {path}")
    paths = RunStore.for_csv(path)
    data = _read_bytes(path)
    meta = _read_meta(paths)
    keep = data.rfind(b"\n") + 1
    header, rows = _parse_rows(path, data[:keep].decode("utf-8"))
    _check_rows(path, header, rows, meta["run_id"])
    if paths.old_samples.exists():
        raise _fail(
            path,
            f"its samples are in {paths.old_samples.name}, the text format of older ipcbench "
            "versions, which this one does not append to; start a new run",
        )
    return ResumeState(
        paths=paths,
        meta=meta,
        rows=rows,
        done={(*case_key(r), r.get("repeat") or "") for r in rows},
        last_row_number=_last_row_number(rows),
        csv_size=len(data),
        csv_keep=keep,
        samples_keep=_samples_keep(paths.samples),
    )


def _fail(path: Path, reason: str) -> IpcbenchError:
    return IpcbenchError(f"cannot resume {path}: {reason}")


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _fail(path, "no such file; pass the .csv of an interrupted run") from None
    except OSError as exc:
        raise _fail(path, f"{exc.strerror or exc}; check the path and its permissions") from None
    if not data.strip():
        raise _fail(path, "the file is empty; start a new run")
    if b"\0" in data:
        raise _fail(path, "the file is binary, not a result CSV; pass a CSV from 'ipcbench run'")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(path, "the file is not UTF-8 text; pass a CSV from 'ipcbench run'") from None
    if b"\n" not in data:
        raise _fail(path, "no complete header line; not a CSV from 'ipcbench run'")
    return data


def _parse_rows(path: Path, text: str) -> tuple[list[str], list[dict[str, str]]]:
    try:
        return parse_rows(text)
    except CsvDamage as damage:
        if damage.kind == "header" and not damage.detail:
            raise _fail(path, "no schema_version column; pass a CSV from 'ipcbench run'") from None
        if damage.kind == "fields":
            raise _fail(
                path,
                f"line {damage.line} has {damage.n_fields} fields, expected {damage.expected}: "
                "the file is damaged; start a new run",
            ) from None
        raise _fail(path, f"line {damage.line} is not valid CSV ({damage.detail})") from None


def _check_rows(path: Path, header: list[str], rows: list[dict[str, str]], run_id: str) -> None:
    versions = {r["schema_version"] for r in rows}
    if versions - {str(SCHEMA_VERSION)}:
        found = ", ".join(sorted(versions - {str(SCHEMA_VERSION)}))
        raise _fail(
            path,
            f"its rows have schema_version {found}, this ipcbench appends version "
            f"{SCHEMA_VERSION}; start a new run",
        )
    if tuple(header) != COLUMNS:
        raise _fail(
            path,
            "its columns are not those this ipcbench writes "
            f"(schema {SCHEMA_VERSION}); start a new run",
        )
    others = {r["run_id"] for r in rows} - {run_id}
    if others:
        raise _fail(
            path,
            f"it holds rows of run {sorted(others)[0]}, not of run {run_id} (its meta file); "
            "keep one run per file",
        )


def _read_meta(paths: RunStore) -> dict[str, Any]:
    where = paths.meta
    if not where.exists():
        raise _fail(
            paths.csv,
            f"{where.name} is missing: the run's settings and identity are stored there; "
            "start a new run",
        )
    try:
        meta = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _fail(paths.csv, f"{where.name} is not valid JSON ({exc}); restore it") from None
    if not isinstance(meta, dict):
        raise _fail(paths.csv, f"{where.name} is not a JSON object; restore it")
    for key, kind in META_KEYS.items():
        value = meta.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise _fail(paths.csv, f"{where.name} has no valid {key!r}; restore it")
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise _fail(
            paths.csv,
            f"{where.name} has schema_version {meta.get('schema_version')!r}, this ipcbench "
            f"writes {SCHEMA_VERSION}; start a new run",
        )
    return meta


def _last_row_number(rows: list[dict[str, str]]) -> int:
    """The highest N of row ids ``<run_id>-N`` (new rows continue from it)."""
    numbers = [0]
    for row in rows:
        tail = row["row_id"].rpartition("-")[2]
        numbers.append(int(tail) if tail.isdigit() else 0)
    return max(max(numbers), len(rows))


def _samples_keep(samples: Path, chunk: int = 1 << 16) -> int | None:
    """Length of the complete gzip members at the start of the samples file; None when the
    whole file is complete (or absent), 0 when nothing in it is usable. Reads in chunks and
    discards what it decompresses."""
    try:
        fh = open(samples, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _fail(samples, f"{exc.strerror or exc}; check its permissions") from None
    good = offset = 0
    with fh:
        member = zlib.decompressobj(wbits=31)
        while data := fh.read(chunk):
            offset += len(data)
            while data:
                try:
                    member.decompress(data, 1 << 20)
                    while member.unconsumed_tail:
                        member.decompress(member.unconsumed_tail, 1 << 20)
                except zlib.error:
                    return good
                if not member.eof:
                    break  # the member goes on in the next chunk
                good = offset - len(member.unused_data)
                data = member.unused_data
                member = zlib.decompressobj(wbits=31)
    return None if good == offset and offset else good


def config_difference(stored: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    """'' when equal, else the first differing setting as '--flag: the run used X, now Y'."""
    now = json.loads(json.dumps(dict(now)))
    for key in sorted(set(stored) | set(now)):
        if key not in now:
            return f"setting {key!r} of the run is unknown to this ipcbench"
        if key not in stored:
            return f"setting {flag_of(key)} is new in this ipcbench (the run predates it)"
        if _comparable(stored[key]) != _comparable(now[key]):
            return f"{flag_of(key)}: the run used {_show(stored[key])}, now {_show(now[key])}"
    return ""


def _comparable(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(json.dumps(v) for v in value)
    return value


def _show(value: Any) -> str:
    if value is None:
        return "the default"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "the default"
    return str(value)


def flag_of(field_name: str) -> str:
    """The command-line flag of a Settings field (target_time_s -> --target-time)."""
    from ipcbench.options import BY_FIELD

    option = BY_FIELD.get(field_name)
    return option.flag if option else field_name


def resume_settings(state: ResumeState, options: Mapping[str, Any]) -> Any:
    """The run's stored settings with the options given now (flags, config file) laid over
    them, built once; ``Runner`` compares them with the stored ones once (``check_settings``),
    so a flag that disagrees with the run is refused there, naming it.

    Output options (``out``, ``quiet``) may differ; ``out`` is ignored (rows go to the CSV).
    A list given with the run's values in another order keeps the run's order (the seeded
    schedule follows it)."""
    from ipcbench.harness.settings import fields_of, validate

    now = fields_of({k: v for k, v in options.items() if k != "out"})  # a bad flag: its error
    stored = state.config
    values = {
        **stored,
        **{name: _in_run_order(value, stored.get(name)) for name, value in now.items()},
        "out_dir": str(state.paths.csv.parent),
    }
    try:
        return validate(values)
    except IpcbenchError as exc:
        whose = "stored settings" if set(now) <= {"quiet"} else "settings with the flags given"
        raise IpcbenchError(
            f"cannot resume {state.paths.csv}: its {whose} are not valid here ({exc})"
        ) from None


def _in_run_order(value: Any, stored: Any) -> Any:
    """A list value ordered as the run's (its values first, in its order; new ones after)."""
    if not isinstance(value, tuple) or not isinstance(stored, list):
        return value
    return (*(v for v in stored if v in value), *(v for v in value if v not in stored))
