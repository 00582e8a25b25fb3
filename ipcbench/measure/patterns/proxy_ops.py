"""proxy_ops: Manager dict/list proxies in the seed's shape -- a child writes, the parent reads.

* op ``set`` (dict) / ``append`` (list): the child writes n messages, timing each call; the
  parent then reads the whole content back (untimed) and verifies count, order and checksums.
* op ``get``: the child writes n messages (untimed); the parent reads each back by key/index,
  timing each call and verifying it in full between two calls.

Throughput (``elapsed_ns``) is the sum of the per-call samples: the proxy calls themselves,
not the loop, the sample storage or the verification around them.

The proxy is cleared between batches (untimed), so the Manager's memory stays bounded.
"""

from __future__ import annotations

import time
from array import array

from ipcbench.errors import DeliveryError
from ipcbench.measure.patterns.base import Measurement, Session
from ipcbench.measure.verify import Verifier
from ipcbench.measure.workers import Role, Timed

BULK_WRITE_BYTES = 4 * 1024**2  # an untimed write stores about this many payload bytes per call


class Writer(Role):
    """The child: ``run(n, first_seq, timed)`` writes n messages into the proxy (set or
    append), each call timed, and replies ``Timed``. Untimed (before op ``get`` reads them
    back), the messages go in a few bulk calls (``update`` / ``extend``) instead of one proxy
    round trip each: only the reads are the figure, and one call per message cost as long
    as the timed batch itself."""

    name = "write"

    def run(self, n: int, first_seq: int, timed: bool) -> None:
        if not timed:
            self._write_bulk(n, first_seq)
            return
        samples = array("q")
        write, clock, payload = self.ep.write, time.perf_counter_ns, self.payload
        faulty = self.faulty if self.fault else None
        t_start_ns = clock()
        for seq in range(first_seq, first_seq + n):
            for out in faulty(seq, (seq, payload)) if faulty else ((seq, payload),):
                t0 = clock()
                write(seq, out)
                samples.append(clock() - t0)
        t_end_ns = clock()
        self.control.send(Timed(t_start_ns, t_end_ns, samples.tobytes()))

    def _write_bulk(self, n: int, first_seq: int) -> None:
        clock, payload = time.perf_counter_ns, self.payload
        per_call = max(1, BULK_WRITE_BYTES // max(1, len(payload)))
        faulty = self.faulty if self.fault else None
        t_start_ns = clock()
        items: list[tuple[int, object]] = []
        for seq in range(first_seq, first_seq + n):
            outs = faulty(seq, (seq, payload)) if faulty else ((seq, payload),)
            items += ((seq, out) for out in outs)
            if len(items) >= per_call:
                self.ep.write_many(items)
                items = []
        if items:
            self.ep.write_many(items)
        self.control.send(Timed(t_start_ns, clock(), b""))


class ProxyOps(Session):
    duplex = False
    role = Writer

    def run(self, n: int) -> Measurement:
        first = self.take_seqs(n)
        verifier = Verifier(self.check, first)
        timed_in_child = self.case.op != "get"
        self.controls[0].send(("run", n, first, timed_in_child))
        written: Timed = self.controls[0].recv()
        if timed_in_child:
            samples = array("q")
            samples.frombytes(written.samples)
            self._verify_content(n, verifier)
            measurement = Measurement(n, sum(samples), samples_ns=samples)
        else:
            measurement = self._read_back(n, first, verifier)
        self.channel.parent.clear()  # type: ignore[union-attr]
        return measurement

    def _verify_content(self, n: int, verifier: Verifier) -> None:
        content = self.channel.parent.snapshot(self.case.payload_bytes)  # type: ignore[union-attr]
        for msg in content:
            verifier.message(msg)
        if len(content) != n:
            raise DeliveryError(f"expected {n} entries in the proxy, found {len(content)}")

    def _read_back(self, n: int, first: int, verifier: Verifier) -> Measurement:
        read, clock = self.channel.parent.read, self.clock  # type: ignore[union-attr]
        samples = array("q", bytes(8 * n))
        for i in range(n):
            t0 = clock()
            try:
                msg = read(first + i, i)
            except (KeyError, IndexError):
                raise DeliveryError(f"message {first + i}: lost (not in the proxy)") from None
            samples[i] = clock() - t0
            verifier.message(msg)  # in full, between two samples
        return Measurement(n, sum(samples), samples_ns=samples)
