"""The many-process patterns with real processes: fan, taskqueue, shared_state, backpressure,
nowait, lifecycle, rate -- under fork and spawn, with delivery checks and clean shutdown."""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import leftover_processes, run_with_fault

from ipcbench import transports
from ipcbench.errors import DeliveryError
from ipcbench.harness.settings import build_settings
from ipcbench.harness.sweep import expand
from ipcbench.measure.patterns import fan as fan_module
from ipcbench.measure.patterns import taskqueue as taskqueue_module
from ipcbench.measure.patterns.base import Measurement, Placement
from ipcbench.measure.patterns.fan import STALL_S, Fan
from ipcbench.measure.patterns.lifecycle import CLOSE_JOIN_UNBOUNDED_ONLY, Lifecycle
from ipcbench.measure.patterns.pingpong import PingPong
from ipcbench.measure.patterns.rate import BURST_MIN_NS, burst_rate
from ipcbench.measure.patterns.shared_state import SharedState
from ipcbench.measure.patterns.taskqueue import TaskQueue
from ipcbench.params import Case
from ipcbench.wire import fan_seq

SCALING = "fan,taskqueue,shared_state,backpressure,nowait,lifecycle,rate"
# Under spawn, the seed's channels and the peers: the lanes (pipe_oob, shm_*, sharedctypes,
# thread baselines) have their own spawn tests; queue types call nowait there (block: fork).
SEED_CHANNELS = (
    "pipe,pipe_bytes,pipe_oneway,queue,simplequeue,joinablequeue,manager_queue,manager_dict,"
    "manager_list,faster_fifo,zmq_ipc"
)
# Fork sweeps the grid: 1 and 3 producers (one pipe pair per consumer, and several), bounded
# and unbounded queues. Spawn changes how every end reaches its children (pickled) and how
# they start, not the grid: one point of it, with several producers and consumers on every
# shared end and several pipe pairs per consumer, unbounded so that close_join runs too.
GRIDS = {
    "fork": {"producers": "1,3", "maxsize": "0,4"},
    "spawn": {"producers": "2", "maxsize": "0", "transports": SEED_CHANNELS, "calls": "nowait"},
}


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_every_scaling_pattern_runs_and_verifies(run_sweep: Any, start_method: str) -> None:
    grid = GRIDS[start_method]
    rows = run_sweep(
        patterns=SCALING,
        sizes="1K",
        consumers="2",
        rates="50%",
        start_methods=start_method,
        repeats=1,  # coverage: every case once (rounds are tested in test_rounds.py)
        **grid,
    )
    failed = [
        (r["transport"], r["pattern"], r["op"], r["error"]) for r in rows if r["status"] != "ok"
    ]
    assert failed == []
    patterns = {r["pattern"] for r in rows}
    assert patterns == set(SCALING.split(","))
    by = {
        (r["pattern"], r["transport"], r["op"], r["producers"], r["consumers"], r["maxsize"])
        for r in rows
    }
    producers = [int(p) for p in grid["producers"].split(",")]
    # fan: every queue type shared, every pipe type in pairs, with each number of producers
    for p in producers:
        for t in ("queue", "simplequeue", "joinablequeue", "manager_queue"):
            assert ("fan", t, "", p, 2, 0 if t != "simplequeue" else None) in by
        for t in ("pipe", "pipe_bytes", "pipe_oneway"):
            assert ("fan", t, "", p, 2, None) in by
    assert {(r["producers"], r["consumers"]) for r in rows if r["pattern"] == "shared_state"} == {
        (p, 0) for p in producers
    }
    for row in rows:
        assert row["n_messages"] >= 2 and row["msgs_per_s"] > 0
        if row["pattern"] == "taskqueue":
            assert row["join_latency_us"] >= 0
        if row["pattern"] == "backpressure":
            assert row["blocked_s"] >= 0 and row["peak_depth"] is not None
            if row["maxsize"] == 4:
                assert row["peak_depth"] <= 4
        if row["pattern"] == "nowait":
            assert row["call"] in ("block", "timeout", "nowait")
            assert (row.get("retries") is None) == (row["call"] == "block")
        if row["pattern"] == "rate":
            assert row["offered_per_s"] > 0 and row["lat_p50_us"] > 0
        if row["pattern"] == "shared_state":
            p99 = row["lat_p99_us"]  # empty when too few samples to estimate it
            assert row["lat_p50_us"] > 0 and (p99 is None or p99 >= row["lat_p50_us"])


