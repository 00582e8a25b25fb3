"""fan: P producers x C consumers; taskqueue: the JoinableQueue task pipeline.

Queue-like transports are shared by everyone (one queue); pipe transports get one channel per
producer-consumer pair (producer p sends its i-th message to consumer i % C). Messages carry
``producer << 32 | number``; each consumer checks per-producer order and marks what it got, and
the driver proves from all marks that every message arrived exactly once.

Throughput is counted where messages arrive: from the first producer's start to the last
message verified by any consumer. With a shared queue, the driver ends each batch with one
sentinel per consumer after the producers are done (the sentinels are not timed).
"""

from __future__ import annotations

import math
import time
from typing import Any

from ipcbench.patterns.base import Measurement, Session
from ipcbench.transports.base import Channel
from ipcbench.verify import check_exactly_once

MAX_ROUNDS = 40  # about 1.5 s of waiting in all before a shortfall counts as a loss


class Fan(Session):
    duplex = False

    def start(self) -> None:
        case, transport = self.case, self.transport
        if transport.fan_mode == "shared":
            self.channel = transport.open(self.ctx, case, duplex=False)
            self.pin_helpers(self.channel.helper_pids)
            consumer_eps: list[Any] = [self.channel.parent] * case.consumers
            producer_eps: list[Any] = [[self.channel.child]] * case.producers
        else:
            pairs = [[transport.open(self.ctx, case, duplex=False) for _ in range(case.consumers)]
                     for _ in range(case.producers)]
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
        producers = self.case.producers
        n_per = max(1, math.ceil(n / producers))
        first = self.take_seqs(n_per)
        for c, control in enumerate(self.consumer_controls):
            control.send(("run", n_per, first, producers, self.expected(c, n_per)))
        for control in self.producer_controls:
            control.send(("run", n_per, first, {"fan": True}))
        produced = self.gather(self.producer_controls)
        end_extra = self.after_producers()
        if self.transport.fan_mode == "shared":
            self.end_rounds(producers * n_per)
        consumed = self.gather(self.consumer_controls)
        check_exactly_once([c[3] for c in consumed], producers, n_per)
        start_ns = min(p[1] for p in produced)
        last_ns = max(c[1] for c in consumed)
        return self.measurement(producers * n_per, start_ns, last_ns, produced, end_extra)

    def end_rounds(self, total: int) -> None:
        """Stop the consumers of a shared queue with one sentinel each, in rounds.

        ``Queue.put`` returns before a feeder thread has written the item, so a sentinel put
        now can overtake a producer's last messages. Each consumer pauses on its sentinel
        and reports its count; until the counts add up to what was sent, every consumer
        goes on ("more") and a new round of sentinels follows. Rounds are untimed. A real
        loss gives up after ``MAX_ROUNDS`` and is reported by the exactly-once check."""
        delay_s = 0.0005
        for _ in range(MAX_ROUNDS):
            for _ in self.consumer_controls:
                self.channel.child.send(None)  # type: ignore[union-attr]
            received = sum(reply[1] for reply in self.gather(self.consumer_controls))
            if received >= total:
                break
            for control in self.consumer_controls:
                control.send(("more",))
            time.sleep(delay_s)
            delay_s = min(0.05, delay_s * 2)
        for control in self.consumer_controls:
            control.send(("end",))

    def after_producers(self) -> int | None:
        """Hook between the producers' end and the sentinels (taskqueue joins here)."""
        return None

    def measurement(self, n: int, start_ns: int, last_ns: int, produced: list[Any],
                    end_extra: int | None) -> Measurement:
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
    waits on ``q.join()``. Throughput runs to join()'s return; the join latency is from the
    last task_done() (as the consumers saw it) to join() returning in the driver."""

    def after_producers(self) -> int | None:
        self.channel.child.out_q.join()  # type: ignore[union-attr]
        return self.clock()

    def measurement(self, n: int, start_ns: int, last_ns: int, produced: list[Any],
                    end_extra: int | None) -> Measurement:
        assert end_extra is not None
        return Measurement(
            n_messages=n,
            elapsed_ns=end_extra - start_ns,
            producer_elapsed_ns=max(p[2] for p in produced) - start_ns,
            extra={"join_latency_us": max(0, end_extra - last_ns) / 1e3},
        )
