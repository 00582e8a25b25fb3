"""multiprocessing.Queue(maxsize): pickled by a feeder thread, put() returns before sending."""

from __future__ import annotations

from typing import Any

from ipcbench.params import Case
from ipcbench.transports.base import Channel, Transport
from ipcbench.transports.queues import queue_channel


class QueueTransport(Transport):
    name = "queue"
    description = "multiprocessing.Queue(maxsize), put/get"
    patterns = ("pingpong", "stream", "fan", "backpressure", "nowait", "lifecycle", "rate")
    ops = {"nowait": ("nowait", "blocking"), "lifecycle": ("close_join", "qsize", "empty", "full")}
    fan_mode = "shared"
    uses_maxsize = True

    def open(self, ctx: Any, case: Case, duplex: bool) -> Channel:
        parent, child = queue_channel(lambda: ctx.Queue(case.maxsize or 0), duplex)
        return Channel(parent=parent, child=child)
