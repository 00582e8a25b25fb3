"""A trivial pattern for tests/test_catalogue.py: the driver sends n messages, a child counts
them. A module of its own (not the test module), so spawn children import its role by path."""

from __future__ import annotations

import time
from typing import NamedTuple

from ipcbench.measure.patterns.base import Measurement, Session
from ipcbench.measure.workers import Role


class Counted(NamedTuple):
    start_ns: int
    end_ns: int
    received: int


class Tally(Role):
    """The child: ``run(n)`` receives n messages and replies how many, and how long."""

    name = "tally"

    def run(self, n: int) -> None:
        recv, clock = self.ep.recv, time.perf_counter_ns
        start_ns = clock()
        for _ in range(n):
            recv()
        self.control.send(Counted(start_ns, clock(), n))


class Sink(Session):
    duplex = True
    role = Tally

    def run(self, n: int) -> Measurement:
        assert self.channel is not None
        first = self.take_seqs(n)
        self.controls[0].send(("run", n))
        send, payload = self.channel.parent.send, self.payload
        for seq in range(first, first + n):
            send((seq, payload))
        counted: Counted = self.controls[0].recv()
        assert counted.received == n
        return Measurement(n_messages=n, elapsed_ns=counted.end_ns - counted.start_ns)
