"""Shared-memory hand-off: the frame goes through a SharedMemory block, its descriptor a pipe.

One lane per direction. A lane is a pool of ``blocks`` blocks of one frame each in one
``multiprocessing.shared_memory.SharedMemory`` segment (created in ``open``, outside any
clock), a descriptor pipe and a free-block pipe (``os.pipe``). To send a bytes-wire frame the
sender takes a free block, copies the frame into it, and writes a 16-byte descriptor (block,
length, sequence number) to the descriptor pipe. The receiver reads the descriptor and returns
the frame in place: a memoryview of the block, no copy. It hands the block back (its index,
on the free-block pipe) when it is called for the next frame, so what ``recv`` returned stays
valid until the next ``recv``, as with the raw fd floors. The sender blocks, reading the
free-block pipe, only when none of its blocks is free; the receiver blocks reading the
descriptor pipe. Neither spins. The payload is copied once (into the block, by the sender);
the pipes carry 16 + 4 bytes per message. The descriptor's sequence number repeats the
frame's own and is not checked by ``recv``: the verifier reads the one in the block.

Pool: 8 blocks per lane for frames up to 1 MiB, 4 above, each a frame rounded up to 64 B;
a pingpong case has two lanes, a fan case one per producer-consumer pair. The pages are
allocated in ``open`` (``posix_fallocate``), so a /dev/shm too small for the pool fails there.

Why every read sees a complete write: the sender finishes copying into the block before its
``write`` of the descriptor, and the receiver touches the block only after its ``read`` of
that descriptor returned; the pipe's lock in the kernel orders the two (a system call on
each side). The sender reuses a block only after the receiver's ``write`` of its index, which
comes after the receiver's last use of it. A block overwritten too early would show as a
wrong sequence number or payload in the verifier (which reads them from the block).

/dev/shm: the segment is unlinked in ``open`` as soon as it exists, before any child starts;
the processes share it through a file descriptor, not its name. The driver keeps a duplicate of
the segment's fd; children get it like the pipes' fds (inherited under fork; passed by
multiprocessing while a spawn or forkserver child starts, ``reduction.DupFd``) and map it
themselves. Linux keeps the memory while a mapping or fd exists and frees it when the last
process holding one exits, so no segment survives a killed child or driver, and nothing
is left for the resource tracker: ``SharedMemory(create=True)`` registered the name with the
driver's tracker and ``unlink`` unregistered it at once. Children never attach by name: in
3.11 attaching registers the name with the attaching process's tracker too (CPython
gh-82300; ``track=False`` exists from 3.13 only), which would then unlink it or warn.
``Channel.close`` unmaps and closes the driver's copies.

Fan runs over pairs (one lane per producer-consumer pair); ``ready_among`` waits on the
descriptor pipes.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import secrets
import struct
from multiprocessing import reduction
from multiprocessing.connection import Connection, wait
from multiprocessing.shared_memory import SharedMemory
from typing import Any, ClassVar

from ipcbench.transports.base import Channel, ChannelSpec, Endpoint, Transport
from ipcbench.transports.shm import view_arrays
from ipcbench.wire import SEQ, SEQ_BYTES

NAME_PREFIX = "ipcb_handoff_"  # /dev/shm/<prefix><pid>_<random>, for the few µs it exists
DESC = struct.Struct("<IIQ")  # block, frame length, sequence number (16 B: one atomic write)
FREE = struct.Struct("<I")  # a block handed back
ALIGN_BYTES = 64  # blocks start on a cache line: a block written never shares one being read
SMALL_FRAME_BYTES = 1024**2  # frames up to this size get SMALL_POOL blocks, larger LARGE_POOL
SMALL_POOL, LARGE_POOL = 8, 4


def pool_blocks(frame_bytes: int) -> int:
    """Blocks per lane: the sender can be this many frames minus one ahead of the receiver
    (which holds one until its next recv)."""
    return SMALL_POOL if frame_bytes <= SMALL_FRAME_BYTES else LARGE_POOL


def block_bytes(frame_bytes: int) -> int:
    return -(-frame_bytes // ALIGN_BYTES) * ALIGN_BYTES


class _SegmentFd:
    """The fd of an unlinked segment, picklable into a starting child (like a Connection's)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_segment_fd, (reduction.DupFd(self.fd),))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _rebuild_segment_fd(dup: Any) -> _SegmentFd:
    return _SegmentFd(dup.detach())


def _pipe() -> tuple[Connection, Connection]:
    """An os.pipe() in Connections, so multiprocessing hands the fds to children."""
    r, w = os.pipe()
    return Connection(r, writable=False), Connection(w, readable=False)


def _create_segment(size_bytes: int) -> _SegmentFd:
    """A new shared memory segment of ``size_bytes``, already unlinked: only its fd remains.

    Its pages are allocated now (``posix_fallocate``, outside any clock): a /dev/shm too
    small for the pool (Docker's default is 64 MiB) is an error here, not a SIGBUS in the
    middle of a copy into a block."""
    shm = SharedMemory(f"{NAME_PREFIX}{os.getpid()}_{secrets.token_hex(4)}", True, size_bytes)
    try:
        fd = os.dup(shm._fd)  # type: ignore[attr-defined]  # no public accessor in 3.11
    finally:
        shm.close()
        shm.unlink()  # removes the name and unregisters it from the resource tracker
    try:
        os.posix_fallocate(fd, 0, size_bytes)
    except OSError as exc:
        os.close(fd)
        raise OSError(
            exc.errno, f"shm_handoff: no room in /dev/shm for a pool of {size_bytes} bytes"
        ) from exc
    return _SegmentFd(fd)


class LaneSide:
    """One side of one direction's pool (picklable into a child): the segment's fd, the
    pool's geometry, and this side's ends of the two pipes -- the sender's descriptor writer
    and free-block reader, or the receiver's descriptor reader and free-block writer."""

    def __init__(
        self, segment: _SegmentFd, frame_bytes: int, blocks: int, desc: Any, free: Any
    ) -> None:
        self.segment = segment
        self.frame_bytes = frame_bytes
        self.blocks = blocks
        self.desc = desc  # a Connection: the descriptor pipe's writer (sender) or reader
        self.free = free  # a Connection: the free-block pipe's reader (sender) or writer

    def map(self) -> tuple[mmap.mmap, memoryview, list[memoryview]]:
        """Map the segment: the map, a view of all of it, and one frame-sized view per block."""
        stride = block_bytes(self.frame_bytes)
        mapped = mmap.mmap(self.segment.fd, self.blocks * stride)
        whole = memoryview(mapped)
        frames = [whole[i * stride : i * stride + self.frame_bytes] for i in range(self.blocks)]
        return mapped, whole, frames

    def close(self) -> None:
        self.segment.close()
        for conn in (self.desc, self.free):
            if not conn.closed:
                conn.close()


def lane(frame_bytes: int) -> tuple[LaneSide, LaneSide]:
    """A new pool for frames of ``frame_bytes``: (the sender's side, the receiver's side)."""
    blocks = pool_blocks(frame_bytes)
    segment = _create_segment(blocks * block_bytes(frame_bytes))
    try:
        desc_r, desc_w = _pipe()
        free_r, free_w = _pipe()
    except OSError:
        segment.close()
        raise
    receiver_segment = _SegmentFd(os.dup(segment.fd))
    return (
        LaneSide(segment, frame_bytes, blocks, desc_w, free_r),
        LaneSide(receiver_segment, frame_bytes, blocks, desc_r, free_w),
    )


class HandoffEnd(Endpoint):
    """One side: sends on ``out`` (a sender's LaneSide or None), receives on ``inp``."""

    array: Any = None  # the array the last recv viewed (ndarray payloads: ``arrays``)

    def __init__(self, out: LaneSide | None, inp: LaneSide | None, arrays: bool = False) -> None:
        self.out = out
        self.inp = inp
        self.arrays = arrays  # view each frame received as an array (shm.view_arrays)
        self._maps: list[mmap.mmap] = []
        self._views: list[memoryview] = []
        self._by_fd: dict[int, HandoffEnd] | None = None  # ready_among: descriptor fd -> end
        self._attach()
        if arrays and inp is not None:
            view_arrays(self, inp.frame_bytes)

    def __getstate__(self) -> dict[str, Any]:
        return {"out": self.out, "inp": self.inp, "arrays": self.arrays}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["out"], state["inp"], state["arrays"])  # type: ignore[misc]

    def _attach(self) -> None:
        """Map the lanes' segments and take the pipes' fds (no test per message)."""
        if self.out is not None:
            mapped, whole, frames = self.out.map()
            self._maps.append(mapped)
            self._views += [*frames, whole]
            self.out_whole, self.out_frames = whole, frames
            self.out_stride = block_bytes(self.out.frame_bytes)
            self.out_frame_bytes = self.out.frame_bytes
            self.out_blocks = self.out.blocks
            self.desc_w = self.out.desc.fileno()
            self.free_r = self.out.free.fileno()
            self.free_blocks = list(range(self.out.blocks))  # the sender's free list
        if self.inp is not None:
            mapped, whole, frames = self.inp.map()
            self._maps.append(mapped)
            self._views += [*frames, whole]
            self.in_whole, self.in_frames = whole, frames
            self.in_stride = block_bytes(self.inp.frame_bytes)
            self.in_frame_bytes = self.inp.frame_bytes
            self.desc_r = self.inp.desc.fileno()
            self.free_w = self.inp.free.fileno()
            self.held = -1  # the block the last recv returned (handed back by the next)

    def send(self, frame: Any) -> None:
        """Copy ``frame`` into a free block (waiting for one if none is) and describe it."""
        free = self.free_blocks
        if not free:
            self._await_free()
        block = free.pop()
        size = len(frame)
        if size == self.out_frame_bytes:
            self.out_frames[block][:] = frame
        elif size < self.out_frame_bytes:  # an end marker, or a truncated frame (faults)
            start = block * self.out_stride
            self.out_whole[start : start + size] = frame
        else:
            free.append(block)
            raise ValueError(f"frame of {size} bytes, blocks hold {self.out_frame_bytes}")
        seq = SEQ.unpack_from(frame)[0] if size >= SEQ_BYTES else 0
        os.write(self.desc_w, DESC.pack(block, size, seq))  # 16 B <= PIPE_BUF: atomic

    def _await_free(self) -> None:
        """Block until the receiver hands back blocks; take all it has handed back."""
        data = os.read(self.free_r, FREE.size * self.out_blocks)
        if not data:
            raise EOFError("shm_handoff: the receiver closed its free-block pipe")
        while len(data) % FREE.size:  # writes of 4 B are atomic: never, but be exact
            data += os.read(self.free_r, FREE.size - len(data) % FREE.size)
        self.free_blocks.extend(block for (block,) in FREE.iter_unpack(data))

    def recv(self) -> memoryview:
        """The next frame, in place in its block (valid until the next recv)."""
        if self.held >= 0:  # hand the last block back to the sender
            try:  # noqa: SIM105 (a with-block costs ~0.3 µs per message here)
                os.write(self.free_w, FREE.pack(self.held))  # 4 B <= PIPE_BUF: atomic
            except BrokenPipeError:  # the sender is gone and needs no blocks; what it
                pass  # wrote before it went is still read, as a Pipe's buffered messages are
            self.held = -1
        data = os.read(self.desc_r, DESC.size)
        if len(data) != DESC.size:
            data = self._rest_of_descriptor(data)
        block, size, _seq = DESC.unpack(data)
        self.held = block
        if size == self.in_frame_bytes:
            return self.in_frames[block]
        start = block * self.in_stride
        return self.in_whole[start : start + size]

    def _rest_of_descriptor(self, data: bytes) -> bytes:
        if not data:
            raise EOFError("shm_handoff: the sender closed its descriptor pipe")
        while len(data) < DESC.size:
            more = os.read(self.desc_r, DESC.size - len(data))
            if not more:
                raise EOFError("shm_handoff: the sender closed its descriptor pipe")
            data += more
        return data

    def ready_among(self, eps: list[Any]) -> list[Any]:
        """Those of ``eps`` with a descriptor waiting (the lookup is built on the first call,
        which gets them all)."""
        if self._by_fd is None:
            self._by_fd = {ep.desc_r: ep for ep in eps}
        by_fd = self._by_fd
        return [by_fd[fd] for fd in wait([ep.desc_r for ep in eps])]  # type: ignore[index]

    def close(self) -> None:
        """Unmap (if no view handed out is still alive; else when the last one goes) and
        close the fds of this side's copy of the lanes."""
        self.array = None
        for view in self._views:
            with contextlib.suppress(BufferError):  # exported (np.frombuffer): freed with it
                view.release()
        self._views.clear()
        for mapped in self._maps:
            with contextlib.suppress(BufferError):  # a returned frame is still referenced:
                mapped.close()  # unmapped when the last such view goes
        self._maps.clear()
        for side in (self.out, self.inp):
            if side is not None:
                side.close()


class ShmHandoffTransport(Transport):
    name = "shm_handoff"
    description = "SharedMemory block pool; a Pipe carries (block, length, seq); read in place"
    kernel_floor = None
    wire = "bytes"
    patterns: ClassVar[tuple[str, ...]] = ("pingpong", "stream", "fan")
    fan_mode = "pairs"

    @classmethod
    def payload_kinds(cls) -> tuple[str, ...]:
        """Frames of bytes, or of an ndarray's bytes: copied in, viewed out (``view_arrays``)."""
        return ("bytes", "ndarray")

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        frame_bytes = spec.frame_bytes
        up_send, up_recv = lane(frame_bytes)  # child -> parent
        arrays = spec.payload_kind == "ndarray"
        if not duplex:
            return Channel(
                parent=HandoffEnd(None, up_recv, arrays), child=HandoffEnd(up_send, None, arrays)
            )
        down_send, down_recv = lane(frame_bytes)  # parent -> child
        return Channel(
            parent=HandoffEnd(down_send, up_recv, arrays),
            child=HandoffEnd(up_send, down_recv, arrays),
        )
