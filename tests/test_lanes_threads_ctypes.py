"""The thread baselines (thread_queue, thread_simplequeue: worker roles in threads of the driver)
and sharedctypes (multiprocessing.Value / Array in shared_state), through the real runner:
rows verified, injected faults caught, nothing left behind."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import leftover_processes, run_with_fault, shm_entries

from ipcbench import transports
from ipcbench.errors import DeliveryError
from ipcbench.harness.settings import build_settings
from ipcbench.harness.sweep import expand
from ipcbench.measure.patterns.base import Placement
from ipcbench.measure.patterns.pingpong import PingPong
from ipcbench.measure.patterns.shared_state import SharedState
from ipcbench.params import Case
from ipcbench.results import metadata
from ipcbench.wire import fan_seq, make_payload

THREADS = "thread_queue,thread_simplequeue"
CTYPES_OPS = {"value_lock", "value_nolock", "array_lock", "array_nolock"}


def _failed(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (r["transport"], r["pattern"], r["op"], r["error"]) for r in rows if r["status"] != "ok"
    ]


def test_thread_baselines_run_every_pattern_without_a_start_method(run_sweep: Any) -> None:
    rows = run_sweep(
        transports=THREADS,
        patterns="pingpong,stream,fan",
        sizes="1K",
        payload_kinds="bytes,object",
        producers="2",
        consumers="2",
        start_methods="fork,spawn",  # ignored: threads have none
        repeats=1,
    )
    assert _failed(rows) == []
    cases = {(r["transport"], r["pattern"], r["payload_kind"]) for r in rows}
    assert len(cases) == 2 * 3 * 2 == len(rows)  # one case each, not one per start method
    for row in rows:
        assert row["start_method"] == ""
        assert row["n_messages"] >= 2 and row["msgs_per_s"] > 0
        if row["pattern"] == "fan":
            assert (row["producers"], row["consumers"]) == (2, 2)


def test_thread_sweep_keeps_split_placement() -> None:
    """Unlike the in-process floors, "split" is real for threads: each worker thread pins
    itself (Linux sets a thread's affinity alone)."""
    settings = build_settings(
        {"transports": "thread_queue", "patterns": "pingpong", "sizes": "64", "placements": "split"}
    )
    assert [(c.start_method, c.placement) for c in expand(settings)] == [("", "split")]


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs")
def test_worker_thread_is_pinned_on_its_own() -> None:
    cpus = sorted(os.sched_getaffinity(0))
    case = Case("thread_queue", "pingpong", 64, start_method="", maxsize=0, placement="split")
    ctx = multiprocessing.get_context()
    session = PingPong(case, transports.get("thread_queue")(), ctx, Placement(None, [cpus[1]]))
    session.start()
    try:
        assert session.run(20).n_messages == 20
        assert list(session.affinities().values()) == [[cpus[1]]]
        assert sorted(os.sched_getaffinity(0)) == cpus  # this thread, hence the process, unpinned
    finally:
        session.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("ipcbench-echo")]


@pytest.mark.parametrize(
    ("fault", "patterns", "reason"),
    [("drop", "stream,fan", "lost"), ("corrupt", "pingpong", "corrupted")],
)
def test_thread_delivery_faults_are_errors(
    tmp_path: Path, fault: str, patterns: str, reason: str
) -> None:
    rows = run_with_fault(
        tmp_path,
        fault,
        transports=THREADS,
        patterns=patterns,
        sizes="1K",
        producers="2",
        consumers="2",
        repeats=1,
    )
    cases = {(r["transport"], r["pattern"]) for r in rows}
    assert len(cases) == 2 * len(patterns.split(","))
    for row in rows:
        assert row["status"] == "error", row
        assert reason in row["error"]
        assert "msgs_per_s" not in row
    assert leftover_processes() == []


# --timeout of the hung thread case: threads in a forked driver reach the hang (message 1) in
# a few ms; test_startup gives its forked hangs 1 s too.
HUNG_THREAD_TIMEOUT_S = 1.0


