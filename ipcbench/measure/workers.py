"""The child side every pattern shares: the entry point, the role base, faults and replies.

A child gets its endpoint(s), a control Connection for commands from the driver, and an error
Connection on which it reports an exception before exiting. Commands are tuples:
``("run", ...)`` -- one batch of the child's role, the arguments of its ``run`` -- or
``("stop",)``. Replies are NamedTuples with named fields.

Each pattern declares its worker role (a ``Role`` subclass: the child's loop) and the replies
it sends next to its parent side, in the pattern's own module; the driver's side passes the
role class to ``child_main``, so spawn and forkserver children import it by module path.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import traceback
from typing import Any, ClassVar, NamedTuple

from ipcbench.wire import SEQ, PayloadCheck, make_payload, new_frame, stamp

FAULTS = ("drop", "duplicate", "truncate", "corrupt", "hang", "kill", "raise", "consumer_kill")
FAULT_SEQ = 1  # the message a fault hits (counted over the whole case, calibration included)


class Ready(NamedTuple):
    """A child's first message: it is pinned and its endpoints are ready."""

    pid: int  # a worker thread's (``thread_main``): its native thread id
    cpus: list[int]


class Timed(NamedTuple):
    """A batch timed call by call in the child (proxy writes, shared-state updates)."""

    start_ns: int
    end_ns: int
    samples: bytes  # array("q") of per-call nanoseconds, as bytes (b"": not timed per call)


def pin(cpus: list[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)


def affinity() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return []


def child_main(
    role: type[Role],
    endpoints: Any,
    control: Any,
    errors: Any,
    check: PayloadCheck,
    wire: str,
    cpus: list[int] | None,
    fault: str,
    index: int = 0,
) -> None:
    """Entry point of every worker process. ``endpoints`` is one endpoint or a list."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor handles Ctrl-C
    try:
        _serve(role, endpoints, control, check, wire, cpus, fault, index, os.getpid())
    except BaseException as exc:  # report everything, including SystemExit from a fault
        try:
            errors.send(_error_text(exc))
        finally:
            os._exit(1)


def thread_main(
    role: type[Role],
    endpoints: Any,
    control: Any,
    errors: Any,
    check: PayloadCheck,
    wire: str,
    cpus: list[int] | None,
    fault: str,
    index: int = 0,
) -> None:
    """Entry point of a worker thread (``Transport.in_threads``): ``child_main``'s protocol in
    a thread of the driver process. The process's signals stay with the driver's main thread
    (blocked here). An exception is reported and ends the thread -- not the process; closing
    ``errors`` on the way out is what tells the driver's watcher that the thread ended. The
    ``kill`` fault still kills the process (the driver): a thread has no process of its own."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGUSR1})
    try:
        # pinning a thread: Linux's sched_setaffinity(0) sets the calling thread's CPUs only
        _serve(role, endpoints, control, check, wire, cpus, fault, index, threading.get_native_id())
    except BaseException as exc:
        with contextlib.suppress(OSError):
            errors.send(_error_text(exc))
    finally:
        for conn in (control, errors):
            conn.close()


def _serve(
    role: type[Role],
    endpoints: Any,
    control: Any,
    check: PayloadCheck,
    wire: str,
    cpus: list[int] | None,
    fault: str,
    index: int,
    pid: int,
) -> None:
    """Pin, prepare the endpoints, report ready, then serve the driver's commands."""
    pin(cpus)
    eps = endpoints if isinstance(endpoints, list) else [endpoints]
    for ep in eps:
        ep.in_child()
    control.send(Ready(pid, affinity()))
    role(eps, control, check, wire, fault, index).serve()


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"


class Role:
    """The command loop of one child process; a pattern's role implements ``run``."""

    name: ClassVar[str] = "worker"  # the process is named ipcbench-<name>-<index>

    def __init__(
        self,
        eps: list[Any],
        control: Any,
        check: PayloadCheck,
        wire: str,
        fault: str,
        index: int,
    ) -> None:
        self.eps = eps
        self.ep = eps[0]
        self.control = control
        self.check = check
        self.wire = wire
        self.fault = fault
        self.index = index
        # its own copy, built from the small check rather than shipped (see wire.template)
        payload, _ = make_payload(check.kind, check.payload_bytes)
        self.payload = payload
        self.frame = new_frame(payload) if wire == "bytes" else None

    def serve(self) -> None:
        while True:
            cmd = self.control.recv()
            if cmd[0] == "stop":
                for ep in self.eps:
                    ep.close()
                return
            self.run(*cmd[1:])

    def run(self, *args: Any) -> None:
        """One batch (the arguments of the driver's ``("run", ...)`` command)."""
        raise NotImplementedError

    def message(self, seq: int) -> Any:
        if self.frame is not None:
            return stamp(self.frame, seq)
        return (seq, self.payload)

    def faulty(self, seq: int, msg: Any) -> list[Any]:
        """The messages to send in place of ``msg`` (fault injection for tests)."""
        if seq != FAULT_SEQ or not self.fault or self.fault.startswith("consumer_"):
            return [msg]
        return _apply_fault(self.fault, seq, msg)


def kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _apply_fault(fault: str, seq: int, msg: Any) -> list[Any]:
    if fault == "drop":
        return []
    if fault == "duplicate":
        return [msg, msg]
    if fault == "hang":
        time.sleep(3600)
    if fault == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == "raise":
        raise RuntimeError(f"injected fault at message {seq}")
    return [_damage(msg, fault)]


def _damage(msg: Any, fault: str) -> Any:
    """A truncated or corrupted copy of a message (object tuple or bytes frame). Corruption
    hits the middle of the payload (one byte flipped, the middle item replaced, or one byte
    of an ndarray's middle element flipped, in a copy), where a check of the head and tail
    alone would miss it."""
    if isinstance(msg, tuple):
        seq, payload, *rest = msg
        if fault == "truncate":
            return (seq, payload[:-1], *rest)
        mid = len(payload) // 2
        if isinstance(payload, bytes):
            return (seq, _flip(payload, mid), *rest)
        if isinstance(payload, list):
            return (seq, [*payload[:mid], (-1, 0.0, "corrupt"), *payload[mid + 1 :]], *rest)
        return (seq, _flip_array(payload, mid), *rest)
    data = bytes(msg)
    if fault == "truncate":
        return data[:-1]
    return _flip(data, SEQ.size + (len(data) - SEQ.size) // 2)


def _flip(data: bytes, index: int) -> bytes:
    """``data`` with the byte at ``index`` inverted."""
    return data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1 :]


def _flip_array(array: Any, index: int) -> Any:
    """A copy of a NumPy ``array`` (the template is read-only and shared) with the first byte
    of element ``index`` inverted."""
    damaged = array.copy()
    raw = memoryview(damaged).cast("B")
    at = index * damaged.itemsize
    raw[at] ^= 0xFF
    return damaged
