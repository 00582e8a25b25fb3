"""Crafted result sets with known answers for the stats / loader / compare / command tests.

Figures are exact (no random noise): every case's repeats are ``figure * SPREAD[i]``, so medians
are known and a machine "2x slower" is exactly 2x slower. Runs are written with the real
``ResultWriter`` (CSV + samples) plus a meta JSON, so the loader reads real files.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ipcbench.results.schema import COLUMNS, SAMPLES_COLUMNS, SCHEMA_VERSION
from ipcbench.results.store import ResultWriter, RunStore, read_samples

# 7 repeats, +-3 % around the figure: CV ~2.2 %, median exactly the figure.
SPREAD: tuple[float, ...] = (0.97, 0.98, 0.99, 1.0, 1.01, 1.02, 1.03)
LATENCY_PATTERNS = ("pingpong", "proxy_ops")
# transport -> base figure: latency p50 [us] for pingpong, msgs/s for stream
BASE_LATENCY_US = {"raw_pipe": 10.0, "pipe": 20.0, "queue": 50.0}
BASE_MSGS_PER_S = {"raw_pipe": 200_000.0, "pipe": 100_000.0, "queue": 40_000.0}
SIZES = (64, 4096)


def default_meta(machine_id: str, run_id: str, **overrides: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "machine_id": machine_id,
        "timestamp_utc": "2026-11-28T12:00:00+00:00",
        "cpu_model": f"CPU of {machine_id}",
        "physical_cores": 1,
        "logical_cpus": 2,
        "cpu_freq_mhz": 2999.9,
        "governor": None,
        "os": "Linux",
        "kernel": "6.1.0",
        "python_version": "3.11.7",
        "python_implementation": "CPython",
        "start_method_default": "fork",
        "start_methods_used": ["fork", "spawn"],
        "versions": {"numpy": "2.4"},
        "git_commit": None,
        "loadavg": [0.1, 0.2, 0.3],
        "seed": 1234,
        "config": {"repeats": 7},
        "warnings": ["x: only 3 ok repeat(s)"],
    }
    meta.update(overrides)
    return meta


def params(
    transport: str = "pipe", pattern: str = "pingpong", payload_bytes: int = 64, **overrides: Any
) -> dict[str, Any]:
    """A case's parameter columns (op, maxsize empty: they do not apply to pipes)."""
    case: dict[str, Any] = {
        "transport": transport,
        "pattern": pattern,
        "op": "",
        "payload_bytes": payload_bytes,
        "payload_kind": "bytes",
        "start_method": "fork",
        "maxsize": None,
        "producers": 1,
        "consumers": 1,
        "placement": "unpinned",
    }
    case.update(overrides)
    return case


def case_rows(
    case: Mapping[str, Any],
    figure: float,
    *,
    machine_id: str = "m1",
    run_id: str = "run1",
    first_row: int = 0,
    spread: Sequence[float] = SPREAD,
    statuses: Sequence[str] | None = None,
    elapsed_s: float = 0.5,
) -> list[dict[str, Any]]:
    """One row per repeat; ``figure`` is lat_p50_us for latency patterns, else msgs_per_s."""
    rows = []
    for i, factor in enumerate(spread):
        status = statuses[i] if statuses else "ok"
        row: dict[str, Any] = dict.fromkeys(COLUMNS)
        row.update(case)
        row.update(
            schema_version=SCHEMA_VERSION,
            run_id=run_id,
            row_id=f"{run_id}-{first_row + i}",
            machine_id=machine_id,
            logical_cpus=2,
            repeat=i,
            status=status,
            error="" if status == "ok" else "boom",
            n_messages=1000,
            wire_bytes=int(case["payload_bytes"]) + 33,
            elapsed_s=elapsed_s,
        )
        if status == "ok":
            row.update(_figures(case["pattern"], figure * factor, elapsed_s))
        rows.append(row)
    return rows


def _figures(pattern: str, value: float, elapsed_s: float) -> dict[str, Any]:
    if pattern in LATENCY_PATTERNS:
        return {
            "lat_min_us": value * 0.5,
            "lat_mean_us": value * 1.1,
            "lat_p50_us": value,
            "lat_p90_us": value * 1.5,
            "lat_p99_us": value * 2,
            "lat_p999_us": value * 3,
            "lat_max_us": value * 4,
            "msgs_per_s": 1000 / elapsed_s,
            "mb_per_s": 0.1,
        }
    return {"msgs_per_s": value, "mb_per_s": value * 64 / 1e6}


def samples_for(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[int]]:
    """Per ok latency row: samples 1x,2x,...,10x its lat_p50_us in ns / 5.5 (mean = p50)."""
    out = {}
    for row in rows:
        if row["status"] == "ok" and row.get("lat_p50_us") is not None:
            p50_ns = row["lat_p50_us"] * 1000
            out[row["row_id"]] = [round(p50_ns * k / 5.5) for k in range(1, 11)]
    return out


