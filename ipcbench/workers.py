"""Top-level child entry points (importable, so spawn and forkserver can start them).

A child gets its endpoint, a control Connection for commands from the driver, and an error
Connection on which it reports an exception before exiting. Commands are tuples:

* ``("run", n, first_seq)`` -- do one batch of ``n`` messages of the child's role;
* ``("stop",)`` -- release the endpoint and exit.

Roles: ``echo`` (ping-pong), ``produce`` (stream; replies with its own timestamps),
``write`` (Manager proxy set/append; replies with per-op latencies when timed).
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from array import array
from collections.abc import Callable
from typing import Any

from ipcbench.verify import PayloadCheck, make_payload, new_frame, stamp

FAULTS = ("drop", "duplicate", "truncate", "corrupt", "hang", "kill", "raise")
FAULT_SEQ = 1  # the message a fault hits (counted over the whole case, calibration included)


def pin(cpus: list[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)


def affinity() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return []


def child_main(
    role: str,
    endpoint: Any,
    control: Any,
    errors: Any,
    check: PayloadCheck,
    wire: str,
    cpus: list[int] | None,
    fault: str,
) -> None:
    """Entry point of every worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor handles Ctrl-C
    try:
        pin(cpus)
        endpoint.in_child()
        control.send(("ready", os.getpid(), affinity()))
        Worker(role, endpoint, control, check, wire, fault).serve()
    except BaseException as exc:  # report everything, including SystemExit from a fault
        try:
            errors.send(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}")
        finally:
            os._exit(1)


class Worker:
    """The command loop of one child process."""

    def __init__(
        self, role: str, endpoint: Any, control: Any, check: PayloadCheck, wire: str, fault: str
    ) -> None:
        self.role = role
        self.ep = endpoint
        self.control = control
        self.wire = wire
        self.fault = fault
        payload, _ = make_payload(check.kind, check.payload_bytes)
        self.payload = payload
        self.frame = new_frame(payload) if wire == "bytes" else None

    def serve(self) -> None:
        handlers: dict[str, Callable[..., None]] = {
            "echo": self.echo,
            "produce": self.produce,
            "write": self.write,
        }
        handler = handlers[self.role]
        while True:
            cmd = self.control.recv()
            if cmd[0] == "stop":
                self.ep.close()
                return
            handler(*cmd[1:])

    def message(self, seq: int) -> Any:
        if self.frame is not None:
            return stamp(self.frame, seq)
        return (seq, self.payload)

    def faulty(self, seq: int, msg: Any) -> list[Any]:
        """The messages to send in place of ``msg`` (fault injection for tests)."""
        if seq != FAULT_SEQ or not self.fault:
            return [msg]
        if self.fault == "drop":
            return []
        if self.fault == "duplicate":
            return [msg, msg]
        if self.fault == "hang":
            time.sleep(3600)
        if self.fault == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.fault == "raise":
            raise RuntimeError(f"injected fault at message {seq}")
        return [_damage(msg, self.fault)]

    def echo(self, n: int, first_seq: int) -> None:
        send, recv = self.ep.send, self.ep.recv
        if not self.fault:
            for _ in range(n):
                send(recv())
            return
        for seq in range(first_seq, first_seq + n):
            for out in self.faulty(seq, recv()):
                send(out)

    def produce(self, n: int, first_seq: int) -> None:
        send, message = self.ep.send, self.message
        fault = self.fault
        t_start_ns = time.perf_counter_ns()
        for seq in range(first_seq, first_seq + n):
            if fault:
                for out in self.faulty(seq, message(seq)):
                    send(out)
            else:
                send(message(seq))
        t_end_ns = time.perf_counter_ns()
        self.control.send(("done", t_start_ns, t_end_ns))

    def write(self, n: int, first_seq: int, timed: bool) -> None:
        samples = array("q")
        write, clock = self.ep.write, time.perf_counter_ns
        t_start_ns = clock()
        for seq in range(first_seq, first_seq + n):
            for out in self.faulty(seq, (seq, self.payload)):
                t0 = clock()
                write(seq, out)
                samples.append(clock() - t0)
        t_end_ns = clock()
        self.control.send(("done", t_start_ns, t_end_ns, samples.tobytes() if timed else b""))


def _damage(msg: Any, fault: str) -> Any:
    """A truncated or corrupted copy of a message (object tuple or bytes frame)."""
    if isinstance(msg, tuple):
        seq, payload = msg
        if fault == "truncate":
            return (seq, payload[:-1])
        if isinstance(payload, bytes):
            return (seq, bytes([payload[0] ^ 0xFF]) + payload[1:])
        return (seq, [(-1, 0.0, "corrupt"), *payload[1:]])
    data = bytes(msg)
    if fault == "truncate":
        return data[:-1]
    return data[:-1] + bytes([data[-1] ^ 0xFF])
