"""Every transport x pattern with real processes, under fork and spawn."""

from __future__ import annotations

from typing import Any

import pytest

from ipcbench import transports
from ipcbench.results.schema import PERCENTILE_COLUMNS

CORE = ("pingpong", "stream", "proxy_ops")


def _with_processes(cls: type[transports.Transport]) -> bool:
    """Its workers are processes (a start method applies): not a floor or a thread baseline."""
    return not (cls.in_process or cls.in_threads)


def _expected_cases(spawned_only: bool = False) -> int:
    total = 0
    for cls in transports.all_transports():
        if spawned_only and not _with_processes(cls):
            continue
        for pattern in cls.patterns:
            if pattern in CORE:
                total += len(cls.ops.get(pattern, ("",)))
    return total


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_every_transport_and_pattern(run_sweep: Any, start_method: str) -> None:
    # under spawn only what a start method changes: floors and thread baselines start no
    # process, so their fork run already covers them; and the ends pickled into the spawned
    # children and their start-up, which one size shows (the larger: more than a pipe holds),
    # while fork covers both sizes
    spawn = start_method == "spawn"
    names = [c.name for c in transports.all_transports() if not spawn or _with_processes(c)]
    sizes = "70K" if spawn else "64,70K"
    rows = run_sweep(
        sizes=sizes,
        start_methods=start_method,
        patterns=",".join(CORE),
        transports=",".join(names),
        repeats=1,
    )
    unavailable = {c.name for c in transports.all_transports() if c.unavailable_reason()}
    failed = [
        (r["transport"], r["pattern"], r["error"])
        for r in rows
        if r["status"] != "ok" and not (r["status"] == "skipped" and r["transport"] in unavailable)
    ]
    assert failed == []
    cases = {(r["transport"], r["pattern"], r["op"], r["payload_bytes"]) for r in rows}
    assert len(cases) == len(sizes.split(",")) * _expected_cases(spawned_only=spawn)
    for row in rows:
        if row["status"] == "skipped":
            continue
        assert row["n_messages"] >= 2 and row["elapsed_s"] > 0 and row["msgs_per_s"] > 0
        cls = transports.get(row["transport"])  # no start method: floors, thread baselines
        assert row["start_method"] == ("" if cls.in_process or cls.in_threads else start_method)
        if row["pattern"] in ("pingpong", "proxy_ops"):
            p99 = row["lat_p99_us"]  # None below 1000 samples (latency.percentile_supported)
            assert row["lat_min_us"] <= row["lat_p50_us"] <= row["lat_max_us"]
            assert p99 is None or row["lat_p50_us"] <= p99 <= row["lat_max_us"]
            assert set(PERCENTILE_COLUMNS) <= set(row)
        else:
            assert "lat_p50_us" not in row
            if row["transport"] not in ("memcpy", "pickle"):
                # the last send can return after the consumer took it (and a busy machine can
                # deschedule the producer there): allow slack, but not a different batch
                assert 0 < row["producer_elapsed_s"] < row["elapsed_s"] + 0.5


def test_object_payloads_and_maxsize(run_sweep: Any) -> None:
    rows = run_sweep(
        transports="pipe,queue,manager_queue,manager_dict,pickle",
        patterns="pingpong,stream,proxy_ops",
        sizes="4K",
        payload_kinds="object",
        maxsize="1,0",
        start_methods="forkserver",
        repeats=1,  # every case once (rounds are tested in test_rounds.py)
    )
    assert {r["status"] for r in rows} == {"ok"}
    assert {(r["transport"], r["maxsize"]) for r in rows if r["pattern"] == "stream"} == {
        ("pipe", None),
        ("queue", 1),
        ("queue", 0),
        ("manager_queue", 1),
        ("manager_queue", 0),
        ("pickle", None),
    }
    assert all(r["wire_bytes"] > 4096 * 0.8 for r in rows)


def test_placement_same_and_split(run_sweep: Any) -> None:
    rows = run_sweep(transports="pipe", patterns="pingpong", sizes="64", placements="same,split")
    by_placement = {r["placement"]: r for r in rows}
    assert by_placement["same"]["status"] == "ok"
    import os

    if len(os.sched_getaffinity(0)) >= 2:
        assert by_placement["split"]["status"] == "ok"
    else:
        assert by_placement["split"]["status"] == "skipped"


def test_large_payload_16mib(run_sweep: Any) -> None:
    rows = run_sweep(
        transports="pipe_bytes,queue,raw_pipe", patterns="stream", sizes="16M", repeats=1
    )
    assert [r["status"] for r in rows] == ["ok"] * 3
    assert all(r["mb_per_s"] > 1 for r in rows)
