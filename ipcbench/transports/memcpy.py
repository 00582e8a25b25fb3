"""Floor: in-process copy of the payload into a prefaulted buffer (no IPC)."""

from __future__ import annotations

from typing import Any

from ipcbench.transports.base import Channel, ChannelSpec, Transport
from ipcbench.transports.inprocess import CopyEnd, crosswise


class MemcpyTransport(Transport):
    name = "memcpy"
    description = "floor: in-process copy into a prefaulted buffer (no IPC)"
    kernel_floor = None
    wire = "bytes"
    in_process = True
    floor = True

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        frame_bytes = spec.frame_bytes
        parent, child = crosswise(CopyEnd(frame_bytes), CopyEnd(frame_bytes))
        return Channel(parent=parent, child=child)
