"""Shared helpers of the shared-memory lanes: an unlinked segment shared by fd, and fd pipes.

The segment is a ``multiprocessing.shared_memory.SharedMemory`` unlinked as soon as it
exists (its name lives for a few µs in /dev/shm), so nothing survives a killed process and
the resource tracker has nothing to clean up; the processes share it through a file
descriptor (``SegmentFd``: inherited under fork, passed by multiprocessing while a spawn or
forkserver child starts). Children never attach by name (in 3.11 attaching registers the
name with the attaching process's tracker, CPython gh-82300). The same approach as
``shm_handoff`` (see its module docstring).
"""

from __future__ import annotations

import os
import secrets
from multiprocessing import reduction
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory
from typing import Any

from ipcbench.wire import SEQ_BYTES


class SegmentFd:
    """The fd of an unlinked segment, picklable into a starting child (like a Connection's)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_segment_fd, (reduction.DupFd(self.fd),))

    def dup(self) -> SegmentFd:
        return SegmentFd(os.dup(self.fd))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _rebuild_segment_fd(dup: Any) -> SegmentFd:
    return SegmentFd(dup.detach())


def fd_pipe(nonblocking_writer: bool = False) -> tuple[Connection, Connection]:
    """An os.pipe() in Connections (reader, writer), so multiprocessing hands the fds to
    children; ``nonblocking_writer``: writes never block (O_NONBLOCK on the write side's open
    file description, which its duplicates in children share)."""
    r, w = os.pipe()
    if nonblocking_writer:
        os.set_blocking(w, False)
    return Connection(r, writable=False), Connection(w, readable=False)


def create_segment(prefix: str, size_bytes: int, what: str) -> SegmentFd:
    """A new shared memory segment of ``size_bytes``, already unlinked: only its fd remains.

    Its pages are allocated now (``posix_fallocate``, outside any clock): a /dev/shm too small
    (Docker's default is 64 MiB) is an OSError naming ``what``, not a SIGBUS mid-copy."""
    shm = SharedMemory(f"{prefix}{os.getpid()}_{secrets.token_hex(4)}", True, size_bytes)
    try:
        fd = os.dup(shm._fd)  # type: ignore[attr-defined]  # no public accessor in 3.11
    finally:
        shm.close()
        shm.unlink()  # removes the name and unregisters it from the resource tracker
    try:
        os.posix_fallocate(fd, 0, size_bytes)
    except OSError as exc:
        os.close(fd)
        raise OSError(exc.errno, f"{what}: no room in /dev/shm for {size_bytes} bytes") from exc
    return SegmentFd(fd)


def view_arrays(end: Any, frame_bytes: int) -> None:
    """Make ``end.recv`` also view each frame's payload as the float64 array it carries
    (``np.frombuffer``, no copy), kept in ``end.array`` until the next recv: the "view out"
    a user's loop does with an ndarray payload, so it is inside the clock. A frame of another
    size (an end marker, a truncated frame) is passed on unviewed, for the checks to name."""
    from numpy import float64, frombuffer

    recv_frame = end.recv

    def recv() -> Any:
        frame = recv_frame()
        if len(frame) == frame_bytes:
            end.array = frombuffer(frame, float64, offset=SEQ_BYTES)
        return frame

    end.recv = recv
