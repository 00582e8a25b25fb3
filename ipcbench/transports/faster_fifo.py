"""Peer: faster-fifo's Queue (a circular buffer in shared memory), put/get (pickled).

Optional (``pip install 'ipcbench[peers]'``): the package is imported only when a channel is
opened, so ``ipcbench list`` shows the transport as unavailable and a sweep records
``status=skipped`` when it is missing.

Two things differ from ``multiprocessing.Queue`` and are handled here:

* the buffer is fixed (``max_size_bytes``, 1 MB by default) and a message larger than it can
  never be put, so the buffer is sized from the case's own pickled message (the session's
  payload, handed over in the ``ChannelSpec``);
* ``put``/``get`` time out after 10 s by default, and a thread blocked in the C call does not
  run Python signal handlers (the driver learns of a dead child through SIGUSR1). Endpoints
  therefore wait in slices of ``WAIT_SLICE_S`` and retry on Full/Empty.

A worker killed while it holds the queue's lock is the third: faster-fifo takes its
process-shared mutex with a plain ``pthread_mutex_lock`` (no timeout; the GIL is released,
but the C call never returns), so every other process, the driver included, would block
forever, and the case end as a watchdog ``timeout`` instead of a ``crash``. The timeout
argument cannot help: it only bounds the condition-variable wait that comes after the lock.
So the mutex is made *robust* right after the queue is created (``make_lock_robust``): when
its owner dies the kernel releases it, the next ``lock`` returns (EOWNERDEAD, which faster-fifo
ignores), the call returns within ``WAIT_SLICE_S``, and the driver's SIGUSR1 handler reports
the dead worker. Robust locking costs a few stores per lock, unmeasurable next to a put/get
(about 12 us for a 64 B put + get either way on the 2-vCPU Xeon). It needs glibc and the
struct layout of faster-fifo 1.4/1.5; where either differs the queue is left as it is.
"""

from __future__ import annotations

import ctypes
import pickle
import queue
import struct
import sys
import time
from typing import Any

from ipcbench.transports.base import CALL_STYLES, Channel, ChannelSpec, Endpoint, Transport

WAIT_SLICE_S = 0.5  # longest wait inside one put/get call before Python code runs again
MESSAGE_SLACK_BYTES = 4096  # faster-fifo's per-message header, pickle protocol differences
MIN_BUFFER_BYTES = 1000 * 1000  # faster-fifo's default circular buffer size
INSTALL_HINT = "pip install 'ipcbench[peers]'"

# faster-fifo's C ``Queue`` (1.4/1.5, x86-64 glibc): six size_t, pthread_mutexattr_t (4 B),
# pthread_mutex_t (40 B, its kind at +16), pthread_condattr_t, two pthread_cond_t.
QUEUE_STRUCT_BYTES = 208
MUTEX_ATTR_OFFSET = 48
MUTEX_OFFSET = 56
MUTEX_BYTES = 40
MUTEX_KIND_OFFSET = MUTEX_OFFSET + 16
PSHARED_ATTR_FLAG = 0x80000000  # glibc: pthread_mutexattr_setpshared(PTHREAD_PROCESS_SHARED)
PSHARED_KIND = 128  # glibc: PTHREAD_MUTEX_PSHARED_BIT in the mutex's kind
ROBUST_KIND = 16  # glibc: PTHREAD_MUTEX_ROBUST_NORMAL_NP
PTHREAD_PROCESS_SHARED = 1
PTHREAD_MUTEX_ROBUST = 1
LARGEST_SEQ = 2**62  # pickles longer than any sequence number a case reaches


def message_bytes(payload: Any) -> int:
    """Pickled size of the largest message carrying ``payload``: ``(seq, payload)``."""
    return len(pickle.dumps((LARGEST_SEQ, payload), protocol=pickle.HIGHEST_PROTOCOL))


def buffer_bytes(payload: Any) -> int:
    """``max_size_bytes`` for a case's payload: room for two messages, never below the
    default."""
    return max(MIN_BUFFER_BYTES, 2 * (message_bytes(payload) + MESSAGE_SLACK_BYTES))


def _mutex_address(q: Any) -> int | None:
    """Address of the queue's mutex if the struct is the one described above, unlocked."""
    if not sys.platform.startswith("linux") or struct.calcsize("P") != 8:
        return None
    state = getattr(q, "queue_obj_buffer", None)
    if state is None or len(state) != QUEUE_STRUCT_BYTES:
        return None
    raw = bytes(state)
    (attr,) = struct.unpack_from("I", raw, MUTEX_ATTR_OFFSET)
    (kind,) = struct.unpack_from("i", raw, MUTEX_KIND_OFFSET)
    mutex = bytearray(raw[MUTEX_OFFSET : MUTEX_OFFSET + MUTEX_BYTES])
    mutex[16:20] = bytes(4)  # all but the kind is zero in an unlocked, unused mutex
    if attr != PSHARED_ATTR_FLAG or kind != PSHARED_KIND or any(mutex):
        return None
    return ctypes.addressof(state) + MUTEX_OFFSET


