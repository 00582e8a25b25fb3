"""Variants of stream with one producer child and the driver consuming.

* backpressure: queue maxsize under a fast producer -- time the producer spent inside put()
  (``blocked_s``) and the peak queue depth sampled with qsize() every few puts.
* nowait: put_nowait/get_nowait retried on queue.Full/queue.Empty (op ``nowait``, retries
  counted) against blocking put/get (op ``blocking``) on the same payloads.
"""

from __future__ import annotations

from typing import Any

from ipcbench.measure.patterns.base import Measurement
from ipcbench.measure.patterns.stream import Stream


class Backpressure(Stream):
    producer_opts = {"block": True}

    def stats_columns(self, stats: dict[str, Any]) -> dict[str, Any]:
        depth = stats.get("peak_depth")
        return {
            "blocked_s": stats["blocked_ns"] / 1e9,
            "peak_depth": depth if isinstance(depth, int) else None,
        }


class Nowait(Stream):
    def run(self, n: int) -> Measurement:
        if self.case.op != "nowait":
            return super().run(n)
        first = self.take_seqs(n)
        batch = self.batch_check(first, n)
        recv_nowait = self.channel.parent.recv_nowait  # type: ignore[union-attr]
        length, keep, period = batch.size, batch.keep, batch.period
        self.controls[0].send(("run", n, first, {"nowait": True}))
        consumer_retries = 0
        msg: Any = None
        for i, seq in enumerate(range(first, first + n)):
            msg, retries = recv_nowait()
            consumer_retries += retries
            if type(msg) is not tuple or msg[0] != seq or len(msg[1]) != length:
                batch.fail(seq, msg)
            if i % period == 0:
                keep(msg)
        end_ns = self.clock()
        _, start_ns, producer_end_ns, stats = self.controls[0].recv()
        batch.finish(msg)
        return Measurement(
            n_messages=n,
            elapsed_ns=end_ns - start_ns,
            producer_elapsed_ns=producer_end_ns - start_ns,
            extra={"retries": stats["retries"] + consumer_retries},
        )
