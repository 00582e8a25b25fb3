"""pingpong (latency): the parent sends, the child echoes; every round trip is timed.

A sample runs from just before ``send`` to just after the echo is received -- nothing else.
Stamping the sequence number, checking the echo (sequence number and length; a bounded sample
of whole messages is kept and compared in full after the batch, see verify.BatchCheck) and
storing the sample happen between two samples. ``elapsed_ns`` (hence msgs_per_s and mb_per_s)
is the **sum of the samples**: the round trips themselves, not the harness's work around them.
"""

from __future__ import annotations

from array import array
from typing import Any

from ipcbench.measure.patterns.base import Measurement, Session
from ipcbench.measure.verify import BatchCheck
from ipcbench.measure.workers import Role
from ipcbench.wire import SEQ, new_frame


class Echo(Role):
    """The child: ``run(n, first_seq)`` receives n messages and sends each back."""

    name = "echo"

    def run(self, n: int, first_seq: int) -> None:
        send, recv = self.ep.send, self.ep.recv
        if not self.fault:
            for _ in range(n):
                send(recv())
            return
        for seq in range(first_seq, first_seq + n):
            for out in self.faulty(seq, recv()):
                send(out)


class PingPong(Session):
    duplex = True
    role = Echo

    def run(self, n: int) -> Measurement:
        first = self.take_seqs(n)
        batch = self.batch_check(first, n)
        samples = array("q", bytes(8 * n))
        assert self.channel is not None
        parent, child = self.channel.parent, self.channel.child
        if self.transport.in_process:
            echo = _inline_echo(parent, child)
        else:
            self.controls[0].send(("run", n, first))
            echo = _remote_echo(parent)
        bytes_wire = self.transport.wire == "bytes"
        loop = _frames if bytes_wire else _messages
        last = loop(echo, self.payload, batch, samples, self.clock)
        batch.finish(last)
        return Measurement(n_messages=n, elapsed_ns=sum(samples), samples_ns=samples)


def _remote_echo(parent: Any) -> tuple[Any, Any, Any]:
    return parent.send, parent.recv, None


def _inline_echo(parent: Any, child: Any) -> tuple[Any, Any, Any]:
    """Floors: both roles in this process (copy or pickle there and back)."""
    return parent.send, parent.recv, (child.send, child.recv)


def _frames(echo: Any, payload: bytes, batch: BatchCheck, samples: array, clock: Any) -> Any:
    """Round trips of stamped frames; returns the last echo."""
    send, recv, inline = echo
    frame, pack_into, unpack = new_frame(payload), SEQ.pack_into, SEQ.unpack_from
    size, keep, period, first = batch.size, batch.keep, batch.period, batch.first
    child_send, child_recv = inline if inline else (_none, _none)
    echoed = None
    for i, seq in enumerate(range(first, batch.end)):
        pack_into(frame, 0, seq)
        if inline:
            t0 = clock()
            send(frame)
            child_send(child_recv())
            echoed = recv()
            samples[i] = clock() - t0
        else:
            t0 = clock()
            send(frame)
            echoed = recv()
            samples[i] = clock() - t0
        if len(echoed) != size or unpack(echoed)[0] != seq:
            batch.fail(seq, echoed)
        if i % period == 0:
            keep(echoed)
    return echoed


def _messages(echo: Any, payload: Any, batch: BatchCheck, samples: array, clock: Any) -> Any:
    """Round trips of ``(seq, payload)``; returns the last echo."""
    send, recv, inline = echo
    length, keep, period, first = batch.size, batch.keep, batch.period, batch.first
    child_send, child_recv = inline if inline else (_none, _none)
    echoed = None
    for i, seq in enumerate(range(first, batch.end)):
        msg = (seq, payload)
        if inline:
            t0 = clock()
            send(msg)
            child_send(child_recv())
            echoed = recv()
            samples[i] = clock() - t0
        else:
            t0 = clock()
            send(msg)
            echoed = recv()
            samples[i] = clock() - t0
        try:
            ok = echoed[0] == seq and len(echoed[1]) == length
        except (TypeError, IndexError, KeyError):
            ok = False
        if not ok:
            batch.fail(seq, echoed)
        if i % period == 0:
            keep(echoed)
    return echoed


def _none(*args: Any) -> Any:
    """Stands in for the child's send/recv when the echo is remote (never called)."""
    raise AssertionError("inline echo without an inline channel")
