"""The producer worker role that stream, backpressure, nowait, rate and fan share.

``Producer`` sends n messages (to its endpoints in turn) and replies ``Produced``: its clock
around the sends and, with options (``SendOptions``), what it measured on the way. Without
options the timed loop is what a user's loop does (stamp the number, send); options add fan
numbering, timed blocking puts with depth sampling, an offered rate (messages then carry their
intended send time) or end markers on fan pipe pairs. How put is called (blocking, with a
timeout, nowait) is the endpoint's calling style (``ChannelSpec.call``); the retries it
counted are reported after the clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

from ipcbench.measure.workers import Role
from ipcbench.wire import SEQ, end_marker, fan_seq

DEPTH_EVERY = 8  # backpressure: sample qsize() every this many puts


class SendOptions(NamedTuple):
    """How a producer sends a batch (all off: a plain stream)."""

    fan: bool = False  # number messages producer << 32 | number
    block: bool = False  # time the blocking puts, sample the queue depth
    rate_per_s: float = 0.0  # offered rate (0: as fast as possible)
    end_marker: bool = False  # fan over pipe pairs: one end marker per pair after the batch


PLAIN = SendOptions()


class Produced(NamedTuple):
    """A producer's reply to one batch."""

    start_ns: int  # just before the first send
    end_ns: int  # just after the last send returned
    blocked_ns: int = 0  # inside blocking puts (``block``)
    peak_depth: Any = None  # largest qsize() seen (``block``): int, None or "unavailable"
    retries: int = 0  # expired put timeouts and Full retries (the endpoints' calling style)
    sent: int = 0  # messages handed to the channel (n, unless a fault dropped or doubled one)


class Producer(Role):
    """``run(n, first, options)``: send n messages numbered from ``first``."""

    name = "produce"

    def run(self, n: int, first: int, opts: SendOptions = PLAIN) -> None:
        retries_before = self.retries()
        if opts != PLAIN:
            produced = _Sender(self, opts).run(n, first)
            self.control.send(produced._replace(retries=self.retries() - retries_before))
            return
        send, clock = self.ep.send, time.perf_counter_ns
        if self.fault:
            t_start_ns = clock()
            for seq in range(first, first + n):
                for out in self.faulty(seq, self.message(seq)):
                    send(out)
        elif self.frame is not None:  # what a user's loop does: stamp the number, send
            frame, pack_into = self.frame, SEQ.pack_into
            t_start_ns = clock()
            for seq in range(first, first + n):
                pack_into(frame, 0, seq)
                send(frame)
        else:
            payload = self.payload
            t_start_ns = clock()
            for seq in range(first, first + n):
                send((seq, payload))
        t_end_ns = clock()
        retries = self.retries() - retries_before
        self.control.send(Produced(t_start_ns, t_end_ns, retries=retries, sent=n))

    def retries(self) -> int:
        """Retries its endpoints' calling style has counted so far (read outside the clock)."""
        return sum(ep.retries for ep in self.eps)


class _Sender:
    """One batch of a producer with options (fan, backpressure, rate)."""

    def __init__(self, worker: Producer, opts: SendOptions) -> None:
        self.w = worker
        self.fan = opts.fan
        self.block = opts.block
        self.rate_per_s = float(opts.rate_per_s)
        self.end_marker = opts.end_marker
        self.sent_delta = 0  # messages a fault removed (-) or added (+)

    def run(self, n: int, first: int) -> Produced:
        if self.w.fault or self.block or self.rate_per_s:
            return self._general(n, first)
        return self._plain(n, first)

    def _plain(self, n: int, first: int) -> Produced:
        """fan without faults: number the message, send it (to the endpoints in turn),
        nothing else inside the clock."""
        w = self.w
        sends = [ep.send for ep in w.eps]
        k, base = len(sends), fan_seq(w.index, first) if self.fan else first
        frame, payload, pack_into = w.frame, w.payload, SEQ.pack_into
        clock = time.perf_counter_ns
        t_start_ns = clock()
        if frame is not None:
            for i in range(n):
                pack_into(frame, 0, base + i)
                sends[i % k](frame)
        else:
            for i in range(n):
                sends[i % k]((base + i, payload))
        t_end_ns = clock()
        self._end_pairs()
        return Produced(t_start_ns, t_end_ns, sent=n)

    def _general(self, n: int, first: int) -> Produced:
        """Faults, timed blocking puts with depth sampling, or an offered rate."""
        w, eps = self.w, self.w.eps
        sends = [ep.send for ep in eps]
        clock = time.perf_counter_ns
        stats: dict[str, Any] = {"blocked_ns": 0, "peak_depth": None}
        interval_ns = 1e9 / self.rate_per_s if self.rate_per_s else 0.0
        sleep = time.sleep
        yield_gil = any(ep.sends_in_thread for ep in eps)
        faulty = self._counted(w.faulty) if w.fault else _unchanged  # no count without faults
        t_start_ns = clock()
        for i in range(n):
            seq = fan_seq(w.index, first + i) if self.fan else first + i
            msg = w.message(seq)
            if interval_ns:
                intended_ns = t_start_ns + int(i * interval_ns)
                while clock() < intended_ns:  # spin: sleeping is far too coarse here
                    if yield_gil:
                        sleep(0)  # a Queue's feeder thread needs the GIL to send anything
                msg = (*msg, intended_ns)
            for out in faulty(first + i, msg):
                t0 = clock()
                sends[i % len(sends)](out)
                if self.block:
                    stats["blocked_ns"] += clock() - t0
            if self.block and i % DEPTH_EVERY == 0:
                stats["peak_depth"] = _max_depth(stats["peak_depth"], eps[0])
        t_end_ns = clock()
        self._end_pairs()
        return Produced(t_start_ns, t_end_ns, sent=n + self.sent_delta, **stats)

    def _end_pairs(self) -> None:
        """After the clock: an end marker on every pipe pair, so each consumer knows this
        producer is done with it (a message lost before it is then an error at once)."""
        if self.end_marker:
            marker = end_marker(self.w.wire)
            for ep in self.w.eps:
                ep.send(marker)

    def _counted(self, faulty: Callable[[int, Any], list[Any]]) -> Callable[[int, Any], list[Any]]:
        """``faulty`` that also counts the messages a fault removed or added (fan consumers
        stop at the number actually sent; the exactly-once check then names what is missing)."""

        def counted(seq: int, msg: Any) -> list[Any]:
            out = faulty(seq, msg)
            self.sent_delta += len(out) - 1
            return out

        return counted


def _unchanged(seq: int, msg: Any) -> tuple[Any, ...]:
    return (msg,)


def _max_depth(current: Any, ep: Any) -> Any:
    """Peak queue depth so far; "unavailable" where qsize() is not implemented (macOS)."""
    if current == "unavailable":
        return current
    try:
        depth = ep.out_q.qsize()
    except NotImplementedError:
        return "unavailable"
    return depth if current is None else max(current, depth)
