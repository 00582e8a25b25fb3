"""fan: P producers x C consumers; taskqueue: the JoinableQueue task pipeline.

Queue-like transports are shared by everyone (one queue); pipe transports get one channel per
producer-consumer pair (producer p sends its i-th message to consumer i % C). Messages carry
``producer << 32 | number``; each consumer checks per-producer order and marks what it got, and
the driver proves from all marks that every message arrived exactly once; a lost or doubled
message is named by producer, number and sequence number.

Throughput is counted where messages arrive: from the first producer's start to the last
message verified by any consumer. With a shared queue, the driver ends each batch with one
sentinel per consumer after the producers are done (the sentinels are not timed).

Loss on a shared queue: the producers report how many messages they handed to the queue, and
the consumers stop once they have that many. If the count stops growing for ``STALL_S`` (all
producers done, so nothing more can come), the consumers are ended anyway and the exactly-once
check reports what was lost -- an error, not a hang until the watchdog.

Loss on pipe pairs: each producer, after its timed batch, sends an end marker on every pair.
A consumer stops at its expected count or once every one of its pairs has sent its marker;
pipes keep order, so a marker that comes early means that pair lost a message, and the
exactly-once check names it as soon as the producers are done (no stall to wait out). A
marker that never comes (a producer stopped or hung) leaves the case to the watchdog.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import psutil

from ipcbench.errors import DeliveryError
from ipcbench.measure.patterns.base import Measurement, Session
from ipcbench.measure.verify import check_exactly_once
from ipcbench.transports.base import Channel

# No progress for this long after the producers are done: a shortfall is a loss. 2 s, not 1:
# a consumer merely descheduled on a busy machine must not be mistaken for a loss.
STALL_S = 2.0
STOPPED = (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)
JOIN_POLL_S = 0.01  # taskqueue: how often the driver looks at the queue while join() waits
JOIN_START_S = 1.0  # taskqueue: at most this long for the join() waiter thread to start


class Fan(Session):
    duplex = False
    keeps_sample = False  # the consumers (children) keep their own
    join_stalled = False  # taskqueue: join() gave up (the end rounds need not wait again)

    def start(self) -> None:
        case, transport = self.case, self.transport
        if transport.fan_mode == "shared":
            self.channel = transport.open(self.ctx, self.spec, duplex=False)
            self.pin_helpers(self.channel.helper_pids)
            consumer_eps: list[Any] = [self.channel.parent] * case.consumers
            producer_eps: list[Any] = [[self.channel.child]] * case.producers
        else:
            pairs = [
                [transport.open(self.ctx, self.spec, duplex=False) for _ in range(case.consumers)]
                for _ in range(case.producers)
            ]
            self.pairs: list[Channel] = [ch for row in pairs for ch in row]
            consumer_eps = [[row[c].parent for row in pairs] for c in range(case.consumers)]
            producer_eps = [[ch.child for ch in row] for row in pairs]
        self.consumer_controls = [
            self.start_child("consume", ep, index=c) for c, ep in enumerate(consumer_eps)
        ]
        self.producer_controls = [
            self.start_child("produce", eps, index=p) for p, eps in enumerate(producer_eps)
        ]
        for ch in getattr(self, "pairs", []):  # the children hold their copies now
            ch.parent.close()
            ch.child.close()
        self.children.watch()

    def expected(self, consumer: int, n_per: int) -> int | None:
        """Messages consumer c receives in a batch (None: it reads until its sentinel)."""
        if self.transport.fan_mode == "shared":
            return None
        return self.case.producers * len(range(consumer, n_per, self.case.consumers))

    def run(self, n: int) -> Measurement:
        producers, pairs = self.case.producers, self.transport.fan_mode != "shared"
        n_per = max(1, math.ceil(n / producers))
        first = self.take_seqs(n_per)
        for c, control in enumerate(self.consumer_controls):
            control.send(("run", n_per, first, producers, self.expected(c, n_per)))
        self.before_producers()
        for control in self.producer_controls:
            control.send(("run", n_per, first, {"fan": True, "end_marker": pairs}))
        produced = self.gather(self.producer_controls)
        end_extra = self.after_producers()
        if self.transport.fan_mode == "shared":
            sent = sum(p[3]["sent"] for p in produced)
            self.end_rounds(sent, stall_s=0.0 if self.join_stalled else STALL_S)
        consumed = self.gather(self.consumer_controls)
        check_exactly_once([c[3] for c in consumed], producers, n_per, first)
        start_ns = min(p[1] for p in produced)
        last_ns = max(c[1] for c in consumed)
        self.last_done_ns = max(c[4] for c in consumed)
        return self.measurement(producers * n_per, start_ns, last_ns, produced, end_extra)

    def a_child_is_stopped(self) -> bool:
        """Whether a worker is stopped (SIGSTOP, a debugger): messages its feeder thread has
        not flushed yet are then late, not lost, and the case is left to the watchdog."""
        for proc in self.children.procs:
            try:
                if psutil.Process(proc.pid).status() in STOPPED:
                    return True
            except (psutil.Error, ValueError):
                continue
        return False

    def end_rounds(self, sent: int, stall_s: float = STALL_S) -> None:
        """Stop the consumers of a shared queue with one sentinel each, in rounds.

        ``Queue.put`` returns before a feeder thread has written the item, so a sentinel put
        now can overtake a producer's last messages. Each consumer pauses on its sentinel
        and reports its count; until the counts add up to ``sent`` (what the producers handed
        to the queue), every consumer goes on ("more") and a new round of sentinels follows.
        Rounds are untimed. When the count has not grown for ``stall_s``, the rest is lost:
        every consumer gets "end" (never "more" without a sentinel to follow), and the
        exactly-once check names the missing messages."""
        delay_s = 0.0005
        best, progress_at = -1, time.monotonic()
        while True:
            for _ in self.consumer_controls:
                self.channel.child.send(None)  # type: ignore[union-attr]
            received = sum(reply[1] for reply in self.gather(self.consumer_controls))
            now = time.monotonic()
            if received > best or self.a_child_is_stopped():  # untimed: rounds follow the batch
                best, progress_at = received, now  # a stopped child hangs: the watchdog's
            if received >= sent or now - progress_at >= stall_s:
                break
            for control in self.consumer_controls:
                control.send(("more",))
            time.sleep(delay_s)
            delay_s = min(0.05, delay_s * 2)
        for control in self.consumer_controls:
            control.send(("end",))

    def before_producers(self) -> None:
        """Hook before the producers start (taskqueue starts its join() waiter here)."""

    def after_producers(self) -> int | None:
        """Hook between the producers' end and the sentinels (taskqueue joins here)."""
        return None

    def measurement(
        self, n: int, start_ns: int, last_ns: int, produced: list[Any], end_extra: int | None
    ) -> Measurement:
        return Measurement(
            n_messages=n,
            elapsed_ns=last_ns - start_ns,
            producer_elapsed_ns=max(p[2] for p in produced) - start_ns,
        )

    def close(self, graceful: bool = True) -> None:
        super().close(graceful)
        for ch in getattr(self, "pairs", []):
            ch.close()


