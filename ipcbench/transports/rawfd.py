"""Endpoints over raw file descriptors: fixed-size frames, read into a preallocated buffer.

Both sides know the frame size of a case, so frames need no length prefix; a short or long
frame shows up as a wrong sequence number or checksum in the verifier.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from ipcbench.transports.base import Endpoint, Transport


class RawFdTransport(Transport):
    """Base of the raw fd floors: bytes frames of the spec's ``frame_bytes``, no pickling."""

    wire = "bytes"
    floor = True
    kernel_floor = None  # it is the floor


class RawFdEnd(Endpoint):
    """os.write/os.readv on pipe fds. The fds travel inside Connection objects, which
    multiprocessing duplicates into spawned children; ``in_child`` takes them back out."""

    whole_frames = True  # recv returns the whole receive buffer, always frame_bytes long

    def __init__(self, out_conn: Any, in_conn: Any, frame_bytes: int) -> None:
        self.out_conn = out_conn
        self.in_conn = in_conn
        self.frame_bytes = frame_bytes
        self._open()  # fds and buffer now: send/recv test nothing per message

    def __getstate__(self) -> dict[str, Any]:
        return {"out_conn": self.out_conn, "in_conn": self.in_conn, "frame_bytes": self.frame_bytes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def in_child(self) -> None:
        self._open()

    def _open(self) -> None:
        self.out_fd = self.out_conn.fileno() if self.out_conn is not None else -1
        self.in_fd = self.in_conn.fileno() if self.in_conn is not None else -1
        self.buf = bytearray(self.frame_bytes)
        self.view = memoryview(self.buf)
        self.whole = [self.view]

    def send(self, frame: Any) -> None:
        sent = os.write(self.out_fd, frame)  # one call, no view, unless the write was partial
        if sent < len(frame):
            view = memoryview(frame)
            while sent < len(view):
                sent += os.write(self.out_fd, view[sent:])

    def recv(self) -> memoryview:
        """The next frame, as a view of the internal buffer (valid until the next recv)."""
        got = os.readv(self.in_fd, self.whole)  # the whole buffer: no slice for a full read
        size = self.frame_bytes
        while got < size:
            n = os.readv(self.in_fd, [self.view[got:]])
            if n == 0:
                raise EOFError("peer closed the pipe")
            got += n
        return self.view

    def close(self) -> None:
        for conn in (self.out_conn, self.in_conn):
            if conn is not None and not conn.closed:
                conn.close()


class SocketEnd(RawFdEnd):
    """sendall/recv_into on one end of a socket.socketpair (socket objects pickle to children)."""

    def _open(self) -> None:
        super()._open()
        self.sock: socket.socket = self.out_conn if self.out_conn is not None else self.in_conn

    def send(self, frame: Any) -> None:
        self.sock.sendall(frame)

    def recv(self) -> memoryview:
        got = 0
        size = self.frame_bytes
        recv_into = self.sock.recv_into
        while got < size:
            n = recv_into(self.view[got:], size - got)
            if n == 0:
                raise EOFError("peer closed the socket")
            got += n
        return self.view

    def close(self) -> None:
        self.sock_close()

    def sock_close(self) -> None:
        for sock in (self.out_conn, self.in_conn):
            if sock is not None:
                sock.close()
