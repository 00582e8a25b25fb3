"""Floor: in-process copy of the payload into a prefaulted buffer (no IPC)."""

from __future__ import annotations

from typing import Any

from ipcbench.measure.verify import SEQ_BYTES
from ipcbench.params import Case
from ipcbench.transports.base import Channel, Transport
from ipcbench.transports.inprocess import CopyEnd, crosswise


class MemcpyTransport(Transport):
    name = "memcpy"
    description = "floor: in-process copy into a prefaulted buffer (no IPC)"
    wire = "bytes"
    in_process = True
    floor = True

    def open(self, ctx: Any, case: Case, duplex: bool) -> Channel:
        frame_bytes = SEQ_BYTES + case.payload_bytes
        parent, child = crosswise(CopyEnd(frame_bytes), CopyEnd(frame_bytes))
        return Channel(parent=parent, child=child)
