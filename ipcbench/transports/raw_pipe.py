"""Floor: os.pipe() carrying raw bytes, read into a preallocated buffer (no pickling)."""

from __future__ import annotations

import os
from multiprocessing.connection import Connection
from typing import Any

from ipcbench.transports.base import Channel, ChannelSpec
from ipcbench.transports.rawfd import RawFdEnd, RawFdTransport


def _pipe() -> tuple[Connection, Connection]:
    """An os.pipe() wrapped in Connections so multiprocessing can hand the fds to children."""
    r, w = os.pipe()
    return Connection(r, writable=False), Connection(w, readable=False)


class RawPipeTransport(RawFdTransport):
    name = "raw_pipe"
    description = "floor: os.pipe() (64 KiB kernel buffer), bytes into a preallocated buffer"

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        frame_bytes = spec.frame_bytes
        up_r, up_w = _pipe()
        if not duplex:
            return Channel(
                parent=RawFdEnd(None, up_r, frame_bytes), child=RawFdEnd(up_w, None, frame_bytes)
            )
        down_r, down_w = _pipe()
        return Channel(
            parent=RawFdEnd(down_w, up_r, frame_bytes), child=RawFdEnd(up_w, down_r, frame_bytes)
        )
