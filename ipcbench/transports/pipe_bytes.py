"""multiprocessing.Pipe() with send_bytes/recv_bytes (no pickling)."""

from __future__ import annotations

from ipcbench.transports.connection import BytesConn
from ipcbench.transports.pipe import PipeTransport


class PipeBytesTransport(PipeTransport):
    name = "pipe_bytes"
    description = "multiprocessing.Pipe() duplex, send_bytes/recv_bytes (no pickling)"
    wire = "bytes"
    patterns = ("pingpong", "stream", "fan")
    endpoint = BytesConn