def test_fan_up_to_8x8_completes(run_sweep: Any) -> None:
    rows = run_sweep(
        transports="queue,pipe",
        patterns="fan",
        sizes="64",
        producers="8",
        consumers="8",
        timeout=60,
        repeats=1,  # every case once (rounds are tested in test_rounds.py)
    )
    assert [r["status"] for r in rows] == ["ok"] * len(rows) and len(rows) == 2


@pytest.mark.parametrize(
    ("transport", "pattern", "fault", "reason"),
    [
        ("queue", "fan", "drop", "lost"),
        ("pipe", "fan", "duplicate", "duplicated"),
        ("simplequeue", "fan", "duplicate", "duplicated"),
        ("joinablequeue", "taskqueue", "drop", "lost"),
        ("manager_dict", "shared_state", "drop", "lost"),
        ("manager_list", "shared_state", "duplicate", "duplicated"),
        ("manager_queue", "shared_state", "truncate", "truncated"),
        ("queue", "backpressure", "corrupt", "corrupted"),
        ("manager_queue", "nowait", "drop", "lost"),
        ("pipe", "rate", "truncate", "truncated"),
    ],
)
def test_dropped_or_duplicated_messages_are_caught(
    tmp_path: Path, transport: str, pattern: str, fault: str, reason: str
) -> None:
    rows = run_with_fault(
        tmp_path,
        fault,
        transports=transport,
        patterns=pattern,
        sizes="1K",
        producers="2",
        consumers="2",
        rates="50%",
        timeout=30,
    )
    assert rows
    for row in rows:
        if row["pattern"] == "shared_state" and row["op"] == "dict_contended":
            continue  # only the last write survives: a lost earlier write is not visible
        assert row["status"] == "error", row
        assert reason in row["error"]
    assert leftover_processes() == []


def _fan_case(transport: str, cls: Any, **extra: Any) -> Case:
    """A 2 producers x 2 consumers case of 1 KiB messages under fork."""
    return Case(
        transport,
        cls.__name__.lower(),
        1024,
        start_method="fork",
        maxsize=0,
        producers=2,
        consumers=2,
        **extra,
    )


@pytest.mark.parametrize(("transport", "cls"), [("queue", Fan), ("joinablequeue", TaskQueue)])
def test_dropped_fan_message_is_reported_at_once(transport: str, cls: Any) -> None:
    """Producers report what they sent, so the consumers stop there and the exactly-once check
    names the dropped message -- no waiting out a stall, no hang until the watchdog."""
    session = _session(cls, _fan_case(transport, cls, fault="drop"), Placement(None, None))
    session.start()
    try:
        assert session.run(2).n_messages == 2  # numbers 0: the fault hits number 1
        started = time.monotonic()
        with pytest.raises(DeliveryError, match=r"lost: producer 0 message 1 \(seq 1\)"):
            session.run(8)
        assert time.monotonic() - started < STALL_S / 2
    finally:
        session.close()
    assert leftover_processes() == []


# The stall a batch that really lost a message waits out here, instead of STALL_S: a lost
# message stays lost however long one waits, and the wait still scales with the constant.
LOSS_STALL_S = 0.5


def _shorten_stall(monkeypatch: pytest.MonkeyPatch) -> float:
    """Set the stall (fan's STALL_S, read at every batch, and taskqueue's copy of it) to
    LOSS_STALL_S: after the healthy batches, which keep the full STALL_S (a feeder thread
    descheduled on a busy machine must not pass for a loss)."""
    monkeypatch.setattr(fan_module, "STALL_S", LOSS_STALL_S)
    monkeypatch.setattr(taskqueue_module, "STALL_S", LOSS_STALL_S)
    return LOSS_STALL_S


LOST_IN_FLIGHT = fan_seq(0, 1)  # producer 0's second message: put() returns, never delivered


