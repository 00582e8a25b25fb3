"""rate: latency under load, open loop (no coordinated omission).

The producer sends at a fixed offered rate: message i is due at ``t0 + i / rate`` and carries
that intended time (``perf_counter_ns``, CLOCK_MONOTONIC, system-wide on Linux). The driver
records one-way latency from the intended time to arrival, so a stalled channel shows as the
latency of every message that should have been sent meanwhile, not as one slow message.

The offered load is absolute (``20000`` = 20 000 msgs/s) or relative (``50%`` of this
channel's maximum, measured untimed with a burst of messages at the start of the case's first
run; its later runs offer the same msgs/s, so every repeat measures the same load -- measured
again in each run, the maximum varied by 20% between repeats and so did the load).
Beyond saturation the consumer falls behind and latency grows with the batch length: that
knee is the saturation point.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable

from ipcbench.errors import IpcbenchError
from ipcbench.measure.patterns.base import Measurement
from ipcbench.measure.patterns.producer import Produced, SendOptions
from ipcbench.measure.patterns.stream import Stream

BURST_MIN_NS = 50_000_000  # the untimed burst that measures maximum throughput
BURST_MAX_MESSAGES = 1 << 22


def parse_load(text: str) -> tuple[float, bool]:
    """'50%' -> (0.5, True); '20000' -> (20000.0, False). Raises IpcbenchError."""
    relative = text.endswith("%")
    try:
        value = float(text[:-1] if relative else text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise IpcbenchError(
            f"cannot parse rate {text!r}; use messages per second (20000) or a share of the "
            "measured maximum (50%)"
        )
    return (value / 100.0, True) if relative else (value, False)


def burst_rate(run: Callable[[int], Measurement], min_ns: int = BURST_MIN_NS) -> float:
    """Messages per second of an untimed burst of about ``min_ns``, the maximum a relative
    load is a share of. Bursts grow x4 from 64 messages until one takes >= 1/8 of ``min_ns``;
    then one burst scaled to ``min_ns`` is the measurement (as ``driver.calibrate`` scales).
    Growing x4 until a burst itself lasted ``min_ns`` took 1.3-5.3x ``min_ns`` per case run."""
    n = 64
    while True:
        m = run(n)
        elapsed_ns = max(m.elapsed_ns, 1)
        if elapsed_ns >= min_ns or n >= BURST_MAX_MESSAGES:
            return m.n_messages / (elapsed_ns / 1e9)
        if elapsed_ns >= min_ns / 8:
            m = run(min(BURST_MAX_MESSAGES, math.ceil(n * min_ns / elapsed_ns)))
            return m.n_messages / (max(m.elapsed_ns, 1) / 1e9)
        n *= 4


class Rate(Stream):
    def start(self) -> None:
        super().start()
        value, relative = parse_load(self.case.offered_load)
        if not relative:
            self.offered_per_s = value
        elif self.given_rate_per_s is not None:
            self.offered_per_s = self.given_rate_per_s  # measured in the case's first run
        else:
            self.offered_per_s = value * self.max_rate()

    def max_rate(self) -> float:
        return burst_rate(lambda n: self._batch(n, rate_per_s=0.0))

    def run(self, n: int) -> Measurement:
        return self._batch(n, self.offered_per_s)

    def _batch(self, n: int, rate_per_s: float) -> Measurement:
        first = self.take_seqs(n)
        batch = self.batch_check(first, n)
        recv, clock = self.channel.parent.recv, self.clock  # type: ignore[union-attr]
        length, keep, period = batch.size, batch.keep, batch.period
        samples = array("q", bytes(8 * n))
        self.controls[0].send(("run", n, first, SendOptions(rate_per_s=rate_per_s or 1e12)))
        msg = None
        for i, seq in enumerate(range(first, first + n)):
            msg = recv()
            samples[i] = clock() - msg[2]
            if msg[0] != seq or len(msg[1]) != length:
                batch.fail(seq, msg[:2])
            if i % period == 0:
                keep(msg[:2])
        end_ns = clock()
        produced: Produced = self.controls[0].recv()
        batch.finish(msg[:2] if msg is not None else None)
        return Measurement(
            n_messages=n,
            elapsed_ns=end_ns - produced.start_ns,
            producer_elapsed_ns=produced.end_ns - produced.start_ns,
            samples_ns=samples,
            extra={"offered_per_s": rate_per_s or None},
        )