class TaskQueue(Fan):
    """JoinableQueue: producers put tasks, daemon consumers get + task_done(), the driver
    waits on ``q.join()``. Throughput runs to join()'s return.

    ``join_latency_us`` is the join handshake alone: from the last ``task_done()`` to join()
    returning, with join() already waiting. Before the producers start, the driver holds one
    unfinished task of its own (a "gate": counted like a put, with no item behind it) and a
    thread enters ``q.join()``, which cannot return while the gate is held. Once every
    producer has replied (every task counted), the driver releases the gate with its own
    ``task_done()``. The last task_done() is the later of the gate's and the consumers' last.
    """

    gate_ns = 0  # the clock just before the driver released its gate

    def before_producers(self) -> None:
        q = self.channel.child.out_q  # type: ignore[union-attr]
        self.returned_ns: list[int] = []
        waiting = threading.Event()

        def join() -> None:
            waiting.set()
            q.join()
            self.returned_ns.append(self.clock())

        _hold_gate(q)
        self.joiner = threading.Thread(target=join, name="ipcbench-join", daemon=True)
        self.joiner.start()
        waiting.wait(JOIN_START_S)

    def after_producers(self) -> int | None:
        """The clock when ``q.join()`` returned, or None if it stalled (tasks lost).

        join() has no timeout, so a thread waits on it and stamps its return; meanwhile the
        driver watches ``qsize()`` (tasks put but not yet taken). The producers are done, so
        if join() has not returned and the backlog has not changed for ``STALL_S``, the
        consumers are idle and tasks were lost: join() is released with ``task_done()`` calls
        and the end rounds and the exactly-once check report the loss."""
        q, joiner = self.channel.child.out_q, self.joiner  # type: ignore[union-attr]
        self.gate_ns = self.clock()
        q.task_done()  # the gate: join() may return from now on
        backlog, changed_at = _backlog(q), time.monotonic()
        while True:
            joiner.join(JOIN_POLL_S)
            if self.returned_ns:
                return self.returned_ns[0]
            now = time.monotonic()
            current = _backlog(q)
            if current != backlog or current is None:
                backlog, changed_at = current, now  # progress, or no way to tell (macOS)
            elif now - changed_at >= STALL_S:
                if self.a_child_is_stopped():  # looked at only here: join() is timed
                    changed_at = now
                    continue
                _release_join(q, joiner)
                self.join_stalled = True
                return None

    def measurement(
        self, n: int, start_ns: int, last_ns: int, produced: list[Any], end_extra: int | None
    ) -> Measurement:
        if end_extra is None:
            raise DeliveryError(
                f"lost: join() did not return {STALL_S} s after the producers finished, though "
                "every task sent arrived and the consumers were idle"
            )
        last_task_done_ns = max(self.last_done_ns or last_ns, self.gate_ns)
        return Measurement(
            n_messages=n,
            elapsed_ns=end_extra - start_ns,
            producer_elapsed_ns=max(p[2] for p in produced) - start_ns,
            extra={"join_latency_us": (end_extra - last_task_done_ns) / 1e3},
        )


def _hold_gate(q: Any) -> None:
    """Count one unfinished task with no item behind it, as ``JoinableQueue.put`` counts one
    (under the queue's condition); released with ``q.task_done()``."""
    with q._cond:
        q._unfinished_tasks.release()


def _backlog(q: Any) -> int | None:
    """Tasks put but not yet taken (None where qsize() is not implemented, on macOS)."""
    try:
        backlog: int = q.qsize()
    except NotImplementedError:
        return None
    return backlog


def _release_join(q: Any, joiner: threading.Thread) -> None:
    """Complete the lost tasks so the thread blocked in join() returns and ends."""
    while joiner.is_alive():
        try:
            q.task_done()
        except ValueError:  # no unfinished task left: join() is returning
            joiner.join(JOIN_POLL_S)
            return
        joiner.join(JOIN_POLL_S)
