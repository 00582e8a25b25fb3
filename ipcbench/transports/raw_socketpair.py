"""Floor: socket.socketpair() carrying raw bytes (what Pipe() uses underneath on Unix)."""

from __future__ import annotations

import socket
from typing import Any

from ipcbench.transports.base import Channel, ChannelSpec
from ipcbench.transports.rawfd import RawFdTransport, SocketEnd


class RawSocketpairTransport(RawFdTransport):
    name = "raw_socketpair"
    description = "floor: socket.socketpair(), sendall/recv_into a preallocated buffer"

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        frame_bytes = spec.frame_bytes
        a, b = socket.socketpair()
        return Channel(parent=SocketEnd(a, a, frame_bytes), child=SocketEnd(b, b, frame_bytes))
