"""stream (throughput): a child produces, the driver consumes.

The clock starts in the producer just before its first send and stops in the consumer after
the last message is received (CLOCK_MONOTONIC via perf_counter_ns is system-wide on Linux, so
the two timestamps compare). Inside the clock the consumer checks each message's sequence
number and length and keeps a bounded sample of whole messages; their content (every byte or
item) is checked after the clock stops (see verify.BatchCheck). The producer's own elapsed
time (until its last send/put returned) is recorded too: for Queue it is shorter, as the
feeder thread buffers. With a put/get calling style that retries (``call`` timeout or nowait:
the endpoints do it), ``retries`` counts both sides' expiries and Full/Empty retries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from ipcbench.measure.patterns.base import Measurement, Session
from ipcbench.measure.patterns.producer import PLAIN, Produced, Producer, SendOptions
from ipcbench.measure.verify import BatchCheck, receive
from ipcbench.wire import SEQ, new_frame

RETRYING_CALLS = ("timeout", "nowait")  # calling styles whose retries are a result column


class Stream(Session):
    duplex = False
    role = Producer
    producer_opts: ClassVar[SendOptions] = PLAIN

    def run(self, n: int) -> Measurement:
        first = self.take_seqs(n)
        batch = self.batch_check(first, n)
        assert self.channel is not None
        if self.transport.in_process:
            return self._inline(n, batch)
        parent = self.channel.parent
        self.retries_before = parent.retries
        self.controls[0].send(("run", n, first, self.producer_opts))
        last = receive(parent.recv, batch, parent.whole_frames)
        return self.finish(n, batch, last, self.stats_columns)

    def finish(
        self,
        n: int,
        batch: BatchCheck,
        last: Any,
        columns: Callable[[Produced], dict[str, Any]],
    ) -> Measurement:
        """After the last message arrived: stop the clock, take the producer's reply, check
        the kept messages in full (untimed) and build the Measurement (``columns``: its
        pattern-specific result columns from the reply)."""
        end_ns = self.clock()
        produced: Produced = self.controls[0].recv()
        batch.finish(last)
        return Measurement(
            n_messages=n,
            elapsed_ns=end_ns - produced.start_ns,
            producer_elapsed_ns=produced.end_ns - produced.start_ns,
            extra=columns(produced),
        )

    retries_before = 0  # the consumer endpoint's retry count before the batch

    def stats_columns(self, produced: Produced) -> dict[str, Any]:
        """Result columns from the producer's reply: ``retries`` (producer and consumer)
        where the calling style retries, else none."""
        if self.case.call not in RETRYING_CALLS:
            return {}
        assert self.channel is not None
        consumer_retries = self.channel.parent.retries - self.retries_before
        return {"retries": produced.retries + consumer_retries}

    def _inline(self, n: int, batch: BatchCheck) -> Measurement:
        """Floors (memcpy, pickle): both roles in this process, one message at a time."""
        assert self.channel is not None
        send, recv = self.channel.child.send, self.channel.parent.recv
        loop = _inline_frames if self.transport.wire == "bytes" else _inline_messages
        start_ns = self.clock()
        last = loop(send, recv, self.payload, batch)
        elapsed_ns = self.clock() - start_ns
        batch.finish(last)
        return Measurement(n_messages=n, elapsed_ns=elapsed_ns)


def _inline_frames(send: Any, recv: Any, payload: bytes, batch: BatchCheck) -> Any:
    """Stamp, send, receive and check (sequence, length) each frame; returns the last."""
    frame, pack_into, unpack = new_frame(payload), SEQ.pack_into, SEQ.unpack_from
    size, keep, period, end = batch.size, batch.keep, batch.period, batch.end
    got = None
    for start in range(batch.first, end, period):
        pack_into(frame, 0, start)
        send(frame)
        got = recv()
        if len(got) != size or unpack(got)[0] != start:
            batch.fail(start, got)
        keep(got)
        for seq in range(start + 1, min(start + period, end)):
            pack_into(frame, 0, seq)
            send(frame)
            got = recv()
            if len(got) != size or unpack(got)[0] != seq:
                batch.fail(seq, got)
    return got


def _inline_messages(send: Any, recv: Any, payload: Any, batch: BatchCheck) -> Any:
    """Send, receive and check (sequence, length) each ``(seq, payload)``; returns the last."""
    length, keep, period, end = batch.size, batch.keep, batch.period, batch.end
    got = None
    for start in range(batch.first, end, period):
        send((start, payload))
        got = recv()
        if got[0] != start or len(got[1]) != length:
            batch.fail(start, got)
        keep(got)
        for seq in range(start + 1, min(start + period, end)):
            send((seq, payload))
            got = recv()
            if got[0] != seq or len(got[1]) != length:
                batch.fail(seq, got)
    return got
