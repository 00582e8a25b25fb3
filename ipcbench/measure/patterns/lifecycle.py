"""lifecycle: the rest of the Queue API.

* op ``close_join``: a child times ``put()`` of n items + ``close()`` + ``join_thread()`` --
  how long handing n items to a Queue and flushing them all takes, while the driver drains
  them (checking sequence and length; whole content of a sample after the batch). The
  feeder thread starts sending at the first put(), so the puts are inside the clock: timing
  close() + join_thread() alone left out what was flushed during the puts (the flush rate
  was overstated by 12-19%). Each batch uses a new queue and child, both set up outside the
  timed region (a closed queue cannot be reused). Unbounded queues only (maxsize 0); see
  CLOSE_JOIN_UNBOUNDED_ONLY for why.
* ops ``qsize``, ``empty``, ``full``: per-call cost, timed call by call in the driver;
  ``elapsed_ns`` is the sum of the calls' samples.
"""

from __future__ import annotations

import time
from array import array
from typing import NamedTuple

from ipcbench.measure.catalogue import CLOSE_JOIN_UNBOUNDED_ONLY, info
from ipcbench.measure.patterns.base import Children, Measurement, Session
from ipcbench.measure.verify import receive_messages
from ipcbench.measure.workers import Role

__all__ = ["CLOSE_JOIN_UNBOUNDED_ONLY", "Flushed", "Lifecycle", "PutClose"]


class Flushed(NamedTuple):
    """PutClose's reply: its clock around the puts + close() + join_thread()."""

    start_ns: int
    end_ns: int
    put_ns: int  # the puts alone


class PutClose(Role):
    """The child of op close_join: ``run(n, first)`` times put() of n items + close() +
    join_thread(), and replies ``Flushed``.

    The feeder thread starts sending at the first put(), so timing close() + join_thread()
    alone would leave out the items it flushed during the puts (overstating the flush rate by
    12-19% here): the clock starts before the first put() and stops when join_thread()
    returns -- the time to hand n items to a Queue and flush them all."""

    name = "put_close"

    def run(self, n: int, first: int) -> None:
        q, clock = self.ep.out_q, time.perf_counter_ns
        put, payload = q.put, self.payload
        t0 = clock()
        if self.fault:
            for seq in range(first, first + n):
                for out in self.faulty(seq, (seq, payload)):
                    put(out)
        else:
            for seq in range(first, first + n):
                put((seq, payload))
        t_put_ns = clock()
        q.close()
        q.join_thread()
        self.control.send(Flushed(t0, clock(), t_put_ns - t0))


class Lifecycle(Session):
    duplex = False

    def start(self) -> None:
        if self.case.maxsize and self.case.op in info(self.case.pattern).unbounded_only_ops:
            raise ValueError(CLOSE_JOIN_UNBOUNDED_ONLY)
        if self.case.op != "close_join":
            self.channel = self.transport.open(self.ctx, self.spec, duplex=False)
            self.pin_helpers(self.channel.helper_pids)

    def run(self, n: int) -> Measurement:
        if self.case.op == "close_join":
            return self._close_join(n)
        queue = self.channel.parent.in_q  # type: ignore[union-attr]
        call, clock = getattr(queue, self.case.op), self.clock
        samples = array("q", bytes(8 * n))
        for i in range(n):
            t0 = clock()
            call()
            samples[i] = clock() - t0
        # throughput from the calls themselves, not the loop and sample storage around them
        return Measurement(n_messages=n, elapsed_ns=sum(samples), samples_ns=samples)

    def _close_join(self, n: int) -> Measurement:
        channel = self.transport.open(self.ctx, self.spec, duplex=False)
        self.children = Children(self.ctx)
        self.controls = []
        finished = False
        try:
            control = self.start_child(PutClose, channel.child)
            self.children.watch()
            first = self.take_seqs(n)
            batch = self.batch_check(first, n, wire="object")
            control.send(("run", n, first))
            last = receive_messages(channel.parent.recv, batch)
            flushed: Flushed = control.recv()
            finished = True
            batch.finish(last)
        finally:  # a child stuck flushing into a queue nobody reads is killed, not waited for
            self.children.stop(graceful=finished)
        channel.close()
        return Measurement(n_messages=n, elapsed_ns=flushed.end_ns - flushed.start_ns)
