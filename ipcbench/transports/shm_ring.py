"""Shared-memory ring: frames through a single-producer/single-consumer ring in one segment.

One ring per direction (pingpong two; fan one per producer-consumer pair). A ring is one
``SharedMemory`` segment (created, unlinked and shared by fd as in ``shm_handoff``, see
``transports/shm.py``): a 256-byte header of four 8-byte counters, each on its own cache line,

* ``head``: bytes ever written (the producer's only), ``tail``: bytes ever consumed (the
  consumer's only) -- free space is ``capacity - (head - tail)``;
* ``data_epoch``, ``space_epoch``: the consumer's and the producer's wait counters (odd:
  that side is about to sleep or asleep), each written by its waiter only,

then ``capacity`` bytes of records ``[u64 frame length][frame][pad to 8]``. A record never
wraps: where the rest of the ring is too short, a wrap marker (length ``WRAP``) fills it and
the record starts at offset 0, published with it. So ``recv`` returns the frame in place (a
memoryview into the ring, no copy), valid until the next ``recv`` of that endpoint, which is
when its space is handed back (``tail`` stored). The payload is copied once, by the sender.
Capacity: 4 records of the case's frame, at least 64 KiB (a pipe's buffer), rounded up to
4 KiB; a frame longer than the case's is a ValueError, a shorter one (an end marker, a
truncated frame) is fine.

Waiting (no CPU burnt): each ring has two pipes as doorbells, ``data`` (producer -> consumer)
and ``space`` (consumer -> producer). A side that finds the ring empty (consumer) or full
(producer) makes its epoch odd, issues a full fence, re-checks the index, and only then
blocks in ``os.read`` of its doorbell; woken, it makes its epoch even. The other side, after
storing its index, issues a full fence and reads the epoch: odd and not yet rung for -> one
byte down the doorbell (write side non-blocking: a full pipe already wakes). So the common
case costs no system call; the only ones are the doorbells of a side that really waits.
The consumer rings a waiting producer only once half the ring is free (hysteresis: the
producer then writes many records before it waits again; it waits for at most 2 records,
which fit in half of 4). The lost wake-up race -- the waiter re-checks, the other side
stores its index and reads the epoch as "not waiting", the waiter sleeps -- is closed by the
two fences (Dekker: each side stores, fences, then loads the other's word, so at least one
sees the other's store). A pipe's EOF is the peer's death or close: EOFError, not a hang.

Why every read sees a complete write. The assumption, stated: x86-64 (TSO; other machines
are refused in ``unavailable_reason``) and CPython doing each Python-level memory operation
as what its C code says. (1) ``head``/``tail``/epochs are aligned 8-byte words read and
written through a memoryview cast to ``"Q"``, whose item get/set is one ``memcpy`` of 8
bytes, i.e. one aligned 8-byte load or store, atomic on x86-64 (Intel SDM 3A, 9.1.1): no
torn index. (``struct.pack_into("<Q")`` stores byte by byte and is not used.) (2) The
producer copies the frame and its length, then stores ``head``; x86-64 does not reorder
stores with stores, so a consumer that loads the new ``head`` and then (loads are not
reordered with loads) the record sees all of it. (3) The consumer finishes reading a record
before storing the ``tail`` that frees it (the next ``recv``); loads are not reordered with
later stores, and the producer writes into that space only after loading that ``tail``.
(4) The one reordering x86-64 does -- a store passing a later load -- is what the Dekker
pattern above needs forbidden: Python has no fence, so the fence is an uncontended
``threading.Lock`` acquire + release (in every CPython an atomic read-modify-write: glibc's
sem_wait/sem_post in 3.11, PyMutex's compare-exchange later; on x86-64 a locked instruction,
a full barrier for all memory). The compiler cannot move accesses across these: each is a
separate opaque C call. A record overwritten too early or read too soon would show as a wrong
sequence number, length or payload in the verifier (which reads them from the ring).

Fan runs over pairs; ``ready_among`` checks every ring's ``head`` and, when all are empty,
waits on their data doorbells (the same epoch protocol, one fence for all).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import platform
import sys
import threading
from multiprocessing.connection import Connection, wait
from typing import Any, ClassVar

from ipcbench.transports.base import Channel, ChannelSpec, Endpoint, Transport
from ipcbench.transports.shm import SegmentFd, create_segment, fd_pipe, view_arrays

NAME_PREFIX = "ipcb_ring_"  # /dev/shm/<prefix><pid>_<random>, for the few µs it exists
HEADER_BYTES = 256
HEAD, TAIL, DATA_EPOCH, SPACE_EPOCH = 0, 8, 16, 24  # word indices: 64 B apart
LEN_BYTES = 8  # a record's length word
WRAP = (1 << 64) - 1  # the length of a wrap marker: the record is at offset 0
RECORDS = 4  # capacity in records of the case's frame
MIN_CAPACITY_BYTES = 64 * 1024
PAGE_BYTES = 4096
DRAIN_BYTES = 4096  # a woken waiter reads the doorbell's bytes (stale ones too) at once
TSO_MACHINES = ("x86_64", "amd64")


def record_bytes(frame_bytes: int) -> int:
    """Ring bytes of one record: the length word, the frame, padding to 8."""
    return LEN_BYTES + -(-frame_bytes // 8) * 8


def ring_capacity(frame_bytes: int) -> int:
    """Data bytes of a ring for frames up to ``frame_bytes`` (a multiple of 8 and of 4 KiB)."""
    want = max(MIN_CAPACITY_BYTES, RECORDS * record_bytes(frame_bytes))
    return -(-want // PAGE_BYTES) * PAGE_BYTES


class RingSide:
    """One side of one ring (picklable into a child): the segment's fd, the capacity, the
    largest frame, and this side's doorbell ends: the one it rings (writer) and the one it
    waits on (reader). The producer rings ``data`` and waits on ``space``; the consumer the
    other way round."""

    def __init__(
        self, segment: SegmentFd, capacity: int, frame_bytes: int, ring: Any, waits: Any
    ) -> None:
        self.segment = segment
        self.capacity = capacity
        self.frame_bytes = frame_bytes
        self.ring = ring  # a Connection: the write side of the peer's doorbell
        self.waits = waits  # a Connection: the read side of this side's doorbell

    def close(self) -> None:
        self.segment.close()
        for conn in (self.ring, self.waits):
            if not conn.closed:
                conn.close()


def ring(frame_bytes: int) -> tuple[RingSide, RingSide]:
    """A new ring for frames up to ``frame_bytes``: (the producer's side, the consumer's)."""
    capacity = ring_capacity(frame_bytes)
    segment = create_segment(NAME_PREFIX, HEADER_BYTES + capacity, "shm_ring")
    conns: list[Connection] = []
    try:
        data_r, data_w = fd_pipe(nonblocking_writer=True)
        conns += [data_r, data_w]
        space_r, space_w = fd_pipe(nonblocking_writer=True)
        conns += [space_r, space_w]
        consumer_segment = segment.dup()
    except OSError:
        segment.close()
        for conn in conns:
            conn.close()
        raise
    return (
        RingSide(segment, capacity, frame_bytes, data_w, space_r),
        RingSide(consumer_segment, capacity, frame_bytes, space_w, data_r),
    )


class _Mapped:
    """A side's mapping of its ring: the header words and the data bytes (and words)."""

    def __init__(self, side: RingSide) -> None:
        self.map = mmap.mmap(side.segment.fd, HEADER_BYTES + side.capacity)
        whole = memoryview(self.map)
        self.views = [whole]
        self.ctl = whole[:HEADER_BYTES].cast("Q")  # one aligned 8-byte load/store per item
        self.data = whole[HEADER_BYTES:]
        self.words = self.data.cast("Q")
        self.views += [self.ctl, self.data, self.words]
        self.capacity = side.capacity
        self.ring_fd = side.ring.fileno()
        self.wait_fd = side.waits.fileno()

    def close(self) -> None:
        for view in reversed(self.views):
            with contextlib.suppress(BufferError):  # a returned frame is still referenced
                view.release()
        self.views.clear()
        with contextlib.suppress(BufferError):  # unmapped when the last such view goes
            self.map.close()


