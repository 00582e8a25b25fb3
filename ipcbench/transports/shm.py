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
