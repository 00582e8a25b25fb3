"""pingpong (latency): the parent sends, the child echoes; every round trip is timed."""

from __future__ import annotations

from array import array

from ipcbench.patterns.base import Measurement, Session
from ipcbench.verify import Verifier, new_frame, stamp


class PingPong(Session):
    duplex = True
    role = "echo"

    def run(self, n: int) -> Measurement:
        first = self.take_seqs(n)
        verifier = Verifier(self.check, first)
        samples = array("q", bytes(8 * n))
        if self.transport.in_process:
            elapsed_ns = self._loop_inline(n, first, verifier, samples)
        else:
            self.controls[0].send(("run", n, first))
            elapsed_ns = self._loop(n, first, verifier, samples)
        return Measurement(n_messages=n, elapsed_ns=elapsed_ns, samples_ns=samples)

    def _messages(self, first: int, n: int):  # type: ignore[no-untyped-def]
        """Yield the message for each sequence number (one reused, stamped frame for bytes)."""
        if self.transport.wire == "bytes":
            frame = new_frame(self.payload)
            for seq in range(first, first + n):
                yield stamp(frame, seq)
        else:
            payload = self.payload
            for seq in range(first, first + n):
                yield (seq, payload)

    def _loop(self, n: int, first: int, verifier: Verifier, samples: array) -> int:
        assert self.channel is not None
        send, recv, clock = self.channel.parent.send, self.channel.parent.recv, self.clock
        check = verifier.frame if self.transport.wire == "bytes" else verifier.message
        start_ns = clock()
        for i, msg in enumerate(self._messages(first, n)):
            t0 = clock()
            send(msg)
            echoed = recv()
            samples[i] = clock() - t0
            check(echoed)
        return clock() - start_ns

    def _loop_inline(self, n: int, first: int, verifier: Verifier, samples: array) -> int:
        """Floors: both roles in this process (copy or pickle there and back)."""
        assert self.channel is not None
        parent, child = self.channel.parent, self.channel.child
        check = verifier.frame if self.transport.wire == "bytes" else verifier.message
        clock = self.clock
        start_ns = clock()
        for i, msg in enumerate(self._messages(first, n)):
            t0 = clock()
            parent.send(msg)
            child.send(child.recv())
            echoed = parent.recv()
            samples[i] = clock() - t0
            check(echoed)
        return clock() - start_ns
