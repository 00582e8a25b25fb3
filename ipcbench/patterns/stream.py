"""stream (throughput): a child produces, the driver consumes and verifies.

The clock starts in the producer just before its first send and stops in the consumer after
the last message is received and verified (CLOCK_MONOTONIC via perf_counter_ns is system-wide
on Linux, so the two timestamps compare). The producer's own elapsed time (until its last
send/put returned) is recorded too: for Queue it is shorter, as the feeder thread buffers.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ipcbench.patterns.base import Measurement, Session
from ipcbench.verify import Verifier, new_frame, stamp


class Stream(Session):
    duplex = False
    role = "produce"
    producer_opts: ClassVar[dict[str, Any]] = {}  # see workers.Worker.produce

    def run(self, n: int) -> Measurement:
        first = self.take_seqs(n)
        verifier = Verifier(self.check, first)
        assert self.channel is not None
        check = verifier.frame if self.transport.wire == "bytes" else verifier.message
        if self.transport.in_process:
            return self._inline(n, first, check)
        recv = self.channel.parent.recv
        self.controls[0].send(("run", n, first, self.producer_opts))
        for _ in range(n):
            check(recv())
        end_ns = self.clock()
        _, start_ns, producer_end_ns, stats = self.controls[0].recv()
        return Measurement(
            n_messages=n,
            elapsed_ns=end_ns - start_ns,
            producer_elapsed_ns=producer_end_ns - start_ns,
            extra=self.stats_columns(stats),
        )

    def stats_columns(self, stats: dict[str, Any]) -> dict[str, Any]:
        """Result columns from the producer's stats (none for a plain stream)."""
        return {}

    def _inline(self, n: int, first: int, check) -> Measurement:  # type: ignore[no-untyped-def]
        assert self.channel is not None
        send, recv = self.channel.child.send, self.channel.parent.recv
        bytes_wire = self.transport.wire == "bytes"
        frame = new_frame(self.payload) if bytes_wire else None
        payload = self.payload
        start_ns = self.clock()
        for seq in range(first, first + n):
            send(stamp(frame, seq) if frame is not None else (seq, payload))
            check(recv())
        return Measurement(n_messages=n, elapsed_ns=self.clock() - start_ns)