def test_raising_worker_thread_is_an_error_hang_a_timeout_kill_a_crash(
    tmp_path: Path, own_semaphores: str
) -> None:
    """A thread's exception ends the thread, not the driver, and names it; a hung thread
    cannot be killed, so the watchdog ends the driver; a kill fault kills the driver itself."""
    raised = run_with_fault(
        tmp_path, "raise", transports="thread_queue", patterns="stream", sizes="64", repeats=1
    )
    assert [r["status"] for r in raised] == ["error"]
    assert "ipcbench-produce-0 (thread" in raised[0]["error"]
    assert "RuntimeError: injected fault at message 1" in raised[0]["error"]
    started = time.monotonic()
    hung = run_with_fault(
        tmp_path,
        "hang",
        transports="thread_simplequeue",
        patterns="fan",
        sizes="64",
        producers="2",
        consumers="2",
        timeout=HUNG_THREAD_TIMEOUT_S,
        repeats=1,
    )
    assert time.monotonic() - started < HUNG_THREAD_TIMEOUT_S + 8
    assert [r["status"] for r in hung] == ["timeout"]
    killed = run_with_fault(
        tmp_path, "kill", transports="thread_queue", patterns="pingpong", sizes="64", repeats=1
    )
    assert [r["status"] for r in killed] == ["crash"]
    assert "case driver died" in killed[0]["error"]
    assert leftover_processes() == []
    assert shm_entries(own_semaphores) == set()


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_sharedctypes_every_op_runs_and_verifies(run_sweep: Any, start_method: str) -> None:
    rows = run_sweep(
        transports="sharedctypes",
        patterns="shared_state",
        sizes="1K",
        producers="1,3" if start_method == "fork" else "1",
        start_methods=start_method,
        repeats=1,
    )
    assert _failed(rows) == []
    assert {r["op"] for r in rows} == CTYPES_OPS
    for row in rows:
        assert row["start_method"] == start_method and row["payload_kind"] == "bytes"
        assert row["n_messages"] >= 2 and row["msgs_per_s"] > 0 and row["lat_p50_us"] > 0
        if row["op"].startswith("value"):  # a counter: 8 bytes written, no payload moved
            assert row["wire_bytes"] == 8 and row["mb_per_s"] is None
        else:  # a slot: count, seq, length + the payload
            assert row["wire_bytes"] == 24 + 1024 and row["mb_per_s"] > 0


@pytest.mark.parametrize(("fault", "reason"), [("drop", "lost"), ("duplicate", "duplicated")])
def test_sharedctypes_lost_or_extra_updates_are_errors(
    tmp_path: Path, own_semaphores: str, fault: str, reason: str
) -> None:
    rows = run_with_fault(
        tmp_path,
        fault,
        transports="sharedctypes",
        patterns="shared_state",
        sizes="1K",
        producers="2",
        start_methods="fork",
        repeats=1,
    )
    assert {r["op"] for r in rows} == CTYPES_OPS
    for row in rows:
        assert row["status"] == "error", row
        assert reason in row["error"]
    assert leftover_processes() == []
    assert shm_entries(own_semaphores) == set()


def test_sharedctypes_corrupt_last_write_is_caught(tmp_path: Path) -> None:
    """Content faults show where content is kept: in an Array slot's last write. With 4
    writers the calibration's second batch (4 updates, one each) is message number 1, the one
    the fault hits, so it is every writer's last. Counters keep no content: still ok."""
    rows = run_with_fault(
        tmp_path,
        "corrupt",
        transports="sharedctypes",
        patterns="shared_state",
        sizes="1K",
        producers="4",
        repeats=1,
    )
    status = {r["op"]: (r["status"], r["error"]) for r in rows}
    for op in ("array_lock", "array_nolock"):
        assert status[op][0] == "error" and "corrupted" in status[op][1], status[op]
    assert status["value_lock"][0] == status["value_nolock"][0] == "ok"
    assert leftover_processes() == []


@pytest.mark.parametrize("op", sorted(CTYPES_OPS))
def test_sharedctypes_check_names_a_missing_update(op: str) -> None:
    """The read-back check on its own: one writer of three makes one update too few (as a
    racing unlocked ``+=`` would lose one), and the session names it."""
    k, n_per, first = 3, 5, 0
    case = Case("sharedctypes", "shared_state", 256, start_method="fork", op=op, producers=k)
    session = SharedState(
        case,
        transports.get("sharedctypes")(),
        multiprocessing.get_context("fork"),
        Placement(None, None),
    )
    session.channel = session.transport.open(session.ctx, session.spec, duplex=False)
    payload, _ = make_payload("bytes", 256)
    try:
        end: Any = session.channel.child
        for index in range(k):
            for number in range(first, first + n_per - (index == 1)):
                seq = fan_seq(index, number)
                end.update(op, index, seq, (seq, payload))
        with pytest.raises(DeliveryError, match="lost 1 of"):
            session._verify(k, n_per, first)
        for index in range(k):  # cleared: a whole batch now passes
            for number in range(first, first + n_per):
                seq = fan_seq(index, number)
                end.update(op, index, seq, (seq, payload))
        session._verify(k, n_per, first)
    finally:
        session.close()


def test_metadata_records_whether_the_gil_is_enabled() -> None:
    check = getattr(sys, "_is_gil_enabled", None)
    assert metadata.gil_enabled() is (bool(check()) if check else True)
    assert "gil_enabled" in metadata.collect()
