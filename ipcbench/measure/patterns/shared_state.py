"""shared_state: K processes update shared state at once (``producers`` = K).

ops: ``dict_distinct`` (each process sets its own keys), ``dict_contended`` (everyone sets one
key), ``list_append`` (everyone appends to one list), and ``queue_put`` (the same updates
carried by a Manager().Queue, for comparison); on ``sharedctypes``, Value counters and Array
slots with and without their lock (see that module). Every update is timed in its process
(pooled per-op latency); throughput is all updates over the span from the first start to the
last end. The final content is verified after each batch (untimed): every expected key or item
present exactly once, in per-process order; for the contended key, the last write of some
process; for state that keeps counts (an endpoint with ``tally``), every count equal to the
updates made and each process's last message whole.
"""

from __future__ import annotations

import time
from array import array
from typing import Any

from ipcbench.errors import DeliveryError
from ipcbench.measure.patterns.base import Measurement, Session
from ipcbench.measure.verify import FanReceiver, check_exactly_once, fan_name
from ipcbench.measure.workers import Role, Timed
from ipcbench.wire import fan_seq


class Updater(Role):
    """The child (process ``index`` of K): ``run(n, first, op)`` makes n updates, each
    timed; replies ``Timed``."""

    name = "state"

    def run(self, n: int, first: int, op: str) -> None:
        samples = array("q", bytes(8 * n))
        update, clock = self.ep.update, time.perf_counter_ns
        t_start_ns = clock()
        for i in range(n):
            seq = fan_seq(self.index, first + i)
            for out in self.faulty(first + i, (seq, self.payload)):
                t0 = clock()
                update(op, self.index, seq, out)
                samples[i] = clock() - t0
        self.control.send(Timed(t_start_ns, clock(), samples.tobytes()))


class SharedState(Session):
    duplex = False

    def start(self) -> None:
        self.channel = self.transport.open(self.ctx, self.spec, duplex=False)
        self.pin_helpers(self.channel.helper_pids)
        self.start_children(Updater, [self.channel.child] * self.case.producers)
        self.children.watch()

    def run(self, n: int) -> Measurement:
        k = self.case.producers
        n_per = max(1, -(-n // k))
        first = self.take_seqs(n_per)
        for control in self.controls:
            control.send(("run", n_per, first, self.case.op))
        if self.case.op == "queue_put":
            self._drain(k, n_per, first)
        replies: list[Timed] = self.gather()
        samples = array("q")
        for reply in replies:
            samples.frombytes(reply.samples)
        extra = self._verify(k, n_per, first) if self.case.op != "queue_put" else {}
        start_ns = min(r.start_ns for r in replies)
        end_ns = max(r.end_ns for r in replies)
        return Measurement(
            n_messages=k * n_per, elapsed_ns=end_ns - start_ns, samples_ns=samples, extra=extra
        )

    def _drain(self, k: int, n_per: int, first: int) -> None:
        # concurrent with the timed updates: sequence and length per item, content sampled
        receiver = FanReceiver(self.check, "object", k, n_per, first, self.sample)
        recv = self.channel.parent.recv  # type: ignore[union-attr]
        for _ in range(k * n_per):
            receiver.accept(recv())
        receiver.finish()
        check_exactly_once([receiver.seen], k, n_per, first)

    def _verify(self, k: int, n_per: int, first: int) -> dict[str, Any]:
        """Check what the batch left; returns result columns that differ from the defaults."""
        end: Any = self.channel.parent  # type: ignore[union-attr]
        if hasattr(end, "tally"):
            return self._verify_tally(end, k, n_per, first)
        if self.case.op == "dict_contended":
            content = end.proxy.copy()
            end.clear()
            last = {fan_seq(p, first + n_per - 1) for p in range(k)}
            hot = content.get("hot")
            if set(content) != {"hot"} or hot is None or hot[0] not in last:
                raise DeliveryError("contended key: not the last write of any process")
            FanReceiver(self.check, "object", k, n_per, first).open(hot)
            return {}
        items = end.snapshot() if self.case.op == "list_append" else _by_key(end.proxy.copy())
        end.clear()
        receiver = FanReceiver(self.check, "object", k, n_per, first)
        for item in items:
            receiver.accept(item)
        check_exactly_once([receiver.seen], k, n_per, first)
        return {}

    def _verify_tally(self, end: Any, k: int, n_per: int, first: int) -> dict[str, Any]:
        """Counting state (sharedctypes): every count equals the updates made -- one shared
        counter K x n_per, or n_per for each process -- and each process's last message is
        its last one, whole. The columns: what one update writes; no MB/s for counters."""
        tally = end.tally(self.case.op, k)
        end.clear()
        shared = len(tally.counts) == 1 and k > 1
        expected = k * n_per if shared else n_per
        for index, count in enumerate(tally.counts):
            who = "the shared counter" if shared else f"process {index}"
            if count < expected:
                raise DeliveryError(f"{who}: lost {expected - count} of {expected} updates")
            if count > expected:
                raise DeliveryError(f"{who}: duplicated: {count} updates of {expected} made")
        check = FanReceiver(self.check, "object", k, n_per, first)
        for index, msg in enumerate(tally.last):
            seq, want = check.open(msg), fan_seq(index, first + n_per - 1)
            if seq != want:
                raise DeliveryError(
                    f"process {index}: last update was {fan_name(seq)}, not {fan_name(want)}"
                )
        columns: dict[str, Any] = {"wire_bytes": tally.update_bytes}
        if not tally.last:
            columns["mb_per_s"] = None  # counters carry no payload
        return columns


def _by_key(content: dict[Any, Any]) -> list[Any]:
    """Dict values in key order, which is per-process write order."""
    return [content[key] for key in sorted(content)]
