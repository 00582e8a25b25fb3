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

from array import array

from ipcbench.measure.patterns.base import Children, Measurement, Session
from ipcbench.measure.verify import receive_messages

CLOSE_JOIN_UNBOUNDED_ONLY = (
    "close_join runs on unbounded queues (maxsize 0) only: a bounded queue's put() blocks "
    "while maxsize items are pending, so the timed puts would measure how fast the reader "
    "drains under backpressure (the backpressure pattern's figure), not a flush; the feeder "
    "flushes the same way at any maxsize, so the unbounded case with N <= maxsize already "
    "measures it"
)


class Lifecycle(Session):
    duplex = False

    def start(self) -> None:
        if self.case.op == "close_join" and self.case.maxsize:
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
            control = self.start_child("put_close", channel.child)
            self.children.watch()
            first = self.take_seqs(n)
            batch = self.batch_check(first, n, wire="object")
            control.send(("run", n, first))
            last = receive_messages(channel.parent.recv, batch)
            _, t0_ns, t1_ns, _ = control.recv()
            finished = True
            batch.finish(last)
        finally:  # a child stuck flushing into a queue nobody reads is killed, not waited for
            self.children.stop(graceful=finished)
        channel.close()
        return Measurement(n_messages=n, elapsed_ns=t1_ns - t0_ns)