def _block(fd: int, who: str) -> None:
    """Sleep until the doorbell has bytes (take them all); EOFError when the peer is gone."""
    if not os.read(fd, DRAIN_BYTES):
        raise EOFError(f"shm_ring: the {who} closed its end")


def _ring_bell(fd: int) -> None:
    # a full pipe: the waiter wakes anyway; a closed one: no waiter is left to wake (a
    # consumer still reads what a dead producer wrote; a producer whose consumer is gone
    # finds out when it next has to wait: EOFError)
    with contextlib.suppress(BlockingIOError, BrokenPipeError):
        os.write(fd, b"\0")


class RingEnd(Endpoint):
    """One side: produces into ``out`` (a producer's RingSide or None), consumes ``inp``."""

    array: Any = None  # the array the last recv viewed (ndarray payloads: ``arrays``)

    def __init__(self, out: RingSide | None, inp: RingSide | None, arrays: bool = False) -> None:
        self.out = out
        self.inp = inp
        self.arrays = arrays  # view each frame received as an array (shm.view_arrays)
        self._attach()
        if arrays and inp is not None:
            view_arrays(self, inp.frame_bytes)

    def __getstate__(self) -> dict[str, Any]:
        return {"out": self.out, "inp": self.inp, "arrays": self.arrays}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["out"], state["inp"], state["arrays"])  # type: ignore[misc]

    def _attach(self) -> None:
        """Map the rings, read the indices once (each side then keeps its own in a local)."""
        lock = threading.Lock()  # private, uncontended: acquire + release is a full fence
        self._lock_acquire, self._lock_release = lock.acquire, lock.release
        self._mapped: list[_Mapped] = []
        if self.out is not None:
            out = _Mapped(self.out)
            self._mapped.append(out)
            self.o = out
            self.o_head = out.ctl[HEAD]
            self.o_tail = out.ctl[TAIL]  # the last tail seen (free space at least this much)
            self.o_rung = 0  # the consumer's wait epoch last rung for
            self.o_max = self.out.frame_bytes
        if self.inp is not None:
            inp = _Mapped(self.inp)
            self._mapped.append(inp)
            self.i = inp
            self.i_tail = inp.ctl[TAIL]  # past the record the last recv returned
            self.i_stored = self.i_tail  # the tail in the ring (the held record not freed)
            self.i_head = inp.ctl[HEAD]  # the last head seen
            self.i_rung = 0  # the producer's wait epoch last rung for
            self.i_fd = inp.wait_fd

    def _fence(self) -> None:
        self._lock_acquire()
        self._lock_release()

    # -- producer --------------------------------------------------------------------

    def send(self, frame: Any) -> None:
        """Copy ``frame`` into the ring (waiting for room if there is none) and publish it."""
        size = len(frame)
        if size > self.o_max:
            raise ValueError(f"frame of {size} bytes, the ring is sized for {self.o_max}")
        o, head = self.o, self.o_head
        capacity = o.capacity
        pos = head % capacity
        rec = LEN_BYTES + -(-size // 8) * 8
        skip = capacity - pos if capacity - pos < rec else 0
        need = skip + rec
        if capacity - (head - self.o_tail) < need:
            self.o_tail = o.ctl[TAIL]
            if capacity - (head - self.o_tail) < need:
                self._await_space(need)
        if skip:
            o.words[pos >> 3] = WRAP
            pos = 0
        o.data[pos + LEN_BYTES : pos + LEN_BYTES + size] = frame
        o.words[pos >> 3] = size
        head += need
        self.o_head = head
        o.ctl[HEAD] = head  # after the record: stores are not reordered with stores
        self._fence()  # the store above before the load below (Dekker with the consumer)
        epoch = o.ctl[DATA_EPOCH]
        if epoch & 1 and epoch != self.o_rung:
            self.o_rung = epoch
            _ring_bell(o.ring_fd)

    def _await_space(self, need: int) -> None:
        """Block until ``need`` bytes are free (the consumer rings at half the ring free)."""
        o, ctl = self.o, self.o.ctl
        while True:
            ctl[SPACE_EPOCH] += 1  # odd: waiting
            self._fence()
            self.o_tail = ctl[TAIL]
            if o.capacity - (self.o_head - self.o_tail) >= need:
                ctl[SPACE_EPOCH] += 1
                return
            try:
                _block(o.wait_fd, "consumer")
            finally:
                ctl[SPACE_EPOCH] += 1  # even: awake
            self.o_tail = ctl[TAIL]
            if o.capacity - (self.o_head - self.o_tail) >= need:
                return

    # -- consumer --------------------------------------------------------------------

    def recv(self) -> memoryview:
        """The next frame, in place in the ring (valid until the next recv)."""
        if self.i_stored != self.i_tail:
            self._free_held()
        i, tail = self.i, self.i_tail
        if self.i_head == tail:
            self.i_head = i.ctl[HEAD]
            if self.i_head == tail:
                self._await_data()
        capacity = i.capacity
        pos = tail % capacity
        size = i.words[pos >> 3]
        if size == WRAP:
            tail += capacity - pos
            pos = 0
            size = i.words[0]
        self.i_tail = tail + LEN_BYTES + -(-size // 8) * 8
        return i.data[pos + LEN_BYTES : pos + LEN_BYTES + size]

    def _free_held(self) -> None:
        """Hand the last returned record's space back; wake a waiting producer once half the
        ring is free."""
        i, tail = self.i, self.i_tail
        self.i_stored = tail
        i.ctl[TAIL] = tail  # after the reads of the record: loads are not passed by stores
        self._fence()
        epoch = i.ctl[SPACE_EPOCH]
        if epoch & 1 and epoch != self.i_rung and self._half_free():
            self.i_rung = epoch
            _ring_bell(i.ring_fd)

    def _half_free(self) -> bool:
        """Whether half the ring is free (read only when the producer waits)."""
        i = self.i
        return 2 * (i.capacity - (i.ctl[HEAD] - self.i_stored)) >= i.capacity

    def _has_data(self) -> bool:
        if self.i_head != self.i_tail:
            return True
        self.i_head = self.i.ctl[HEAD]
        return self.i_head != self.i_tail

    def _await_data(self) -> None:
        """Block until the ring has a record."""
        ctl = self.i.ctl
        while True:
            ctl[DATA_EPOCH] += 1  # odd: waiting
            self._fence()
            if self._has_data():
                ctl[DATA_EPOCH] += 1
                return
            try:
                _block(self.i_fd, "producer")
            finally:
                ctl[DATA_EPOCH] += 1  # even: awake
            if self._has_data():
                return

    def ready_among(self, eps: list[Any]) -> list[Any]:
        """Those of ``eps`` with a record waiting; when none has, sleep on all their data
        doorbells (each epoch odd, one fence, re-check, block)."""
        while True:
            ready = [ep for ep in eps if ep._has_data()]
            if ready:
                return ready
            for ep in eps:
                ep.i.ctl[DATA_EPOCH] += 1
            self._fence()
            ready = [ep for ep in eps if ep._has_data()]
            try:
                if not ready:
                    self._sleep_among(eps)
            finally:
                for ep in eps:
                    ep.i.ctl[DATA_EPOCH] += 1

    def _sleep_among(self, eps: list[Any]) -> None:
        by_fd = {ep.i_fd: ep for ep in eps}  # built per sleep: ``eps`` changes (pairs end)
        for fd in wait(list(by_fd)):
            assert isinstance(fd, int)
            if not os.read(fd, DRAIN_BYTES) and not by_fd[fd]._has_data():
                raise EOFError("shm_ring: a producer closed its end")

    def close(self) -> None:
        """Unmap (if no frame handed out is still alive; else when the last one goes) and
        close the fds of this side's copy of the rings."""
        self.array = None
        for mapped in self._mapped:
            mapped.close()
        self._mapped.clear()
        for side in (self.out, self.inp):
            if side is not None:
                side.close()


class ShmRingTransport(Transport):
    name = "shm_ring"
    description = "SPSC ring in one SharedMemory segment; pipe doorbells only when a side sleeps"
    kernel_floor = None
    wire = "bytes"
    patterns: ClassVar[tuple[str, ...]] = ("pingpong", "stream", "fan")
    fan_mode = "pairs"

    @classmethod
    def payload_kinds(cls) -> tuple[str, ...]:
        """Frames of bytes, or of an ndarray's bytes: copied in, viewed out (``view_arrays``)."""
        return ("bytes", "ndarray")

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if not sys.platform.startswith("linux"):
            return "shm_ring needs Linux (/dev/shm, posix_fallocate)"
        if platform.machine().lower() not in TSO_MACHINES:
            return f"shm_ring relies on x86-64 memory ordering (TSO), not {platform.machine()}"
        return None

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        frame_bytes = spec.frame_bytes
        up_send, up_recv = ring(frame_bytes)  # child -> parent
        arrays = spec.payload_kind == "ndarray"
        if not duplex:
            return Channel(
                parent=RingEnd(None, up_recv, arrays), child=RingEnd(up_send, None, arrays)
            )
        down_send, down_recv = ring(frame_bytes)  # parent -> child
        return Channel(
            parent=RingEnd(down_send, up_recv, arrays),
            child=RingEnd(up_send, down_recv, arrays),
        )