def _queue_put_losing(original: Any, counts_task: bool) -> Any:
    """A put() that accepts message LOST_IN_FLIGHT and drops it: a loss inside the transport,
    which no producer-side count can see (a JoinableQueue still counts it as a task)."""

    def put(self: Any, obj: Any, block: bool = True, timeout: float | None = None) -> None:
        if isinstance(obj, tuple) and obj[0] == LOST_IN_FLIGHT:
            if counts_task:
                self._unfinished_tasks.release()
            return
        original(self, obj, block, timeout)

    return put


@pytest.mark.parametrize(
    ("transport", "cls", "queue_cls"),
    [
        ("queue", Fan, multiprocessing.queues.Queue),
        ("joinablequeue", TaskQueue, multiprocessing.queues.JoinableQueue),
    ],
)
def test_message_lost_in_flight_is_an_error_after_a_bounded_wait(
    monkeypatch: pytest.MonkeyPatch, transport: str, cls: Any, queue_cls: Any
) -> None:
    """A message the queue accepted but never delivered: the consumers stop once no message
    has come for STALL_S (and join() is given up), and the exactly-once check names it
    (STALL_S set shorter for the lossy batch, see _shorten_stall)."""
    counts_task = queue_cls is multiprocessing.queues.JoinableQueue
    monkeypatch.setattr(queue_cls, "put", _queue_put_losing(queue_cls.put, counts_task))
    # fork: the children inherit the patch
    session = _session(cls, _fan_case(transport, cls), Placement(None, None))
    session.start()
    try:
        assert session.run(2).n_messages == 2  # numbers 0: nothing lost yet
        stall_s = _shorten_stall(monkeypatch)
        started = time.monotonic()
        with pytest.raises(DeliveryError, match=r"lost: producer 0 message 1 \(seq 1\) never"):
            session.run(8)  # numbers 1..4
        assert time.monotonic() - started < 3 * stall_s + 2
    finally:
        session.close()
    assert not [t for t in threading.enumerate() if t.name == "ipcbench-join"]
    assert leftover_processes() == []


def test_fan_end_rounds_wait_while_messages_still_arrive() -> None:
    """A slow feeder is not a loss: rounds go on while the count grows, and a batch whose
    sentinels overtake data still completes with every message verified."""
    case = Case("queue", "fan", 64 * 1024, start_method="fork", maxsize=0, producers=3, consumers=2)
    session = _session(Fan, case, Placement(None, None))
    session.start()
    try:
        for n in (3, 300, 3000):
            assert session.run(n).n_messages == n
    finally:
        session.close()
    assert leftover_processes() == []


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_taskqueue_consumer_death_is_a_crash_not_a_hang(tmp_path: Path, start_method: str) -> None:
    rows = run_with_fault(
        tmp_path,
        "consumer_kill",
        transports="joinablequeue",
        patterns="taskqueue",
        sizes="1K",
        producers="2",
        consumers="2",
        start_methods=start_method,
        timeout=30,
    )
    assert [r["status"] for r in rows] == ["crash"]
    assert "ipcbench-consume" in rows[0]["error"] and "signal 9" in rows[0]["error"]
    assert leftover_processes() == []


def _session(cls: Any, case: Case, placement: Placement) -> Any:
    transport = transports.get(case.transport)()
    return cls(case, transport, multiprocessing.get_context(case.start_method), placement)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs")
@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_placement_is_applied_to_children_and_manager(start_method: str) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    split = Placement([cpus[0]], [cpus[1]])
    case = Case("pipe", "pingpong", 64, start_method=start_method, placement="split")
    session = _session(PingPong, case, split)
    session.start()
    try:
        session.run(10)
        assert list(session.affinities().values()) == [[cpus[1]]]
    finally:
        session.close()
    case = Case(
        "manager_dict",
        "shared_state",
        64,
        start_method=start_method,
        op="dict_distinct",
        producers=2,
        consumers=0,
        placement="split",
    )
    session = _session(SharedState, case, split)
    session.start()
    try:
        session.run(10)
        assert list(session.affinities().values()) == [[cpus[1]], [cpus[1]]]
        (manager_pid,) = session.channel.helper_pids
        assert os.sched_getaffinity(manager_pid) == {cpus[1]}
    finally:
        session.close()
    assert leftover_processes() == []


def test_logical_cpus_on_every_row(run_sweep: Any) -> None:
    rows = run_sweep(transports="queue", patterns="fan", sizes="64", producers="2", consumers="2")
    assert {r["logical_cpus"] for r in rows} == {os.cpu_count()}


