"""The result row, declared once: its columns, units, the case key, the label and percentiles.

Every writer (runner, driver) and reader (store, loader, resume, stats, export, summary,
compare) takes the row's shape from here. A case is identified by its parameter columns
(``PARAM_COLUMNS``), never by a made-up name; ``case_key`` normalises a row's parameter cells
so a CSV row (strings: ``'64'``) and a typed row (``64``, ``64.0``, None, NaN) give the same key.

Schema history (bump SCHEMA_VERSION and add a line + an ``ADDED_IN`` entry when columns change):

* 1 -- first version (measurement core).
* 2 -- scaling patterns: parameter ``offered_load``; results ``blocked_s``, ``peak_depth``,
  ``retries``, ``join_latency_us``, ``offered_per_s``. Version-1 files are upgraded on read by
  adding the new columns empty (``store.add_columns_of``).
* 3 -- put/get calling styles: parameters ``call`` (block, timeout, nowait; '' where none
  applies) and ``call_timeout_s``. Version-2 files get them empty, except the ``nowait``
  pattern's rows, whose ``op`` (nowait, blocking) becomes the ``call`` (nowait, block)
  (``store.upgrade_to_3``). Results ``driver_peak_rss_mib`` (the case driver's peak RSS)
  and ``worker_peak_rss_mib`` (the largest peak RSS among its worker and helper processes;
  empty where workers are threads), from Linux ``/proc``; version-2 files get them empty.
* 4 -- CPython versions side by side: parameter ``python`` (the interpreter a case ran under
  with ``--pythons``: '3.12', '3.13t'; '' for the interpreter the run was launched with).
  Results ``python_version``, ``python_implementation``, ``python_build`` (release, debug,
  free-threaded), ``gil_enabled`` and ``start_method_default``: the facts of the interpreter
  that ran the case, from the case driver itself. Version-3 files get ``python`` empty and the
  facts from their run's metadata (the loader, ``loader.read_run``).

Standard library only, and cheap to import: the driver process imports this module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

SCHEMA_VERSION = 4

# Parameter columns: together they identify a case (never a made-up name).
PARAM_COLUMNS: tuple[str, ...] = (
    "transport",
    "pattern",
    "op",
    "payload_bytes",
    "payload_kind",
    "start_method",
    "python",
    "maxsize",
    "producers",
    "consumers",
    "placement",
    "offered_load",
    "call",
    "call_timeout_s",
)

LATENCY_COLUMNS: tuple[str, ...] = (
    "lat_min_us",
    "lat_mean_us",
    "lat_p50_us",
    "lat_p90_us",
    "lat_p99_us",
    "lat_p999_us",
    "lat_max_us",
)
# Latency column -> the percentile it holds (min, mean and max are not percentiles).
PERCENTILE_COLUMNS: dict[str, float] = {
    "lat_p50_us": 50.0,
    "lat_p90_us": 90.0,
    "lat_p99_us": 99.0,
    "lat_p999_us": 99.9,
}

# What the interpreter that ran a case was (ipcbench.results.interpreter.facts).
INTERPRETER_COLUMNS: tuple[str, ...] = (
    "python_version",
    "python_implementation",
    "python_build",
    "gil_enabled",
    "start_method_default",
)

COLUMNS: tuple[str, ...] = (
    "schema_version",
    "run_id",
    "row_id",
    "machine_id",
    "logical_cpus",
    *PARAM_COLUMNS,
    "repeat",
    "status",
    "error",
    "n_messages",
    "wire_bytes",
    "elapsed_s",
    "producer_elapsed_s",
    "msgs_per_s",
    "mb_per_s",
    *LATENCY_COLUMNS,
    "blocked_s",
    "peak_depth",
    "retries",
    "join_latency_us",
    "offered_per_s",
    "driver_peak_rss_mib",
    "worker_peak_rss_mib",
    *INTERPRETER_COLUMNS,
)

# How the loader types each numeric column (the rest are strings).
INT_COLUMNS: tuple[str, ...] = (
    "schema_version",
    "logical_cpus",
    "payload_bytes",
    "maxsize",
    "producers",
    "consumers",
    "repeat",
    "n_messages",
    "wire_bytes",
    "peak_depth",
    "retries",
)
FLOAT_COLUMNS: tuple[str, ...] = (
    "call_timeout_s",
    "elapsed_s",
    "producer_elapsed_s",
    "msgs_per_s",
    "mb_per_s",
    *LATENCY_COLUMNS,
    "blocked_s",
    "join_latency_us",
    "offered_per_s",
    "driver_peak_rss_mib",
    "worker_peak_rss_mib",
)

# Units of the measured columns (a column not named here is a count, a name or an id).
UNITS: dict[str, str] = {
    "payload_bytes": "B",
    "call_timeout_s": "s",
    "wire_bytes": "B",
    "elapsed_s": "s",
    "producer_elapsed_s": "s",
    "blocked_s": "s",
    "msgs_per_s": "1/s",
    "offered_per_s": "1/s",
    "mb_per_s": "MB/s",
    "join_latency_us": "us",
    "driver_peak_rss_mib": "MiB",
    "worker_peak_rss_mib": "MiB",
    **dict.fromkeys(LATENCY_COLUMNS, "us"),
}

# Columns added in each schema version (used to upgrade older files on read).
ADDED_IN: dict[int, tuple[str, ...]] = {
    2: ("offered_load", "blocked_s", "peak_depth", "retries", "join_latency_us", "offered_per_s"),
    3: ("call", "call_timeout_s", "driver_peak_rss_mib", "worker_peak_rss_mib"),
    4: ("python", *INTERPRETER_COLUMNS),
}

STATUSES: tuple[str, ...] = ("ok", "error", "timeout", "crash", "skipped")

SAMPLES_COLUMNS: tuple[str, ...] = ("row_id", "lat_ns")

CaseKey = tuple[str, ...]


# --- cells (rows may hold str from a CSV or typed values) -------------------------------------


def is_na(value: Any) -> bool:
    """True for None, blank strings, NaN and pandas NA (anything that means 'no value')."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return type(value).__name__ == "NAType"


