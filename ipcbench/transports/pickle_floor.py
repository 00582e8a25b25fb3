"""Floor: in-process pickle.dumps + pickle.loads of each message (no IPC)."""

from __future__ import annotations

from typing import Any

from ipcbench.transports.base import Channel, ChannelSpec, Transport
from ipcbench.transports.inprocess import PickleEnd, crosswise


class PickleTransport(Transport):
    name = "pickle"
    description = "floor: in-process pickle.dumps + loads per message (no IPC)"
    kernel_floor = None
    in_process = True
    floor = True

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        parent, child = crosswise(PickleEnd(), PickleEnd())
        return Channel(parent=parent, child=child)
