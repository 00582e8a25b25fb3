"""nowait: put_nowait/get_nowait retried on queue.Full/queue.Empty (op ``nowait``, retries
counted on both sides) against blocking put/get (op ``blocking``: a plain stream) on the same
payloads; one producer child, the driver consuming.
"""

from __future__ import annotations

from typing import Any

from ipcbench.measure.patterns.base import Measurement
from ipcbench.measure.patterns.producer import SendOptions
from ipcbench.measure.patterns.stream import Stream


class Nowait(Stream):
    def run(self, n: int) -> Measurement:
        if self.case.op != "nowait":
            return super().run(n)
        first = self.take_seqs(n)
        batch = self.batch_check(first, n)
        recv_nowait = self.channel.parent.recv_nowait  # type: ignore[union-attr]
        length, keep, period = batch.size, batch.keep, batch.period
        self.controls[0].send(("run", n, first, SendOptions(nowait=True)))
        consumer_retries = 0
        msg: Any = None
        for i, seq in enumerate(range(first, first + n)):
            msg, retries = recv_nowait()
            consumer_retries += retries
            if type(msg) is not tuple or msg[0] != seq or len(msg[1]) != length:
                batch.fail(seq, msg)
            if i % period == 0:
                keep(msg)
        return self.finish(
            n, batch, msg, lambda produced: {"retries": produced.retries + consumer_retries}
        )
