"""fan: P producers x C consumers (taskqueue, in its own module, builds on it).

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
import time
from typing import Any, NamedTuple

import psutil

from ipcbench.measure.patterns.base import Measurement, Session
from ipcbench.measure.patterns.producer import Produced, Producer, SendOptions
from ipcbench.measure.patterns.stream import RETRYING_CALLS
from ipcbench.measure.verify import ContentSample, FanReceiver, PairEnded, check_exactly_once
from ipcbench.measure.workers import FAULT_SEQ, Role, kill_self
from ipcbench.transports.base import Channel
from ipcbench.wire import fan_seq

# No progress for this long after the producers are done: a shortfall is a loss. 2 s, not 1:
# a consumer merely descheduled on a busy machine must not be mistaken for a loss.
STALL_S = 2.0
STOPPED = (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)


class Consumed(NamedTuple):
    """A consumer's reply to one batch."""

    last_ns: int  # the clock at the last message it received
    received: int  # messages it received
    seen: bytes  # its marks of what arrived (see verify.FanReceiver)
    done_ns: int  # JoinableQueue: the clock just before its last task_done(), else 0
    retries: int = 0  # its endpoints' expired get timeouts / Empty retries in this batch


class Paused(NamedTuple):
    """A shared-queue consumer at a sentinel: what it has received so far."""

    received: int


class Consumer(Role):
    """The child that receives: ``run(n_per, first, producers, expect)``; replies
    ``Consumed`` (after ``Paused`` rounds on a shared queue)."""

    name = "consume"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        # a bounded sample of whole messages, checked after its clock; its slots are
        # allocated here (in the child, so shared with no one), once, outside every timed
        # region: a batch's start runs while its producers may already be sending
        self.sample = ContentSample(self.check, self.wire)
        self.sample.make_slots()

    def run(self, n_per: int, first: int, producers: int, expect: int | None) -> None:
        """Receive and verify messages of many producers (see verify.FanReceiver): from a
        shared queue (``expect`` None: until the driver ends the rounds) or from one pipe pair
        per producer (until ``expect`` have arrived, or every pair's end marker has)."""
        receiver = FanReceiver(self.check, self.wire, producers, n_per, first, self.sample)
        retries_before = sum(ep.retries for ep in self.eps)
        # consumer_kill: the consumer that takes message FAULT_SEQ of producer 0 (sent once per
        # case) kills itself -- not "every consumer's second message in a batch", which never
        # comes when small batches are spread one message per consumer.
        kill_seq = fan_seq(0, FAULT_SEQ) if self.fault == "consumer_kill" else -1
        if expect is None:
            t_last_ns = self._receive_shared(receiver, kill_seq)
        else:
            t_last_ns = self._receive_pairs(receiver, expect, kill_seq)
        receiver.finish()  # after the clock (t_last_ns): the kept messages, in full
        done_ns = self.ep.done_ns  # JoinableQueue: the last task_done() call, else 0
        retries = sum(ep.retries for ep in self.eps) - retries_before
        seen = bytes(receiver.seen)
        self.control.send(Consumed(t_last_ns, receiver.count, seen, done_ns, retries))

    def _receive_shared(self, receiver: FanReceiver, kill_seq: int) -> int:
        """A shared queue: a sentinel ends a round; the consumer reports its count and waits
        for "more" (the driver saw fewer messages than sent: a sentinel overtook data still
        in a producer's feeder thread) or "end". Returns the clock at the last message."""
        recv, accept = self.ep.recv, receiver.accept
        clock, t_last_ns = time.perf_counter_ns, 0
        while True:
            while (msg := recv()) is not None:
                if accept(msg) == kill_seq:
                    kill_self()
                t_last_ns = clock()
            self.control.send(Paused(receiver.count))
            if self.control.recv()[0] == "end":
                return t_last_ns

    def _receive_pairs(self, receiver: FanReceiver, expect: int, kill_seq: int) -> int:
        """One pipe pair per producer: receive until ``expect`` messages have arrived or every
        pair has sent its end marker (a producer sends one per pair after its timed batch; an
        early one means that pair lost a message, and the driver's exactly-once check names
        it). Then, untimed, each pair's marker (an extra message before it is an error).
        Returns the clock at the last message."""
        accept, clock, t_last_ns = receiver.accept, time.perf_counter_ns, 0
        live = list(self.eps)  # pairs whose end marker has not come yet
        if len(live) == 1:
            recv = self.ep.recv
            for _ in range(expect):
                try:
                    seq = accept(recv())
                except PairEnded:
                    live.clear()
                    break
                if seq == kill_seq:
                    kill_self()
                t_last_ns = clock()
        else:
            ready, remaining = self.ep.ready_among, expect
            while remaining and live:
                for ep in ready(live):
                    try:
                        seq = accept(ep.recv())
                    except PairEnded:
                        live.remove(ep)
                        continue
                    if seq == kill_seq:
                        kill_self()
                    t_last_ns = clock()
                    remaining -= 1
        for ep in live:
            _until_end_marker(ep, receiver)
        return t_last_ns


def _until_end_marker(ep: Any, receiver: FanReceiver) -> None:
    """Read a pipe pair up to its end marker (untimed): anything before it is checked, and
    raises (a duplicate, or a message from outside the batch)."""
    while True:
        try:
            receiver.accept(ep.recv())
        except PairEnded:
            return


class Fan(Session):
    duplex = False
    keeps_sample = False  # the consumers (children) keep their own
    join_stalled = False  # a subclass's join() gave up (the end rounds need not wait again)

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
        self.consumer_controls = self.start_children(Consumer, consumer_eps, wait=False)
        self.producer_controls = self.start_children(Producer, producer_eps)
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
            control.send(("run", n_per, first, SendOptions(fan=True, end_marker=pairs)))
        produced: list[Produced] = self.gather(self.producer_controls)
        end_extra = self.after_producers()
        if self.transport.fan_mode == "shared":
            sent = sum(p.sent for p in produced)
            self.end_rounds(sent, stall_s=0.0 if self.join_stalled else STALL_S)
        consumed: list[Consumed] = self.gather(self.consumer_controls)
        check_exactly_once([c.seen for c in consumed], producers, n_per, first)
        start_ns = min(p.start_ns for p in produced)
        last_ns = max(c.last_ns for c in consumed)
        self.last_done_ns = max(c.done_ns for c in consumed)
        measurement = self.measurement(producers * n_per, start_ns, last_ns, produced, end_extra)
        if self.case.call in RETRYING_CALLS:
            retries = sum(p.retries for p in produced) + sum(c.retries for c in consumed)
            measurement.extra["retries"] = retries
        return measurement

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
            paused: list[Paused] = self.gather(self.consumer_controls)
            received = sum(reply.received for reply in paused)
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
        self, n: int, start_ns: int, last_ns: int, produced: list[Produced], end_extra: int | None
    ) -> Measurement:
        return Measurement(
            n_messages=n,
            elapsed_ns=last_ns - start_ns,
            producer_elapsed_ns=max(p.end_ns for p in produced) - start_ns,
        )

    def close(self, graceful: bool = True) -> None:
        super().close(graceful)
        for ch in getattr(self, "pairs", []):
            ch.close()
