"""Synthetic result rows for plot/report tests and the plot benchmark (no real processes).

A simple cost model gives plausible numbers: per-message time = fixed cost + size / bandwidth,
with lognormal noise between repeats. Rows follow ``results.COLUMNS``; ``write_run`` stores them
with the real ``ResultWriter`` (CSV + samples) and a meta JSON, so loaders see real files.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Sequence
from itertools import product
from pathlib import Path
from typing import Any

import pandas as pd

from ipcbench.results.schema import COLUMNS, FLOAT_COLUMNS, INT_COLUMNS, SCHEMA_VERSION
from ipcbench.results.store import ResultWriter, RunStore

MACHINE_ID = "test-cpu-2cpu-abcdef12"
CPU_MODEL = "Test CPU @ 3.0GHz"
META: dict[str, Any] = {
    "machine_id": MACHINE_ID,
    "timestamp_utc": "2026-11-28T12:00:00+00:00",
    "cpu_model": CPU_MODEL,
    "physical_cores": 1,
    "logical_cpus": 2,
    "python_version": "3.11.9",
    "python_implementation": "CPython",
    "os": "Linux",
    "kernel": "6.1.0",
    "arch": "x86_64",
    "start_methods_used": ["fork"],
    "versions": {"pandas": "3.0"},
    "warnings": ["load average 1.5 at start: results may be noisy"],
}

# transport -> (fixed cost us, bandwidth MB/s) for one message one way
COSTS: dict[str, tuple[float, float]] = {
    "pipe": (12.0, 900.0),
    "pipe_bytes": (8.0, 1500.0),
    "pipe_oneway": (11.0, 950.0),
    "queue": (25.0, 700.0),
    "simplequeue": (18.0, 750.0),
    "joinablequeue": (28.0, 680.0),
    "manager_queue": (60.0, 300.0),
    "memcpy": (0.1, 7000.0),
    "pickle": (0.8, 4000.0),
    "raw_pipe": (4.0, 2500.0),
    "raw_socketpair": (5.0, 2200.0),
    "manager_dict": (45.0, 400.0),
    "manager_list": (40.0, 420.0),
}
MESSAGE_TRANSPORTS = (
    "pipe",
    "pipe_bytes",
    "pipe_oneway",
    "queue",
    "simplequeue",
    "joinablequeue",
    "manager_queue",
    "memcpy",
    "pickle",
    "raw_pipe",
    "raw_socketpair",
)
PROXY_OPS: dict[str, tuple[str, ...]] = {
    "manager_dict": ("set", "get"),
    "manager_list": ("append", "get"),
}
SHARED_OPS: dict[str, tuple[str, ...]] = {
    "manager_dict": ("dict_distinct", "dict_contended"),
    "manager_list": ("list_append",),
    "manager_queue": ("queue_put",),
}
OPS: dict[str, dict[str, tuple[str, ...]]] = {"proxy_ops": PROXY_OPS, "shared_state": SHARED_OPS}
SIZES = (8, 64, 512, 4096, 65536, 1048576)
LATENCY_PATTERNS = ("pingpong", "proxy_ops", "shared_state")
BOUNDED_QUEUES = ("queue", "joinablequeue", "manager_queue")
MAXSIZES = (1, 10, 100, 0)  # 0 = unbounded
NUMERIC_COLUMNS = ("msgs_per_s", "mb_per_s", "elapsed_s", "maxsize", "blocked_s")


def _one_way_us(transport: str, size: int, procs: int = 2) -> float:
    fixed, bw = COSTS.get(transport, (30.0, 500.0))
    return fixed * (1 + 0.3 * max(procs - 2, 0)) + size / bw


def _row(
    case: dict[str, Any], repeat: int, rng: random.Random, row_id: str, noise_sd: float
) -> dict[str, Any]:
    noise = math.exp(rng.gauss(0, noise_sd)) if noise_sd else 1.0
    size = case["payload_bytes"]
    procs = case["producers"] + case["consumers"]
    per_msg_us = _one_way_us(case["transport"], size, procs) * noise
    if case.get("placement") == "split":
        per_msg_us *= 3.0
    if case["pattern"] == "backpressure" and case["maxsize"]:
        per_msg_us *= 1 + 4 / case["maxsize"]
    n = 2000
    row: dict[str, Any] = {col: None for col in COLUMNS}
    row.update(case)
    row.update(
        schema_version=SCHEMA_VERSION,
        run_id="run1",
        row_id=row_id,
        machine_id=MACHINE_ID,
        logical_cpus=2,
        repeat=repeat,
        status="ok",
        error="",
        n_messages=n,
        wire_bytes=size + 33,
        elapsed_s=n * per_msg_us / 1e6,
    )
    if case["pattern"] in LATENCY_PATTERNS:
        rtt = per_msg_us * (2 if case["pattern"] == "pingpong" else 1)
        clients = case["producers"] if case["pattern"] == "shared_state" else 1
        row.update(
            msgs_per_s=1e6 / rtt * min(clients, 2),
            lat_min_us=rtt * 0.8,
            lat_mean_us=rtt * 1.05,
            lat_p50_us=rtt,
            lat_p90_us=rtt * 1.2,
            lat_p99_us=rtt * 2.0,
            lat_p999_us=rtt * 4.0,
            lat_max_us=rtt * 10,
        )
    else:
        scale = case["consumers"] if case["pattern"] in ("fan", "taskqueue") else 1
        row.update(
            msgs_per_s=1e6 / per_msg_us * min(scale, 2), mb_per_s=size / per_msg_us * min(scale, 2)
        )
    if case["pattern"] == "backpressure":
        row["blocked_s"] = row["elapsed_s"] * (0.5 / case["maxsize"] if case["maxsize"] else 0.0)
    return row


def _applies(pattern: str, transport: str) -> bool:
    if pattern in OPS:
        return transport in OPS[pattern]
    if pattern == "backpressure":
        return transport in BOUNDED_QUEUES
    return transport not in PROXY_OPS  # manager_dict / manager_list only run proxy patterns


def _cases(
    transports: Sequence[str],
    sizes: Sequence[int],
    patterns: Sequence[str],
    placements: Sequence[str],
    start_methods: Sequence[str],
) -> Iterable[dict[str, Any]]:
    base = {"payload_kind": "bytes", "offered_load": ""}
    for pattern, transport in product(patterns, transports):
        if not _applies(pattern, transport):
            continue
        ops = OPS.get(pattern, {}).get(transport, ("",))
        maxsizes = MAXSIZES if pattern == "backpressure" else (None,)
        grid = product(ops, sizes, placements, start_methods, _process_grid(pattern), maxsizes)
        for op, size, placement, method, (prod, cons), maxsize in grid:
            yield {
                **base,
                "transport": transport,
                "pattern": pattern,
                "payload_bytes": size,
                "op": op,
                "placement": placement,
                "start_method": method,
                "producers": prod,
                "consumers": cons,
                "maxsize": maxsize,
            }


def _process_grid(pattern: str) -> Sequence[tuple[int, int]]:
    if pattern in ("fan", "taskqueue"):
        return ((1, 1), (1, 2), (2, 2), (4, 4))
    if pattern == "shared_state":
        return ((1, 1), (2, 1), (4, 1))
    return ((1, 1),)


def make_rows(
    transports: Sequence[str] = tuple(COSTS),
    sizes: Sequence[int] = SIZES,
    patterns: Sequence[str] = ("pingpong", "stream", "proxy_ops"),
    repeats: int = 5,
    placements: Sequence[str] = ("unpinned",),
    start_methods: Sequence[str] = ("fork",),
    seed: int = 1,
    noise_sd: float = 0.04,
) -> list[dict[str, Any]]:
    """One row per (case, repeat), with numbers from the cost model (noise_sd=0: exact)."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for case in _cases(transports, sizes, patterns, placements, start_methods):
        for repeat in range(repeats):
            rows.append(_row(case, repeat, rng, f"r{len(rows):06d}", noise_sd))
    return rows


