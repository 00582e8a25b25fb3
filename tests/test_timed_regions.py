"""What the clock holds: only what a minimal user loop does (issue 12, "Timed regions").

Each test fails on the code before the fix: content checks ran inside the stream clock,
pingpong throughput came from the wall time around stamping and checks, close_join left the
puts (during which the feeder already flushed) out of its clock, taskqueue's join() was
called only after the producers replied, and put_nowait retried without releasing the GIL.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import threading
import time
from typing import Any

import pytest
from conftest import leftover_processes

import ipcbench.transports.queues as queues_module
from ipcbench import transports
from ipcbench.measure.patterns.base import Placement
from ipcbench.measure.patterns.lifecycle import Lifecycle
from ipcbench.measure.patterns.pingpong import PingPong
from ipcbench.measure.patterns.stream import Stream
from ipcbench.measure.patterns.taskqueue import TaskQueue
from ipcbench.measure.verify import Verifier
from ipcbench.params import Case
from ipcbench.transports.queues import QueueEnd

UNPINNED = Placement(None, None)


def _session(cls: Any, case: Case, clock: Any = time.perf_counter_ns) -> Any:
    transport = transports.get(case.transport)()
    ctx = multiprocessing.get_context(case.start_method or "fork")
    return cls(case, transport, ctx, UNPINNED, clock=clock)


class _Events:
    """A driver clock and content checks that log themselves, in order."""

    def __init__(self) -> None:
        self.log: list[str] = []

    def clock(self) -> int:
        self.log.append("clock")
        return time.perf_counter_ns()

    def spy(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("open_frame", "open_message"):
            original = getattr(Verifier, name)

            def spying(verifier: Any, msg: Any, _original: Any = original) -> Any:
                self.log.append("content")
                return _original(verifier, msg)

            monkeypatch.setattr(Verifier, name, spying)


@pytest.mark.parametrize(
    ("transport", "kind"),
    [("raw_pipe", "bytes"), ("pipe_bytes", "bytes"), ("pipe", "object"), ("memcpy", "bytes")],
)
def test_stream_checks_content_only_after_its_clock_stops(
    monkeypatch: pytest.MonkeyPatch, transport: str, kind: str
) -> None:
    """Before: check(recv()) ran the sequence, length and CRC checks per message inside the
    clock. Now no content check of a frame runs before the consumer's end stamp, yet the
    sampled frames and the last one are checked in full after it. Object messages are not
    kept (that slowed the allocator, see verify.py): a sampled one is compared on arrival,
    one message in a period at most, and the last one after the clock."""
    events = _Events()
    events.spy(monkeypatch)
    session = _session(Stream, Case(transport, "stream", 1024, kind, "fork"), events.clock)
    session.start()
    try:
        n = 3 * session.sample.min_period  # in-process floors keep fewer
        events.log.clear()
        session.run(n)
    finally:
        session.close()
    clocks = [i for i, e in enumerate(events.log) if e == "clock"]
    contents = [i for i, e in enumerate(events.log) if e == "content"]
    assert contents, "the content of a sample is checked"
    assert len(contents) >= 3 + 1  # the first of each period, and the last message
    timed = [i for i in contents if i < clocks[-1]]
    if kind == "object":
        assert len(timed) <= 3, "one compare per period inside the clock, no more"
        assert contents[-1] > clocks[-1], "the last message is checked after the clock"
    else:
        assert timed == [], "no content check of a frame inside the clock"
    assert leftover_processes() == []


@pytest.mark.parametrize("transport", ["raw_pipe", "pipe"])
def test_pingpong_throughput_is_the_sum_of_the_round_trips(transport: str) -> None:
    """Before: elapsed (msgs_per_s, mb_per_s) also held stamping, checks and sample storage
    (+15% on raw_pipe). Now it is exactly the sum of the round-trip samples."""
    session = _session(PingPong, Case(transport, "pingpong", 64, "bytes", "fork"))
    session.start()
    try:
        m = session.run(500)
    finally:
        session.close()
    assert m.samples_ns is not None and len(m.samples_ns) == 500
    assert m.elapsed_ns == sum(m.samples_ns)
    assert leftover_processes() == []


PUT_DELAY_S = 0.002


def test_close_join_clock_holds_the_puts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: only close() + join_thread() were timed while the feeder thread had been
    sending since the first put(). Every put here takes at least PUT_DELAY_S, so a clock
    that starts before the first put() reads at least n * PUT_DELAY_S."""
    queue_cls = multiprocessing.queues.Queue
    original = queue_cls.put

    def slow_put(self: Any, obj: Any, block: bool = True, timeout: float | None = None) -> None:
        time.sleep(PUT_DELAY_S)
        original(self, obj, block, timeout)

    monkeypatch.setattr(queue_cls, "put", slow_put)  # fork: the child inherits it
    case = Case("queue", "lifecycle", 1024, start_method="fork", maxsize=0, op="close_join")
    session = _session(Lifecycle, case)
    session.start()
    try:
        n = 40
        m = session.run(n)
    finally:
        session.close()
    assert m.n_messages == n and m.elapsed_ns >= n * PUT_DELAY_S * 1e9
    assert leftover_processes() == []


DRIVER_DELAY_S = 0.3


def test_taskqueue_join_latency_is_the_handshake_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: join() was called only once every producer had replied, so a driver slow to
    read the replies (here DRIVER_DELAY_S late, long after the consumers are done) showed
    up as join latency. Now join() waits from the start, and the latency runs from the last
    task_done() -- the driver's own gate release here -- to join() returning."""
    original = TaskQueue.after_producers

    def late(self: Any) -> Any:
        time.sleep(DRIVER_DELAY_S)
        return original(self)

    monkeypatch.setattr(TaskQueue, "after_producers", late)
    case = Case(
        "joinablequeue",
        "taskqueue",
        1024,
        start_method="fork",
        maxsize=0,
        producers=2,
        consumers=2,
    )
    session = _session(TaskQueue, case)
    session.start()
    try:
        session.run(4)
        m = session.run(50)
    finally:
        session.close()
    assert 0 < m.extra["join_latency_us"] < DRIVER_DELAY_S * 1e6 / 2
    assert m.elapsed_ns >= DRIVER_DELAY_S * 1e9  # throughput still runs to join()'s return
    assert leftover_processes() == []


def test_put_nowait_retries_release_the_gil(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: put_nowait was retried in a spin that never released the GIL, so the
    producer's own feeder thread could not send what was pending (maxsize=1: 166 msgs/s).
    Now every retry on a full multiprocessing queue yields with time.sleep(0)."""
    sleeps: list[float] = []
    real_sleep = time.sleep

    def spy(seconds: float) -> None:
        sleeps.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(queues_module.time, "sleep", spy)
    q = multiprocessing.get_context("fork").Queue(maxsize=1)
    end = QueueEnd(q, None, call="nowait")
    try:
        end.send("first")
        assert end.retries == 0
        reader = threading.Timer(0.05, q.get)  # makes room after some retries
        reader.start()
        end.send("second")
        reader.join()
        assert end.retries > 0 and sleeps and set(sleeps) == {0}
        assert q.get(timeout=5) == "second"
    finally:
        q.close()
        q.join_thread()
