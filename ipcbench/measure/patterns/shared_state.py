"""shared_state: K processes update Manager state at once (``producers`` = K).

ops: ``dict_distinct`` (each process sets its own keys), ``dict_contended`` (everyone sets one
key), ``list_append`` (everyone appends to one list), and ``queue_put`` (the same updates
carried by a Manager().Queue, for comparison). Every update is timed in its process (pooled
per-op latency); throughput is all updates over the span from the first start to the last end.
The final content is verified after each batch (untimed): every expected key or item present
exactly once, in per-process order; for the contended key, the last write of some process.
"""

from __future__ import annotations

import time
from array import array
from typing import Any

from ipcbench.errors import DeliveryError
from ipcbench.measure.patterns.base import Measurement, Session
from ipcbench.measure.verify import FanReceiver, check_exactly_once
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
        for k in range(self.case.producers):
            self.start_child(Updater, self.channel.child, index=k)
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
        if self.case.op != "queue_put":
            self._verify(k, n_per, first)
        start_ns = min(r.start_ns for r in replies)
        end_ns = max(r.end_ns for r in replies)
        return Measurement(n_messages=k * n_per, elapsed_ns=end_ns - start_ns, samples_ns=samples)

    def _drain(self, k: int, n_per: int, first: int) -> None:
        # concurrent with the timed updates: sequence and length per item, content sampled
        receiver = FanReceiver(self.check, "object", k, n_per, first, self.sample)
        recv = self.channel.parent.recv  # type: ignore[union-attr]
        for _ in range(k * n_per):
            receiver.accept(recv())
        receiver.finish()
        check_exactly_once([receiver.seen], k, n_per, first)

    def _verify(self, k: int, n_per: int, first: int) -> None:
        end: Any = self.channel.parent  # type: ignore[union-attr]
        if self.case.op == "dict_contended":
            content = end.proxy.copy()
            end.clear()
            last = {fan_seq(p, first + n_per - 1) for p in range(k)}
            hot = content.get("hot")
            if set(content) != {"hot"} or hot is None or hot[0] not in last:
                raise DeliveryError("contended key: not the last write of any process")
            FanReceiver(self.check, "object", k, n_per, first).open(hot)
            return
        items = end.snapshot() if self.case.op == "list_append" else _by_key(end.proxy.copy())
        end.clear()
        receiver = FanReceiver(self.check, "object", k, n_per, first)
        for item in items:
            receiver.accept(item)
        check_exactly_once([receiver.seen], k, n_per, first)


def _by_key(content: dict[Any, Any]) -> list[Any]:
    """Dict values in key order, which is per-process write order."""
    return [content[key] for key in sorted(content)]
