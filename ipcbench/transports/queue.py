"""multiprocessing.Queue(maxsize): pickled by a feeder thread, put() returns before sending."""

from __future__ import annotations

import functools
from typing import Any, ClassVar

from ipcbench.transports.base import CALL_STYLES, Channel, ChannelSpec, Transport
from ipcbench.transports.queues import queue_channel


class QueueTransport(Transport):
    name = "queue"
    description = "multiprocessing.Queue(maxsize), put/get"
    kernel_floor = "raw_pipe"
    patterns = ("pingpong", "stream", "fan", "backpressure", "nowait", "lifecycle", "rate")
    ops = {"lifecycle": ("close_join", "qsize", "empty", "full")}
    fan_mode = "shared"
    calls = CALL_STYLES
    uses_maxsize = True
    starts_threads = True  # the feeder thread of put()
    task_done: ClassVar[bool] = False  # the receiver calls task_done() after every get()

    def new_queue(self, ctx: Any, maxsize: int) -> Any:
        return ctx.Queue(maxsize)

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        make = functools.partial(self.new_queue, ctx, spec.maxsize)
        parent, child = queue_channel(make, duplex, task_done=self.task_done, spec=spec)
        return Channel(parent=parent, child=child)