def test_close_join_is_swept_on_unbounded_queues_only() -> None:
    """A bounded queue caps what is left to flush at close() at maxsize, so its flush time does
    not grow with N; the grid keeps close_join at maxsize 0 and the other ops at every size."""
    settings = build_settings(
        {
            "transports": "queue,joinablequeue",
            "patterns": "lifecycle",
            "sizes": "1K",
            "maxsize": "0,4",
        }
    )
    ops = {(c.transport, c.op, c.maxsize) for c in expand(settings)}
    for t in ("queue", "joinablequeue"):
        assert (t, "close_join", 0) in ops and (t, "close_join", 4) not in ops
        assert {(t, op, 4) for op in ("qsize", "empty", "full")} <= ops


def test_close_join_on_a_bounded_queue_is_refused_with_the_reason() -> None:
    case = Case("queue", "lifecycle", 1024, start_method="fork", maxsize=4, op="close_join")
    session = _session(Lifecycle, case, Placement(None, None))
    with pytest.raises(ValueError, match="unbounded queues"):
        session.start()
    session.close()
    assert leftover_processes() == []


def test_list_explains_why_close_join_needs_an_unbounded_queue(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ipcbench.cli import main

    assert main(["list"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert CLOSE_JOIN_UNBOUNDED_ONLY in text


def test_close_join_flushes_what_was_put_on_an_unbounded_queue() -> None:
    """The timed flush grows with N (what the calibration relies on)."""
    case = Case("queue", "lifecycle", 1024, start_method="fork", maxsize=0, op="close_join")
    session = _session(Lifecycle, case, Placement(None, None))
    session.start()
    try:
        small = min(session.run(4).elapsed_ns for _ in range(3))
        large = session.run(4096)
    finally:
        session.close()
    assert large.n_messages == 4096 and large.elapsed_ns > small
    assert leftover_processes() == []


def test_close_join_interrupted_kills_its_flushing_child_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch cut short (the watchdog's SIGTERM raises mid-drain) leaves the child blocked
    flushing into a queue nobody reads: waiting JOIN_TIMEOUT_S for it to stop let the runner
    SIGKILL the driver before it unlinked its semaphores (spawn/forkserver leaked them)."""
    import ipcbench.measure.patterns.lifecycle as lifecycle
    from ipcbench.measure.patterns.base import JOIN_TIMEOUT_S

    class Interrupted(Exception):
        pass

    def stop_after_one(recv: Any, batch: Any) -> Any:
        recv()
        raise Interrupted

    monkeypatch.setattr(lifecycle, "receive_messages", stop_after_one)
    case = Case("queue", "lifecycle", 1024, start_method="fork", maxsize=0, op="close_join")
    session = _session(Lifecycle, case, Placement(None, None))
    session.start()
    started = time.monotonic()
    try:
        with pytest.raises(Interrupted):
            session.run(4096)  # 4 MiB pending: far more than a pipe holds
        took_s = time.monotonic() - started
    finally:
        session.close(graceful=False)
    assert took_s < JOIN_TIMEOUT_S / 2
    assert leftover_processes() == []


def test_rate_producer_lets_the_queue_feeder_thread_send(run_sweep: Any) -> None:
    """A busy-waiting producer that never released the GIL starved multiprocessing.Queue's
    feeder thread: at 2 000 msgs/s (a few % of what it can carry) p50 latency was ~20 ms."""
    rows = run_sweep(
        transports="queue",
        patterns="rate",
        sizes="1K",
        rates="2000",
        repeats=1,
        warmups=1,
        target_time=0.1,
    )
    (row,) = rows
    assert row["status"] == "ok", row["error"]
    assert row["lat_p50_us"] < 5_000, row


@pytest.mark.parametrize("ns_per_message", [10_000.0, 1_000.0, 37.0])
def test_burst_rate_grows_then_measures_one_burst_of_the_set_length(ns_per_message: float) -> None:
    """Bursts grow x4 to >= 1/8 of the length, then one burst scaled to it is the maximum."""
    bursts: list[int] = []

    def run(n: int) -> Measurement:
        bursts.append(n)
        return Measurement(n_messages=n, elapsed_ns=int(n * ns_per_message))

    assert burst_rate(run) == pytest.approx(1e9 / ns_per_message, rel=1e-3)
    assert [b / bursts[0] for b in bursts[:-1]] == [4**i for i in range(len(bursts) - 1)]
    assert bursts[-1] * ns_per_message >= BURST_MIN_NS  # the measured burst lasts the length
    assert bursts[-1] * ns_per_message < 1.01 * BURST_MIN_NS
    assert sum(bursts[:-1]) * ns_per_message < BURST_MIN_NS  # growing costs less than that


def test_burst_rate_of_a_first_burst_already_long_enough() -> None:
    bursts: list[int] = []

    def run(n: int) -> Measurement:
        bursts.append(n)
        return Measurement(n_messages=n, elapsed_ns=n * 2_000_000)  # 2 ms per message

    assert burst_rate(run) == pytest.approx(500.0)
    assert bursts == [64]


def test_taskqueue_join_latency_is_measured_from_the_last_task_done(run_sweep: Any) -> None:
    """The consumer stamps the clock just before its last task_done(), so join() returning
    comes after it: a positive latency, never clipped to 0."""
    rows = run_sweep(
        transports="joinablequeue",
        patterns="taskqueue",
        sizes="1K",
        producers="1,2",
        consumers="1,2",
    )
    assert rows and all(r["status"] == "ok" for r in rows)
    assert all(0 < r["join_latency_us"] < 1e6 for r in rows), [r["join_latency_us"] for r in rows]


def test_a_stopped_worker_defers_the_loss_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages still in a stopped producer's feeder thread are late, not lost: while a child
    is stopped the stall clock does not run (the watchdog decides), and only afterwards does
    a real shortfall become an error."""
    queue_cls = multiprocessing.queues.Queue
    monkeypatch.setattr(queue_cls, "put", _queue_put_losing(queue_cls.put, False))
    stopped_until = [0.0]
    monkeypatch.setattr(Fan, "a_child_is_stopped", lambda self: time.monotonic() < stopped_until[0])
    session = _session(Fan, _fan_case("queue", Fan), Placement(None, None))
    session.start()
    try:
        assert session.run(2).n_messages == 2
        stall_s = _shorten_stall(monkeypatch)
        stopped_until[0] = time.monotonic() + 2 * stall_s
        started = time.monotonic()
        with pytest.raises(DeliveryError, match="lost"):
            session.run(8)
        assert time.monotonic() - started >= 2.5 * stall_s  # stopped for 2, then the stall
    finally:
        session.close()
    assert leftover_processes() == []


@pytest.mark.parametrize(
    ("cls", "case"),
    [
        (Fan, Case("pipe", "fan", 64, maxsize=None, producers=2, consumers=3)),
        (Fan, Case("queue", "fan", 64, maxsize=0, producers=3, consumers=2)),
        (SharedState, Case("sharedctypes", "shared_state", 64, op="value_locked", producers=3)),
    ],
)
def test_many_workers_are_all_launched_before_any_is_awaited(
    cls: Any, case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers boot in parallel: every fork happens before the first Ready is read (awaiting
    each before the next fork made a 4 x 4 fan's start about twice as long), and every one
    is still awaited, in launch order, before start() returns."""
    from ipcbench.measure.patterns.base import Children

    events: list[tuple[str, int]] = []
    launch, await_one = Children.launch, Children._await_ready

    def launching(self: Children, *args: Any) -> Any:
        control = launch(self, *args)
        events.append(("launch", self.procs[-1].pid))
        return control

    def awaiting(self: Children, proc: Any, *args: Any) -> None:
        await_one(self, proc, *args)
        events.append(("ready", proc.pid))

    monkeypatch.setattr(Children, "launch", launching)
    monkeypatch.setattr(Children, "_await_ready", awaiting)
    session = _session(cls, case, Placement(None, None))
    session.start()
    try:
        workers = case.producers + (case.consumers if cls is Fan else 0)
        kinds = [kind for kind, _ in events]
        assert kinds == ["launch"] * workers + ["ready"] * workers
        assert [pid for _, pid in events[:workers]] == [pid for _, pid in events[workers:]]
        session.run(12)  # and they serve
    finally:
        session.close()
    assert leftover_processes() == []
