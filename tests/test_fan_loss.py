"""Lost and doubled messages on fan and taskqueue, with real processes: an error naming the
message (producer, number, sequence number) within a bounded time, never a watchdog timeout;
a stopped or slow worker is not a loss."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import leftover_processes, run_with_fault

from ipcbench import transports
from ipcbench.measure.patterns import fan as fan_module
from ipcbench.measure.patterns.base import Placement
from ipcbench.measure.patterns.fan import Fan
from ipcbench.params import Case
from ipcbench.wire import fan_seq

WATCHDOG_S = 60  # --timeout of these runs: a verdict must come far sooner
PAIRS = ["pipe", "pipe_bytes", "pipe_oneway", "zmq_ipc"]  # fan over one channel per pair
# the fault hits number 1 of every producer (counted over the case, calibration included)
LOST = [f"producer {p} message 1 (seq {fan_seq(p, 1)})" for p in (0, 1)]


def _available(names: list[str]) -> str:
    return ",".join(n for n in names if transports.get(n).unavailable_reason() is None)


def _run(tmp_path: Path, fault: str, names: str, pattern: str, start_method: str) -> Any:
    started = time.monotonic()
    rows = run_with_fault(
        tmp_path,
        fault,
        transports=names,
        patterns=pattern,
        sizes="1K",
        producers="2",
        consumers="2",
        start_methods=start_method,
        timeout=WATCHDOG_S,
    )
    return rows, time.monotonic() - started


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_message_dropped_on_a_pipe_pair_fan_is_an_error_naming_it(
    tmp_path: Path, start_method: str
) -> None:
    """Was a watchdog timeout: the consumer waited for a count that never came."""
    names = _available(PAIRS)
    rows, elapsed_s = _run(tmp_path, "drop", names, "fan", start_method)
    assert sorted(r["transport"] for r in rows) == sorted(names.split(","))
    for row in rows:
        assert row["status"] == "error", row
        assert all(name in row["error"] for name in LOST), row["error"]
        assert "never arrived" in row["error"]
    # one case per transport, each ending at its first faulted batch
    assert elapsed_s < WATCHDOG_S / 2
    assert leftover_processes() == []


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_message_doubled_on_a_pipe_pair_fan_is_an_error_naming_it(
    tmp_path: Path, start_method: str
) -> None:
    names = _available(PAIRS)
    rows, elapsed_s = _run(tmp_path, "duplicate", names, "fan", start_method)
    assert len(rows) == len(names.split(","))
    for row in rows:
        assert row["status"] == "error", row
        assert "duplicated" in row["error"]
        assert any(name in row["error"] for name in LOST), row["error"]
    assert elapsed_s < WATCHDOG_S / 2
    assert leftover_processes() == []


@pytest.mark.parametrize(
    ("names", "pattern"), [("queue,simplequeue", "fan"), ("joinablequeue", "taskqueue")]
)
def test_message_dropped_on_a_shared_queue_is_named_by_producer_and_seq(
    tmp_path: Path, names: str, pattern: str
) -> None:
    rows, elapsed_s = _run(tmp_path, "drop", names, pattern, "fork")
    assert len(rows) == len(names.split(","))
    for row in rows:
        assert row["status"] == "error", row
        assert all(name in row["error"] for name in LOST), row["error"]
    assert elapsed_s < WATCHDOG_S / 2
    assert leftover_processes() == []


def _pair_session(transport: str) -> Fan:
    case = Case(transport, "fan", 1024, start_method="fork", maxsize=0, producers=2, consumers=2)
    ctx = multiprocessing.get_context("fork")
    return Fan(case, transports.get(transport)(), ctx, Placement(None, None))


# fan's STALL_S while a worker is stopped here (set before the children fork, so they have it
# too), and the wait is three of it: pipe pairs have no stall clock (an end marker names a
# loss), and a stall verdict, should one come, would have come by then. 2 s of STALL_S would
# make that wait 6 s per role.
PAIR_STALL_S = 0.5


@pytest.mark.parametrize("role", ["produce", "consume"])
def test_a_stopped_worker_on_a_pipe_pair_fan_is_not_a_loss(
    monkeypatch: pytest.MonkeyPatch, role: str
) -> None:
    """A stopped (SIGSTOP) producer or consumer: the batch waits (the watchdog's to judge),
    with no loss verdict however long it lasts; once it goes on, every message arrives."""
    monkeypatch.setattr(fan_module, "STALL_S", PAIR_STALL_S)
    session = _pair_session("pipe")
    session.start()
    try:
        assert session.run(4).n_messages == 4
        pid = next(p.pid for p in session.children.procs if p.name == f"ipcbench-{role}-0")
        outcome: list[Any] = []
        os.kill(pid, signal.SIGSTOP)
        try:
            runner = threading.Thread(target=lambda: outcome.append(_try(session, 2000)))
            runner.start()
            runner.join(3 * PAIR_STALL_S)  # a stall verdict would have come by now
            assert runner.is_alive() and not outcome, outcome
        finally:
            os.kill(pid, signal.SIGCONT)
        runner.join(WATCHDOG_S)
        assert outcome == [2000]
    finally:
        session.close()
    assert leftover_processes() == []


def _try(session: Fan, n: int) -> Any:
    try:
        return session.run(n).n_messages
    except Exception as exc:  # reported to the test's thread
        return exc
