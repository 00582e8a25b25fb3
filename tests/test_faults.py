"""Delivery checks and the watchdog with real processes: injected faults end as the right status."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import leftover_processes, run_with_fault, shm_entries


@pytest.mark.parametrize(
    ("transport", "pattern", "fault", "reason"),
    [
        ("pipe", "stream", "drop", "lost"),
        ("queue", "stream", "drop", "lost"),
        ("raw_pipe", "stream", "drop", "lost"),
        ("simplequeue", "stream", "duplicate", "duplicated"),
        ("pipe", "pingpong", "truncate", "truncated"),
        ("pipe_bytes", "stream", "truncate", "truncated"),
        ("raw_socketpair", "pingpong", "corrupt", "corrupted"),
        ("manager_queue", "stream", "corrupt", "corrupted"),
        ("manager_dict", "proxy_ops", "drop", "lost"),
        ("manager_list", "proxy_ops", "truncate", "truncated"),
    ],
)
@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_injected_delivery_faults_are_errors(
    tmp_path: Path, transport: str, pattern: str, fault: str, reason: str, start_method: str
) -> None:
    rows = run_with_fault(
        tmp_path,
        fault,
        transports=transport,
        patterns=pattern,
        sizes="4K",
        start_methods=start_method,
    )
    assert rows, "no rows written"
    for case_rows in _by_case(rows).values():
        last = case_rows[-1]
        assert last["status"] == "error", last
        assert reason in last["error"]
        assert "msgs_per_s" not in last  # no figure from unverified delivery
    assert leftover_processes() == []


def _by_case(rows: list[dict]) -> dict:
    cases: dict = {}
    for row in rows:
        cases.setdefault((row["transport"], row["pattern"], row["op"]), []).append(row)
    return cases


# --timeout of the hanging cases, as test_fault_matrix's hang sample: a spawn Manager case
# reaches the hang (message 1) in about 0.4 s with both CPUs busy, well within it.
HANG_TIMEOUT_S = 1.5


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
@pytest.mark.parametrize("transport", ["pipe", "queue", "manager_queue"])
def test_hanging_child_times_out(
    tmp_path: Path, own_semaphores: str, transport: str, start_method: str
) -> None:
    started = time.monotonic()
    rows = run_with_fault(
        tmp_path,
        "hang",
        transports=transport,
        patterns="stream",
        sizes="64",
        timeout=HANG_TIMEOUT_S,
        start_methods=start_method,
    )
    assert time.monotonic() - started < HANG_TIMEOUT_S + 8
    assert [r["status"] for r in rows] == ["timeout"]
    assert leftover_processes() == []
    assert shm_entries(own_semaphores) == set()


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
@pytest.mark.parametrize(
    ("transport", "pattern"),
    [
        ("pipe", "pingpong"),
        ("queue", "stream"),
        ("joinablequeue", "pingpong"),
        ("manager_queue", "stream"),
        ("manager_list", "proxy_ops"),
        ("raw_pipe", "pingpong"),
    ],
)
def test_killed_child_is_a_crash(
    tmp_path: Path, own_semaphores: str, transport: str, pattern: str, start_method: str
) -> None:
    rows = run_with_fault(
        tmp_path,
        "kill",
        transports=transport,
        patterns=pattern,
        sizes="64",
        start_methods=start_method,
        timeout=20,
    )
    statuses = {r["status"] for r in rows}
    assert statuses == {"crash"}, rows
    assert all("killed by signal 9" in r["error"] for r in rows)
    assert leftover_processes() == []
    assert shm_entries(own_semaphores) == set()


def test_raising_producer_is_an_error_with_its_text(tmp_path: Path) -> None:
    rows = run_with_fault(tmp_path, "raise", transports="queue", patterns="stream", sizes="64")
    assert rows[-1]["status"] == "error"
    assert "RuntimeError: injected fault at message 1" in rows[-1]["error"]


def test_sweep_goes_on_after_a_failed_case(tmp_path: Path) -> None:
    rows = run_with_fault(tmp_path, "kill", transports="pipe,memcpy", patterns="stream", sizes="64")
    status = {r["transport"]: r["status"] for r in rows}
    assert status == {"pipe": "crash", "memcpy": "ok"}  # in-process floors have no child