def make_lock_robust(q: Any) -> bool:
    """Re-initialise the new (not yet shared) queue's mutex as process-shared and robust, so
    a process that dies holding it does not block the others forever. False (queue left as
    it is) where the layout or the C library is not the expected one."""
    address = _mutex_address(q)
    if address is None:
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.gnu_get_libc_version  # noqa: B018  # glibc only: the kind bits are glibc's
    except (OSError, AttributeError):
        return False
    attr = ctypes.create_string_buffer(16)  # pthread_mutexattr_t is 4 bytes here
    ok = (
        libc.pthread_mutexattr_init(attr) == 0
        and libc.pthread_mutexattr_setpshared(attr, PTHREAD_PROCESS_SHARED) == 0
        and libc.pthread_mutexattr_setrobust(attr, PTHREAD_MUTEX_ROBUST) == 0
        and libc.pthread_mutex_init(ctypes.c_void_p(address), attr) == 0
    )
    libc.pthread_mutexattr_destroy(attr)
    (kind,) = struct.unpack_from("i", bytes(q.queue_obj_buffer), MUTEX_KIND_OFFSET)
    return ok and kind == PSHARED_KIND | ROBUST_KIND


def new_queue(size_bytes: int) -> Any:
    """A faster-fifo Queue whose lock survives the death of a process holding it."""
    import faster_fifo

    q = faster_fifo.Queue(max_size_bytes=size_bytes)
    make_lock_robust(q)
    return q


class FifoEnd(Endpoint):
    """put/get on two faster-fifo queues (out, in); either may be None (one-way).

    ``call`` "block" (or "") waits in slices of ``WAIT_SLICE_S`` (see above: not counted as
    retries); "timeout" passes the case's timeout and counts each expiry in ``retries``;
    "nowait" calls put/get with ``block=False`` and counts each Full/Empty, yielding the GIL.
    The queues live in shared memory owned by the driver, so ``close`` is a no-op.
    """

    def __init__(
        self, out_q: Any, in_q: Any, call: str = "", timeout_s: float | None = None
    ) -> None:
        self.out_q = out_q
        self.in_q = in_q
        self.call = call
        self.timeout_s = timeout_s
        self.retries = 0
        if call == "timeout" and not (timeout_s and timeout_s > 0):
            raise ValueError(f"call 'timeout' needs a positive timeout, got {timeout_s!r}")
        if call == "nowait":
            self.send = self._put_nowait  # type: ignore[method-assign]
            self.recv = self._get_nowait  # type: ignore[method-assign]

    def __getstate__(self) -> dict[str, Any]:
        return {
            "out_q": self.out_q,
            "in_q": self.in_q,
            "call": self.call,
            "timeout_s": self.timeout_s,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def send(self, msg: Any) -> None:
        put = self.out_q.put
        timed, wait_s = self.call == "timeout", self.timeout_s or WAIT_SLICE_S
        while True:
            try:
                put(msg, True, wait_s)
                return
            except queue.Full:
                if timed:
                    self.retries += 1

    def recv(self) -> Any:
        get = self.in_q.get
        timed, wait_s = self.call == "timeout", self.timeout_s or WAIT_SLICE_S
        while True:
            try:
                return get(True, wait_s)
            except queue.Empty:
                if timed:
                    self.retries += 1

    def _put_nowait(self, msg: Any) -> None:
        put, sleep = self.out_q.put, time.sleep
        while True:
            try:
                put(msg, False)
                return
            except queue.Full:
                self.retries += 1
                sleep(0)

    def _get_nowait(self) -> Any:
        get, sleep = self.in_q.get, time.sleep
        while True:
            try:
                return get(False)
            except queue.Empty:
                self.retries += 1
                sleep(0)


class FasterFifoTransport(Transport):
    name = "faster_fifo"
    description = "peer: faster-fifo Queue (shared-memory ring buffer), put/get (pickled)"
    kernel_floor = None
    patterns = ("pingpong", "stream", "fan", "nowait")
    fan_mode = "shared"  # one multi-producer multi-consumer queue, like multiprocessing.Queue
    calls = CALL_STYLES

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import faster_fifo  # noqa: F401
        except ImportError:
            return f"faster-fifo is not installed ({INSTALL_HINT})"
        return None

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        if spec.payload is None:
            raise ValueError("faster_fifo sizes its buffer by the payload: ChannelSpec(payload=)")
        size = buffer_bytes(spec.payload)
        call, timeout_s = spec.call, spec.call_timeout_s
        up = new_queue(size)
        if not duplex:
            return Channel(
                parent=FifoEnd(None, up, call, timeout_s), child=FifoEnd(up, None, call, timeout_s)
            )
        down = new_queue(size)
        return Channel(
            parent=FifoEnd(down, up, call, timeout_s), child=FifoEnd(up, down, call, timeout_s)
        )