def fail(
    rows: list[dict[str, Any]],
    transport: str,
    status: str = "timeout",
    error: str = "no reply within 60 s",
) -> list[dict[str, Any]]:
    """Mark every row of a transport as failed (measurements cleared)."""
    for row in rows:
        if row["transport"] == transport:
            row.update(
                status=status,
                error=error,
                msgs_per_s=None,
                mb_per_s=None,
                **{c: None for c in COLUMNS if c.startswith("lat_")},
            )
    return rows


def frame(rows: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> pd.DataFrame:
    """Rows as a DataFrame shaped like ``loader.load`` output: its dtypes (nullable Int64
    counts, float64 measures, str text with NaN for empty cells) and meta columns joined."""
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    integers = set(INT_COLUMNS)
    floats = {*FLOAT_COLUMNS, *NUMERIC_COLUMNS} - integers
    for col in df.columns:  # the loader's dtypes: Int64, float64, str
        if col in integers:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
        elif col in floats:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        else:
            df[col] = df[col].map(lambda v: None if pd.isna(v) or v == "" else str(v)).astype("str")
    info = META if meta is None else meta
    for key in ("cpu_model", "python_version", "timestamp_utc"):
        df[key] = info.get(key)
    df["start_methods_used"] = ",".join(info.get("start_methods_used", []))
    return df


def samples_for(rows: list[dict[str, Any]], n: int = 2000, seed: int = 2) -> dict[str, list[int]]:
    """Raw latencies (ns) per row id for latency rows: lognormal body, a heavy tail."""
    rng = random.Random(seed)
    out: dict[str, list[int]] = {}
    for row in rows:
        if row["pattern"] in LATENCY_PATTERNS and row["status"] == "ok":
            p50_ns = row["lat_p50_us"] * 1000
            out[row["row_id"]] = [
                int(p50_ns * math.exp(rng.gauss(0, 0.15)) * (8 if rng.random() < 0.002 else 1))
                for _ in range(n)
            ]
    return out


def write_run(
    folder: Path,
    rows: list[dict[str, Any]],
    *,
    stamp: str = "20261128T120000Z",
    meta: dict[str, Any] | None = None,
    samples: int = 500,
) -> Path:
    """Write a run (CSV, samples, meta JSON) into folder; return the CSV path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = RunStore.for_csv(folder / f"{stamp}.csv")
    info = META if meta is None else meta
    with ResultWriter(paths) as writer:
        raw = samples_for(rows, samples) if samples else {}
        writer.write_case([{k: v for k, v in r.items() if k in COLUMNS} for r in rows], raw)
    paths.meta.write_text(json.dumps(info), encoding="utf-8")
    return paths.csv