def machine_rows(
    machine_id: str,
    run_id: str = "run1",
    *,
    factor: float = 1.0,
    transport_factors: Mapping[str, float] | None = None,
    patterns: Sequence[str] = ("pingpong", "stream"),
) -> list[list[dict[str, Any]]]:
    """Rows (grouped per case) of a machine ``factor`` times slower than the base figures, each
    transport further scaled by ``transport_factors``; latency x factor, throughput / factor."""
    cases = []
    row_no = 0
    for pattern in patterns:
        for transport in BASE_LATENCY_US:
            for size in SIZES:
                slow = factor * (transport_factors or {}).get(transport, 1.0)
                size_cost = 1 + size / 65536
                if pattern in LATENCY_PATTERNS:
                    figure = BASE_LATENCY_US[transport] * size_cost * slow
                else:
                    figure = BASE_MSGS_PER_S[transport] / size_cost / slow
                rows = case_rows(
                    params(transport, pattern, size),
                    figure,
                    machine_id=machine_id,
                    run_id=run_id,
                    first_row=row_no,
                )
                row_no += len(rows)
                cases.append(rows)
    return cases


def write_run(
    folder: Path,
    stamp: str,
    cases: Iterable[Sequence[Mapping[str, Any]]],
    meta: Mapping[str, Any] | None = None,
    *,
    with_samples: bool = True,
) -> Path:
    """Write one run (CSV, samples, meta JSON unless ``meta`` is None); returns the CSV path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = RunStore.for_csv(folder / f"{stamp}.csv")
    with ResultWriter(paths) as writer:
        for rows in cases:
            writer.write_case(rows, samples_for(rows) if with_samples else {})
    if meta is not None:
        paths.meta.write_text(json.dumps(meta), encoding="utf-8")
    return paths.csv


def to_old_text_samples(paths: RunStore) -> Path:
    """Turn a run's samples into the text file of runs written before the binary format (gzip,
    a ``row_id,lat_ns`` header, one line per sample) and remove the binary one."""
    lines = [",".join(SAMPLES_COLUMNS) + "\n"]
    lines += [f"{row_id},{value}\n" for row_id, value in read_samples(paths.samples)]
    with gzip.open(paths.old_samples, "wt", encoding="utf-8", compresslevel=1) as gz:
        gz.write("".join(lines))
    paths.samples.unlink()
    return paths.old_samples


def write_machine(
    root: Path,
    machine_id: str,
    stamp: str = "20261128T120000",
    *,
    factor: float = 1.0,
    transport_factors: Mapping[str, float] | None = None,
    **meta_overrides: Any,
) -> Path:
    """``results/<machine_id>/<stamp>.csv`` for a machine ``factor`` times slower than base."""
    run_id = f"{machine_id}-{stamp}"
    cases = machine_rows(machine_id, run_id, factor=factor, transport_factors=transport_factors)
    meta = default_meta(machine_id, run_id, **meta_overrides)
    return write_run(root / machine_id, stamp, cases, meta)


# --- crafted cases for the report's tested sentences (exact repeat values per transport) ------

# "At 8 B, pipe_bytes has the best round-trip latency ... 4.7x faster than manager_queue" while
# pipe_bytes vs pipe was p = 0.22 (5 repeats each): a tie, not a best.
TIE_8B_P022: dict[str, tuple[float, ...]] = {
    "pipe_bytes": (70.1, 72.3, 74.5, 79.0, 83.2),
    "pipe": (73.4, 76.0, 80.8, 85.1, 90.2),
    "manager_queue": (340.0, 345.0, 350.0, 355.0, 360.0),
}
# The recommendations table named simplequeue best at 128 B with "no (p = 0.42)".
TIE_128B_P042: dict[str, tuple[float, ...]] = {
    "simplequeue": (41.0, 42.0, 43.0, 47.0, 50.0),
    "pipe_bytes": (44.0, 45.0, 46.0, 48.0, 49.0),
}


def crafted_rows(
    values: Mapping[str, Sequence[float]],
    pattern: str = "pingpong",
    payload_bytes: int = 64,
    *,
    run_id: str = "crafted",
    **overrides: Any,
) -> list[dict[str, Any]]:
    """Rows whose repeats are exactly ``values[transport]`` (lat_p50_us for latency patterns,
    msgs_per_s otherwise); ``overrides`` set parameter columns (placement, op, ...)."""
    rows: list[dict[str, Any]] = []
    for transport, repeats in values.items():
        case = params(transport, pattern, payload_bytes, **overrides)
        rows += case_rows(case, 1.0, run_id=run_id, first_row=len(rows), spread=tuple(repeats))
    return rows


# What the report must say of base / slow_all (1.5x slower overall) / slow_queue (queue 1.3x
# slower), written with write_machine: exactly the injected differences.
MACHINE_DIFFERENCE_SENTENCES = [
    "slow_all is 1.50\u00d7 slower than base across every channel and the raw_pipe floor "
    "alike; relative to its own raw_pipe floor no channel differs.",
    "On slow_queue, queue is 1.30\u00d7 slower than on base relative to each machine's own "
    "raw_pipe floor (absolute: 1.30\u00d7 slower).",
    "On slow_queue, every other channel is the same as on base relative to its floor.",
    "The advice (winner or tie group per pattern and size) is the same on every machine.",
]
