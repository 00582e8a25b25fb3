"""lifecycle: the rest of the Queue API.

* op ``close_join``: a child puts n items (untimed; put() returns at once, the feeder thread
  buffers), then times ``close()`` + ``join_thread()`` -- how long flushing n pending items
  takes while the driver drains and verifies them. Each batch uses a new queue and child,
  both set up outside the timed region (a closed queue cannot be reused). Unbounded queues
  only (maxsize 0); see CLOSE_JOIN_UNBOUNDED_ONLY for why.
* ops ``qsize``, ``empty``, ``full``: per-call cost, timed call by call in the driver.
"""

from __future__ import annotations

from array import array

from ipcbench.patterns.base import Children, Measurement, Session
from ipcbench.verify import Verifier

CLOSE_JOIN_UNBOUNDED_ONLY = (
    "close_join runs on unbounded queues (maxsize 0) only: a bounded queue's put() blocks "
    "while maxsize items are pending, so at most maxsize are left to flush at close() and "
    "the timed flush stays flat as N grows (calibration then grows N to max_messages, "
    "minutes of untimed puts, and msgs/s is meaningless); the feeder flushes the same way "
    "at any maxsize, so the unbounded case with N <= maxsize already measures it"
)


class Lifecycle(Session):
    duplex = False

    def start(self) -> None:
        if self.case.op == "close_join" and self.case.maxsize:
            raise ValueError(CLOSE_JOIN_UNBOUNDED_ONLY)
        if self.case.op != "close_join":
            self.channel = self.transport.open(self.ctx, self.case, duplex=False)
            self.pin_helpers(self.channel.helper_pids)

    def run(self, n: int) -> Measurement:
        if self.case.op == "close_join":
            return self._close_join(n)
        queue = self.channel.parent.in_q  # type: ignore[union-attr]
        call, clock = getattr(queue, self.case.op), self.clock
        samples = array("q", bytes(8 * n))
        start_ns = clock()
        for i in range(n):
            t0 = clock()
            call()
            samples[i] = clock() - t0
        return Measurement(n_messages=n, elapsed_ns=clock() - start_ns, samples_ns=samples)

    def _close_join(self, n: int) -> Measurement:
        channel = self.transport.open(self.ctx, self.case, duplex=False)
        self.children = Children(self.ctx)
        self.controls = []
        finished = False
        try:
            control = self.start_child("put_close", channel.child)
            self.children.watch()
            first = self.take_seqs(n)
            verifier = Verifier(self.check, first)
            control.send(("run", n, first))
            recv = channel.parent.recv
            for _ in range(n):
                verifier.message(recv())
            _, t0_ns, t1_ns, _ = control.recv()
            finished = True
        finally:  # a child stuck flushing into a queue nobody reads is killed, not waited for
            self.children.stop(graceful=finished)
        channel.close()
        return Measurement(n_messages=n, elapsed_ns=t1_ns - t0_ns)
