"""multiprocessing.Pipe(): one duplex connection pair, send/recv (pickled)."""

from __future__ import annotations

from typing import Any, ClassVar

from ipcbench.transports.base import Channel, ChannelSpec, Transport
from ipcbench.transports.connection import ObjectConn


class PipeTransport(Transport):
    name = "pipe"
    description = "multiprocessing.Pipe() duplex, send/recv (pickled)"
    kernel_floor = "raw_socketpair"
    patterns: ClassVar[tuple[str, ...]] = ("pingpong", "stream", "fan", "rate")
    fan_mode = "pairs"
    endpoint = ObjectConn

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        a, b = ctx.Pipe(duplex=True)
        return Channel(parent=self.endpoint(a, a), child=self.endpoint(b, b))
