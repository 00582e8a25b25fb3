"""multiprocessing.SimpleQueue: a pipe plus locks, pickled in the calling thread, unbounded."""

from __future__ import annotations

from typing import Any

from ipcbench.transports.base import Channel, ChannelSpec, Transport
from ipcbench.transports.queues import queue_channel


class SimpleQueueTransport(Transport):
    name = "simplequeue"
    description = "multiprocessing.SimpleQueue, put/get"
    kernel_floor = "raw_pipe"
    patterns = ("pingpong", "stream", "fan", "lifecycle", "rate")
    ops = {"lifecycle": ("empty",)}
    fan_mode = "shared"

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        parent, child = queue_channel(ctx.SimpleQueue, duplex)
        return Channel(parent=parent, child=child)
