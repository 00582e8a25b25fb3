"""multiprocessing.JoinableQueue(maxsize): the receiver calls task_done() per item."""

from __future__ import annotations

from typing import Any

from ipcbench.params import Case
from ipcbench.transports.base import Channel, Transport
from ipcbench.transports.queues import queue_channel


class JoinableQueueTransport(Transport):
    name = "joinablequeue"
    description = "multiprocessing.JoinableQueue(maxsize), put/get + task_done()"
    patterns = ("pingpong", "stream", "fan", "taskqueue", "backpressure", "nowait", "lifecycle")
    ops = {"nowait": ("nowait", "blocking"), "lifecycle": ("close_join", "qsize", "empty", "full")}
    fan_mode = "shared"
    uses_maxsize = True

    def open(self, ctx: Any, case: Case, duplex: bool) -> Channel:
        make = lambda: ctx.JoinableQueue(case.maxsize or 0)  # noqa: E731
        parent, child = queue_channel(make, duplex, task_done=True)
        return Channel(parent=parent, child=child)