def to_float(value: Any) -> float | None:
    """A CSV cell or number as float; None for empty, NA or NaN."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def key_cell(value: Any) -> str:
    """One parameter cell as key text: '' when missing, whole numbers without '.0'."""
    if is_na(value):
        return ""
    number = to_float(value)
    if number is not None and number.is_integer() and not isinstance(value, bool):
        return str(int(number))
    return str(value).strip()


def case_key(row: Mapping[str, Any]) -> CaseKey:
    """The case identity of a row (or of ``Case.params()``): its parameter cells normalised
    with ``key_cell``, so '64', 64 and 64.0 agree and None, '' and NaN agree."""
    return tuple(key_cell(row.get(col)) for col in PARAM_COLUMNS)


def typed_params(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row's parameters typed: int (or None when missing) for the integer ones
    (``INT_COLUMNS``), str (or '') for the others."""
    typed: dict[str, Any] = {}
    for col in PARAM_COLUMNS:
        text = key_cell(row.get(col))
        typed[col] = (int(float(text)) if text else None) if col in INT_COLUMNS else text
    return typed


# --- the label --------------------------------------------------------------------------------


def human_size(n_bytes: int) -> str:
    """64 -> '64 B', 4096 -> '4 KiB', 1048576 -> '1 MiB'."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n_bytes >= factor and n_bytes % factor == 0:
            return f"{n_bytes // factor} {unit}"
    return f"{n_bytes} B"


def case_label(params: Mapping[str, Any]) -> str:
    """A case's short label from its parameters (a row or ``Case.params()``), e.g.
    ``pipe pingpong 64 B bytes fork unpinned``, the interpreter where one was chosen
    (``fork py3.12 unpinned``, ``--pythons``), then ``maxsize=N``, ``PxC`` when more than one
    process on a side, ``load=L`` when an offered load is set, the calling style when it is not
    plain blocking (``timeout=0.01s``, ``nowait``)."""
    p = typed_params(params)
    producers, consumers = p["producers"] or 1, p["consumers"] or 1
    size = p["payload_bytes"]
    parts = [
        p["transport"],
        f"{p['pattern']}/{p['op']}" if p["op"] else p["pattern"],
        "-" if size is None else human_size(size),
        p["payload_kind"],
        p["start_method"],
        f"py{p['python']}" if p["python"] else "",
        p["placement"],
        f"maxsize={p['maxsize']}" if p["maxsize"] is not None else "",
        f"{producers}x{consumers}" if producers * consumers > 1 else "",
        f"load={p['offered_load']}" if p["offered_load"] else "",
        call_label(p["call"], p["call_timeout_s"]),
    ]
    return " ".join(part for part in parts if part)


def call_label(call: str, timeout_s: Any) -> str:
    """'timeout=0.01s' or 'nowait'; '' for plain blocking calls and where no style applies."""
    if call == "timeout":
        return f"timeout={key_cell(timeout_s)}s"
    return "" if call in ("", "block") else call


# --- percentiles (one definition for the driver's columns and for stats) ----------------------

MIN_TAIL_SAMPLES = 10  # samples expected beyond a percentile before it is reported


def min_samples_for_percentile(q: float, min_tail: int = MIN_TAIL_SAMPLES) -> int:
    """Fewest samples that support percentile ``q`` in [0, 100]: ``min_tail / (1 - q/100)``
    rounded up for q > 50 (p90: 100, p99: 1000, p99.9: 10000), 1 for the median and below.
    p100 (the maximum) is never supported when ``min_tail`` > 0: ValueError."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be in [0, 100], got {q}")
    if q <= 50 or min_tail <= 0:
        return 1
    if q == 100:
        raise ValueError("no sample count supports p100 as an estimate (it is the maximum)")
    return max(1, math.ceil(round(min_tail * 100 / (100 - q), 6)))  # round: 99.9 is inexact


def percentile_supported(n_samples: int, q: float, min_tail: int = MIN_TAIL_SAMPLES) -> bool:
    """True when ``n_samples`` are enough to report percentile ``q``: at least ``min_tail``
    samples expected beyond it (see ``min_samples_for_percentile``); never for no samples."""
    if n_samples < 1 or (q == 100 and min_tail > 0):
        return False
    return n_samples >= min_samples_for_percentile(q, min_tail)


def percentile_sorted(ordered: Sequence[float], q: float) -> float:
    """Percentile ``q`` in [0, 100] of already sorted values: linear interpolation between
    closest ranks (Hyndman & Fan type 7, numpy's default ``method="linear"``)."""
    if not ordered:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be in [0, 100], got {q}")
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


# --- the driver's messages to the runner (one measured repeat) --------------------------------


class RowMessage(NamedTuple):
    """One measured repeat: its result columns (``COLUMNS`` minus what the runner adds: ids,
    machine, parameters, status) and its raw latency samples (int64 ns as bytes, b'' if none)."""

    fields: dict[str, Any]
    samples: bytes


class EndMessage(NamedTuple):
    """The case is over: its status (``STATUSES``) and error text ('' when ok)."""

    status: str
    error: str


class TrackerMessage(NamedTuple):
    """A driver under another interpreter (``--pythons``) started its own resource tracker
    before leaving the runner's process group: the runner reaps it once it has cleaned up."""

    pid: int
